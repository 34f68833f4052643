import { describe, expect, it } from 'vitest';
import type { FixedRateResult, WrkResult } from './load.js';
import { aimLines, fixedRateTables, maxThroughputTable, perHopTable, versusLines, type MaxSample, type RateSample, type ReportTarget, offRate, offRateMark } from './report.js';

const targets: ReportTarget[] = [
  { name: 'direct', path: 'load → backend' },
  { name: 'haproxy-http', path: 'load → HAProxy → backend' },
  { name: 'sidecar', path: 'load → sidecar → backend', reference: 'haproxy-http' },
];

function rate(round: number, target: string, p50Ms: number, proxyMicros: number): RateSample {
  const result = { measured: 1000, errors: 0, achievedRate: 1000, p50Ms, p90Ms: p50Ms, p99Ms: p50Ms * 2, maxMs: p50Ms * 3, completed: 1000, failedTotal: 0 } as FixedRateResult;
  return { round, target, rate: 1000, result, cpu: { proxy: proxyMicros, backend: 5000, loadGenerator: 50_000, others: 0, wallMs: 1000 }, loadAvg: 1 };
}
function max(round: number, target: string, perSecond: number): MaxSample {
  const result: WrkResult = { requests: perSecond, seconds: 1, perSecond, p50Ms: 1, p99Ms: 2, errors: 0, args: [] };
  return { round, target, result, cpu: { proxy: perSecond * 20, backend: 0, loadGenerator: 0, others: 0, wallMs: 1000 }, loadAvg: 1 };
}
const cells = (line: string) => line.split('|').slice(1, -1).map((c) => c.trim());

describe('report', () => {
  // round 1: direct 0.1, HAProxy 0.3 (adds 0.2), sidecar 0.5 (adds 0.4); round 2 the machine is twice as slow
  const samples = [rate(1, 'direct', 0.1, Number.NaN), rate(1, 'haproxy-http', 0.3, 30_000), rate(1, 'sidecar', 0.5, 60_000), rate(2, 'direct', 0.2, Number.NaN), rate(2, 'haproxy-http', 0.6, 60_000), rate(2, 'sidecar', 1.0, 120_000)];

  it('gives added latency against direct and ratios against the reference, per round', () => {
    const row = cells(fixedRateTables(targets, samples, [1000]).find((l) => l.startsWith('| sidecar'))!);
    // target, reference, achieved, p50, p99, added p50, added p99, added p50 ×, added p99 ×, CPU, CPU ×, backend, load gen, errors
    expect(row[1]).toBe('haproxy-http');
    expect(row[5]).toBe('0.600'); // median of 0.4 and 0.8
    expect(row[7]).toBe('2.00×');
    expect(row[9]).toBe('90.0');
    expect(row[10]).toBe('2.00×');
    expect(row[13]).toBe('0');
  });

  it('gives throughput against direct and the reference', () => {
    const maxes = [max(1, 'direct', 30_000), max(1, 'haproxy-http', 15_000), max(1, 'sidecar', 12_000)];
    const row = cells(maxThroughputTable(targets, maxes, 'wrk').find((l) => l.startsWith('| sidecar'))!);
    expect(row[3]).toBe('0.40×');
    expect(row[4]).toBe('0.80×');
  });

  it('estimates one sidecar hop as half the sidecar pair, and says so', () => {
    const pair: ReportTarget[] = [targets[0]!, { name: 'haproxy-http-2hops-mtls', path: '…' }, { name: 'sidecar-sidecar', path: '…', reference: 'haproxy-http-2hops-mtls' }];
    const pairSamples = [rate(1, 'direct', 0.1, Number.NaN), rate(1, 'haproxy-http-2hops-mtls', 0.5, 1), rate(1, 'sidecar-sidecar', 1.3, 1)];
    const lines = aimLines(pair, pairSamples, [], [1000]).join('\n');
    expect(lines).toContain('**sidecar-sidecar added p50 ÷ 2** (an estimate: a single meshfed hop cannot be measured alone): 1,000 req/s: 0.600 ms (NOT met)');
    expect(lines).toContain('haproxy-http-2hops-mtls added p50 ÷ 2: 1,000 req/s: 0.200 ms');
    expect(lines).toContain('ingress: not measured');
  });

  it('compares sidecar-sidecar with the naive Node proxy pair, per round, when both ran', () => {
    const pair: ReportTarget[] = [
      targets[0]!,
      { name: 'haproxy-http-2hops-mtls', path: '…' },
      { name: 'node-http-2hops-mtls', path: '…', reference: 'haproxy-http-2hops-mtls' },
      { name: 'sidecar-sidecar', path: '…', reference: 'haproxy-http-2hops-mtls' },
    ];
    // round 1: Node adds 0.4 ms for 100 µs/req, the sidecars 0.6 ms for 150; round 2 twice as slow: the ratios hold
    const pairSamples = [
      rate(1, 'direct', 0.1, Number.NaN), rate(1, 'node-http-2hops-mtls', 0.5, 100_000), rate(1, 'sidecar-sidecar', 0.7, 150_000),
      rate(2, 'direct', 0.2, Number.NaN), rate(2, 'node-http-2hops-mtls', 1.0, 200_000), rate(2, 'sidecar-sidecar', 1.4, 300_000),
    ];
    const maxes = [max(1, 'node-http-2hops-mtls', 10_000), max(1, 'sidecar-sidecar', 8_000)];
    const expected = '1,000 req/s: CPU 1.50×, added p50 1.50×; max: throughput 0.80×, CPU 1.00×';
    expect(versusLines('sidecar-sidecar', 'node-http-2hops-mtls', 'a naive Node proxy pair', pairSamples, maxes, [1000])).toEqual([
      `  - **sidecar-sidecar vs a naive Node proxy pair** (node-http-2hops-mtls: what Node's HTTP/TLS stack alone costs on the same hops; sidecar-sidecar ÷ node-http-2hops-mtls, per round): ${expected}`,
    ]);
    const lines = aimLines(pair, pairSamples, maxes, [1000]).join('\n');
    expect(lines).toContain(expected);
    expect(lines).toContain('node-http-2hops-mtls added p50 ÷ 2: 1,000 req/s: 0.300 ms'); // median of 0.2 and 0.4
    // either one missing: no comparison line
    expect(aimLines(pair.slice(0, 3), pairSamples, maxes, [1000]).join('\n')).not.toContain('vs a naive Node proxy pair');
    expect(versusLines('sidecar-sidecar', 'node-http-2hops-mtls', '…', [], [], [1000])).toEqual([]);
  });

  it('measures TLS targets against their own baseline, and checks the ingress aim', () => {
    const tls: ReportTarget[] = [
      { name: 'direct-tls', path: '…', isBaseline: true },
      { name: 'haproxy-tcp-tls', path: '…', baseline: 'direct-tls' },
      { name: 'ingress-tls', path: '…', reference: 'haproxy-tcp-tls', baseline: 'direct-tls' },
    ];
    const tlsSamples = [rate(1, 'direct-tls', 0.2, Number.NaN), rate(1, 'haproxy-tcp-tls', 0.3, 20_000), rate(1, 'ingress-tls', 0.5, 60_000)];
    const row = cells(fixedRateTables(tls, tlsSamples, [1000]).find((l) => l.startsWith('| ingress-tls'))!);
    expect(row[5]).toBe('0.300'); // 0.5 − 0.2
    expect(row[7]).toBe('3.00×'); // 0.3 ÷ 0.1
    const maxes = [max(1, 'direct-tls', 20_000), max(1, 'haproxy-tcp-tls', 10_000), max(1, 'ingress-tls', 9_000)];
    expect(cells(maxThroughputTable(tls, maxes, 'h2load').find((l) => l.startsWith('| ingress-tls'))!)[3]).toBe('0.45×');
    expect(aimLines(tls, tlsSamples, maxes, [1000]).join('\n')).toContain("the ingress passes ≥ 80 % of HAProxy's TCP throughput — **ingress-tls** vs haproxy-tcp-tls: 90 % (met)");
  });

  it('shows CPU per hop', () => {
    const s = rate(1, 'sidecar', 0.5, 60_000);
    s.cpu.hops = [{ role: 'client sidecar', micros: 35_000 }, { role: 'server sidecar', micros: 25_000 }];
    const lines = perHopTable(targets, [s], [], [1000]);
    expect(lines).toContain('| sidecar | 1,000 req/s | client sidecar 35.0 · server sidecar 25.0 | 60.0 |');
    expect(perHopTable(targets, [rate(1, 'haproxy-http', 0.3, 30_000)], [], [1000])).toEqual([]);
  });
});

describe('offRate', () => {
  it('flags a run below 95 % or above 105 % of its rate, and nothing between', () => {
    expect([offRate(940, 1000), offRate(950, 1000), offRate(1050, 1000), offRate(1060, 1000)]).toEqual(['below', undefined, undefined, 'above']);
    expect([offRateMark(900, 1000), offRateMark(1000, 1000), offRateMark(1260, 1000)]).toEqual([' ⚠', '', ' ↑']);
  });
});
