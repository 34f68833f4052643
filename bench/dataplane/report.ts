/**
 * The dataplane bench's tables (Markdown). Pure: samples in, lines out.
 *
 * Every ratio is taken per round (a target against `direct` or its HAProxy
 * reference measured in the same round, minutes apart at most) and the
 * median of those per-round values is shown; absolute values are medians over
 * rounds too. On 2 shared cores the machine's speed drifts between rounds,
 * and per-round ratios cancel most of that.
 */
import type { FixedRateResult, WrkResult } from './load.js';
import { median } from './load.js';

export interface Cpu {
  /** µs of CPU over the measured window, NaN when unknown */
  proxy: number;
  backend: number;
  loadGenerator: number;
  /** µs of CPU that other processes on the machine used meanwhile (machine busy − the bench's processes) */
  others: number;
  wallMs: number;
  /** µs of CPU of each of the proxy's processes (front to back), when the target names them */
  hops?: Array<{ role: string; micros: number }>;
}

export interface RateSample {
  round: number;
  target: string;
  rate: number;
  result: FixedRateResult;
  cpu: Cpu;
  loadAvg: number;
}

export interface MaxSample {
  round: number;
  target: string;
  result: WrkResult;
  cpu: Cpu;
  loadAvg: number;
}

export interface ReportTarget {
  name: string;
  path: string;
  reference?: string;
  /** What its added latency and "× direct" are against; default `direct`. */
  baseline?: string;
  /** It is itself a baseline (`direct`, `direct-tls`): nothing is added to or divided by. */
  isBaseline?: boolean;
}

/** The target `t` is compared with for added latency; undefined for a baseline. */
const baselineOf = (t: ReportTarget): string | undefined => (t.isBaseline || t.name === 'direct' ? undefined : (t.baseline ?? 'direct'));

/**
 * How far an open-loop run missed its rate: `below` 95 % (the proxy or the
 * machine did not keep up), or `above` 105 % (h2load fell behind during the
 * warm-up and caught up in the measured seconds, in bursts). Pure.
 */
export function offRate(achieved: number, rate: number): 'below' | 'above' | undefined {
  if (achieved < rate * 0.95) return 'below';
  if (achieved > rate * 1.05) return 'above';
  return undefined;
}

/** The mark the tables put after an achieved rate that missed. */
export function offRateMark(achieved: number, rate: number): string {
  const off = offRate(achieved, rate);
  return off === 'below' ? ' ⚠' : off === 'above' ? ' ↑' : '';
}

export function fmt(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return '—';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
const ratio = (value: number) => (Number.isFinite(value) ? `${fmt(value, 2)}×` : '—');
const perReq = (micros: number, requests: number) => (requests > 0 ? micros / requests : Number.NaN);

/** Median over rounds of f(sample of `target`, sample of `other` in the same round). */
function perRound<S extends { round: number; target: string }>(samples: S[], target: string, other: string | undefined, f: (a: S, b: S) => number): number {
  if (!other) return Number.NaN;
  const values: number[] = [];
  for (const a of samples.filter((s) => s.target === target)) {
    const b = samples.find((s) => s.target === other && s.round === a.round);
    if (b) values.push(f(a, b));
  }
  return median(values);
}

/** Median over rounds of (target − baseline) ÷ (other − baseline), each measured in the same round: "added latency × other". */
function addedRatioPerRound<S extends { round: number; target: string }>(samples: S[], target: string, other: string | undefined, baseline: string | undefined, f: (s: S) => number): number {
  return perRound(samples, target, other, (a, b) => {
    const d = samples.find((s) => s.target === baseline && s.round === a.round);
    return d ? (f(a) - f(d)) / (f(b) - f(d)) : Number.NaN;
  });
}

const rateProxyCpu = (s: RateSample) => perReq(s.cpu.proxy, s.result.completed);
const rateBackendCpu = (s: RateSample) => perReq(s.cpu.backend, s.result.completed);
const rateLoadCpu = (s: RateSample) => perReq(s.cpu.loadGenerator, s.result.completed);
const maxProxyCpu = (s: MaxSample) => perReq(s.cpu.proxy, s.result.requests);
const maxBackendCpu = (s: MaxSample) => perReq(s.cpu.backend, s.result.requests);
const maxLoadCpu = (s: MaxSample) => perReq(s.cpu.loadGenerator, s.result.requests);

/** One table per fixed rate: medians over rounds, added latency and ratios per round. */
export function fixedRateTables(targets: ReportTarget[], samples: RateSample[], rates: number[]): string[] {
  const out: string[] = [];
  for (const rate of rates) {
    const at = samples.filter((s) => s.rate === rate);
    if (!at.length) continue;
    out.push(
      '',
      `**${fmt(rate)} req/s, fixed rate (h2load, open loop)** — medians over rounds; "added" = target − direct (TLS targets: − direct-tls) in the same round; "× HAProxy" = target ÷ its HAProxy reference in the same round`,
      '',
      '| target | HAProxy reference | achieved req/s | p50 ms | p99 ms | added p50 ms | added p99 ms | added p50 × HAProxy | added p99 × HAProxy | proxy CPU µs/req | CPU × HAProxy | backend CPU µs/req | load gen CPU µs/req | errors |',
      '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const t of targets) {
      const mine = at.filter((s) => s.target === t.name);
      if (!mine.length) continue;
      const m = (f: (s: RateSample) => number) => median(mine.map(f));
      const baseline = baselineOf(t);
      const added = (f: (s: RateSample) => number) => perRound(at, t.name, baseline, (a, b) => f(a) - f(b));
      const addedRatio = (f: (s: RateSample) => number) => addedRatioPerRound(at, t.name, t.reference, baseline, f);
      const isDirect = baseline === undefined;
      out.push(
        `| ${t.name} | ${t.reference ?? '—'} | ${fmt(m((s) => s.result.achievedRate))}${offRateMark(m((s) => s.result.achievedRate), rate)} | ${fmt(m((s) => s.result.p50Ms), 3)} | ${fmt(m((s) => s.result.p99Ms), 3)} | ` +
          `${isDirect ? '—' : fmt(added((s) => s.result.p50Ms), 3)} | ${isDirect ? '—' : fmt(added((s) => s.result.p99Ms), 3)} | ` +
          `${ratio(addedRatio((s) => s.result.p50Ms))} | ${ratio(addedRatio((s) => s.result.p99Ms))} | ` +
          `${isDirect ? '—' : fmt(m(rateProxyCpu), 1)} | ${ratio(perRound(at, t.name, t.reference, (a, b) => rateProxyCpu(a) / rateProxyCpu(b)))} | ` +
          `${fmt(m(rateBackendCpu), 1)} | ${fmt(m(rateLoadCpu), 1)} | ${mine.reduce((n, s) => n + s.result.errors, 0)} |`,
      );
    }
    if (at.some((s) => offRate(s.result.achievedRate, rate) === 'below')) {
      out.push('', `⚠ (here or in "Every round"): below 95 % of ${fmt(rate)} req/s. The proxy or the machine did not keep up; each connection then sends late, so latency counts from when h2load could send (coordinated omission): the real delay is worse.`);
    }
    if (at.some((s) => offRate(s.result.achievedRate, rate) === 'above')) {
      out.push('', `↑ (here or in "Every round"): above 105 % of ${fmt(rate)} req/s. h2load fell behind during the warm-up and caught up in the measured seconds, sending in bursts: that run's latencies include the bursts' queueing.`);
    }
  }
  return out;
}

export function maxThroughputTable(targets: ReportTarget[], samples: MaxSample[], describeLoad: string): string[] {
  if (!samples.length) return [];
  const out = [
    '',
    `**Maximum throughput (${describeLoad}, closed loop)** — medians over rounds; "× direct" (TLS targets: × direct-tls) and "× HAProxy" per round`,
    '',
    '| target | HAProxy reference | req/s | × direct | × HAProxy | p50 ms | p99 ms | proxy CPU µs/req | CPU × HAProxy | backend CPU µs/req | load gen CPU µs/req | cores busy: proxy / backend / load gen | errors |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const t of targets) {
    const mine = samples.filter((s) => s.target === t.name);
    if (!mine.length) continue;
    const m = (f: (s: MaxSample) => number) => median(mine.map(f));
    const baseline = baselineOf(t);
    const isDirect = baseline === undefined;
    out.push(
      `| ${t.name} | ${t.reference ?? '—'} | ${fmt(m((s) => s.result.perSecond))} | ${isDirect ? '—' : ratio(perRound(samples, t.name, baseline, (a, b) => a.result.perSecond / b.result.perSecond))} | ` +
        `${ratio(perRound(samples, t.name, t.reference, (a, b) => a.result.perSecond / b.result.perSecond))} | ${fmt(m((s) => s.result.p50Ms), 3)} | ${fmt(m((s) => s.result.p99Ms), 3)} | ` +
        `${isDirect ? '—' : fmt(m(maxProxyCpu), 1)} | ${ratio(perRound(samples, t.name, t.reference, (a, b) => maxProxyCpu(a) / maxProxyCpu(b)))} | ` +
        `${fmt(m(maxBackendCpu), 1)} | ${fmt(m(maxLoadCpu), 1)} | ` +
        `${[(s: MaxSample) => s.cpu.proxy, (s: MaxSample) => s.cpu.backend, (s: MaxSample) => s.cpu.loadGenerator].map((f) => fmt(m((s) => f(s) / 1000 / s.cpu.wallMs), 2)).join(' / ')} | ${mine.reduce((n, s) => n + s.result.errors, 0)} |`,
    );
  }
  return out;
}

/** Cores that other processes kept busy during a run: a round where this is high measured a shared machine. */
export const othersCores = (cpu: Cpu) => cpu.others / 1000 / cpu.wallMs;

/** Every measurement, unaggregated, so the spread between rounds is visible. */
export function everyRoundTable(rateSamples: RateSample[], maxSamples: MaxSample[]): string[] {
  const out = [
    '',
    '**Every round**  (other processes, cores: what the rest of the machine used meanwhile, from /proc/stat; over ~0.1 the round shared its 2 cores)',
    '',
    '| load | round | target | req/s | p50 ms | p99 ms | max ms | proxy CPU µs/req | backend CPU µs/req | load gen CPU µs/req | errors | other processes, cores | load avg 1m |',
    '|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const sorted = [...rateSamples].sort((a, b) => a.rate - b.rate || a.round - b.round);
  for (const s of sorted) {
    const r = s.result;
    out.push(
      `| ${fmt(s.rate)} req/s | ${s.round} | ${s.target} | ${fmt(r.achievedRate)}${offRateMark(r.achievedRate, s.rate)} | ${fmt(r.p50Ms, 3)} | ${fmt(r.p99Ms, 3)} | ${fmt(r.maxMs, 2)} | ${fmt(rateProxyCpu(s), 1)} | ${fmt(rateBackendCpu(s), 1)} | ${fmt(rateLoadCpu(s), 1)} | ${r.errors} | ${fmt(othersCores(s.cpu), 2)} | ${fmt(s.loadAvg, 2)} |`,
    );
  }
  for (const s of [...maxSamples].sort((a, b) => a.round - b.round)) {
    const r = s.result;
    out.push(`| max | ${s.round} | ${s.target} | ${fmt(r.perSecond)} | ${fmt(r.p50Ms, 3)} | ${fmt(r.p99Ms, 3)} | — | ${fmt(maxProxyCpu(s), 1)} | ${fmt(maxBackendCpu(s), 1)} | ${fmt(maxLoadCpu(s), 1)} | ${r.errors} | ${fmt(othersCores(s.cpu), 2)} | ${fmt(s.loadAvg, 2)} |`);
  }
  return out;
}

/**
 * CPU µs/req of each process of a chain, apart (client sidecar, ingress,
 * server sidecar; HAProxy hop by hop): medians over rounds, per load.
 */
export function perHopTable(targets: ReportTarget[], rateSamples: RateSample[], maxSamples: MaxSample[], rates: number[]): string[] {
  const rows: string[] = [];
  const hopCells = (samples: Array<{ cpu: Cpu; requests: number }>) => {
    const roles = samples[0]?.cpu.hops?.map((h) => h.role) ?? [];
    return roles.map((role, i) => `${role} ${fmt(median(samples.map((s) => perReq(s.cpu.hops?.[i]?.micros ?? Number.NaN, s.requests))), 1)}`).join(' · ');
  };
  for (const t of targets) {
    const loads: Array<[string, Array<{ cpu: Cpu; requests: number }>]> = [
      ...rates.map((rate): [string, Array<{ cpu: Cpu; requests: number }>] => [`${fmt(rate)} req/s`, rateSamples.filter((s) => s.target === t.name && s.rate === rate).map((s) => ({ cpu: s.cpu, requests: s.result.completed }))]),
      ['max', maxSamples.filter((s) => s.target === t.name).map((s) => ({ cpu: s.cpu, requests: s.result.requests }))],
    ];
    for (const [load, samples] of loads) {
      if (!samples.length || !(samples[0]!.cpu.hops?.length ?? 0)) continue;
      rows.push(`| ${t.name} | ${load} | ${hopCells(samples)} | ${fmt(median(samples.map((s) => perReq(s.cpu.proxy, s.requests))), 1)} |`);
    }
  }
  if (!rows.length) return [];
  return ['', '**Proxy CPU per hop (µs/req)** — each process of the chain apart, front to back; medians over rounds', '', '| target | load | per hop | all hops |', '|---|---|---|---:|', ...rows];
}

/** The naive Node.js proxy pair on sidecar-sidecar's path (./node-targets.ts): what Node's HTTP and TLS stack costs without meshfed. */
export const NAIVE_NODE_PAIR = 'node-http-2hops-mtls';

/**
 * `target` against `other` (not its HAProxy reference), per round as every
 * ratio here: proxy CPU × and added p50 × at each rate, throughput × and CPU ×
 * at max. One line, indented under the aims; loads where either is missing
 * are left out.
 */
export function versusLines(target: string, other: string, otherWhat: string, rateSamples: RateSample[], maxSamples: MaxSample[], rates: number[]): string[] {
  const parts: string[] = [];
  for (const rate of rates) {
    const at = rateSamples.filter((s) => s.rate === rate);
    const cpu = perRound(at, target, other, (a, b) => rateProxyCpu(a) / rateProxyCpu(b));
    const p50 = addedRatioPerRound(at, target, other, 'direct', (s) => s.result.p50Ms);
    if (Number.isFinite(cpu) || Number.isFinite(p50)) parts.push(`${fmt(rate)} req/s: CPU ${ratio(cpu)}, added p50 ${ratio(p50)}`);
  }
  const throughput = perRound(maxSamples, target, other, (a, b) => a.result.perSecond / b.result.perSecond);
  const maxCpu = perRound(maxSamples, target, other, (a, b) => maxProxyCpu(a) / maxProxyCpu(b));
  if (Number.isFinite(throughput) || Number.isFinite(maxCpu)) parts.push(`max: throughput ${ratio(throughput)}, CPU ${ratio(maxCpu)}`);
  if (!parts.length) return [];
  return [`  - **${target} vs ${otherWhat}** (${other}: what Node's HTTP/TLS stack alone costs on the same hops; ${target} ÷ ${other}, per round): ${parts.join('; ')}`];
}

/** The aims, against whatever of them was measured. */
export function aimLines(targets: ReportTarget[], rateSamples: RateSample[], maxSamples: MaxSample[], rates: number[]): string[] {
  const out = ['', '**Aims**', ''];
  const has = (name: string) => targets.some((t) => t.name === name);
  const addedP50 = (name: string, rate: number) =>
    perRound(
      rateSamples.filter((s) => s.rate === rate),
      name,
      'direct',
      (a, b) => a.result.p50Ms - b.result.p50Ms,
    );
  const perRate = (value: (rate: number) => number, check: boolean) =>
    rates
      .map((rate) => {
        const v = value(rate);
        return `${fmt(rate)} req/s: ${fmt(v, 3)} ms ${check && Number.isFinite(v) ? (v < 0.5 ? '(met)' : '(NOT met)') : ''}`.trim();
      })
      .join('; ');
  // A meshfed hop cannot be measured alone (see meshfed-targets.ts): one hop = half of the sidecar pair, an estimate.
  if (has('sidecar-sidecar')) {
    out.push(`- a sidecar hop adds under 0.5 ms at p50 — **sidecar-sidecar added p50 ÷ 2** (an estimate: a single meshfed hop cannot be measured alone): ${perRate((r) => addedP50('sidecar-sidecar', r) / 2, true)}`);
  } else {
    out.push('- sidecar hop: not measured (sidecar-sidecar not selected)');
  }
  if (has('haproxy-http-2hops-mtls')) out.push(`  - reference, the same estimate — haproxy-http-2hops-mtls added p50 ÷ 2: ${perRate((r) => addedP50('haproxy-http-2hops-mtls', r) / 2, false)}`);
  if (has('haproxy-http')) out.push(`  - reference, one hop measured — haproxy-http added p50: ${perRate((r) => addedP50('haproxy-http', r), false)}`);
  if (has(NAIVE_NODE_PAIR)) out.push(`  - floor of Node's own HTTP/TLS stack, the same estimate — ${NAIVE_NODE_PAIR} added p50 ÷ 2: ${perRate((r) => addedP50(NAIVE_NODE_PAIR, r) / 2, false)}`);
  if (has('sidecar-sidecar') && has(NAIVE_NODE_PAIR)) out.push(...versusLines('sidecar-sidecar', NAIVE_NODE_PAIR, 'a naive Node proxy pair', rateSamples, maxSamples, rates));
  const throughput = (t: ReportTarget) => perRound(maxSamples, t.name, t.reference, (a, b) => a.result.perSecond / b.result.perSecond);
  const ingress = targets.filter((t) => t.name.includes('ingress') && t.reference);
  for (const t of ingress) {
    const v = throughput(t);
    const aim = t.name === 'ingress-tls';
    const what = aim ? "the ingress passes ≥ 80 % of HAProxy's TCP throughput" : 'for information, the whole cross-zone path against HAProxy doing the same hops';
    out.push(`- ${what} — **${t.name}** vs ${t.reference}: ${fmt(v * 100)} % ${aim && Number.isFinite(v) ? (v >= 0.8 ? '(met)' : '(NOT met)') : ''}`.trimEnd());
  }
  if (!ingress.length) out.push('- ingress: not measured (ingress-tls not selected)');
  return out;
}
