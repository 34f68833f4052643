/**
 * Dataplane benchmark: what a proxy hop costs, against HAProxy doing the same hop.
 *
 *   npx tsx bench/dataplane/run.ts [--targets all] [--rates 1000,5000] [--duration 10] [--warmup 2]
 *                                  [--rounds 3] [--max-duration 10] [--backend haproxy|node] …
 *
 * Starts a backend (HAProxy answering 200 "ok" by itself, or node:http) and
 * every target (./targets.ts: direct, HAProxy hops, a naive Node.js proxy
 * pair from ./node-targets.ts, meshfed gateways from ./meshfed-targets.ts) on
 * loopback, checks each with one GET, then per round,
 * targets interleaved (the order rotates each round):
 *
 *   - per rate: h2load at that fixed rate (open loop, HTTP/1.1 keep-alive),
 *     p50/p99 of the requests after the warm-up;
 *   - wrk closed loop (`-t1 -c64`): maximum throughput;
 *
 * and for each, the CPU time of the proxy's processes, of the backend and of
 * the load generator (/proc utime+stime, ./proc.ts) per request.
 *
 * Tables (stdout, Markdown): medians over rounds, latency added over `direct`
 * (`direct-tls` for the TLS targets) and ratios against each target's HAProxy
 * reference, taken per round; CPU per hop; the aims. `--profile <dir>` runs
 * the gateways under `node --cpu-prof` and adds their hot spots (./profile.ts).
 * Progress goes to stderr. Needs `haproxy`, `h2load` and `wrk` (Debian:
 * `apt-get install -y haproxy nghttp2-client wrk`); not run in CI.
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { BACKEND_BODY, BACKEND_KINDS, startBackend, type Backend, type BackendKind } from './backend.js';
import { getOnce } from './http-check.js';
import { h2loadArgs, h2loadMaxArgs, maxLoadTool, planFixedRate, runFixedRate, runMaxThroughput, wrkArgs } from './load.js';
import { DROPPED_TARGETS, NOT_WIRED } from './meshfed-targets.js';
import { machineBusyMicros, processesCpuMicros, reapedChildrenCpuMicros } from './proc.js';
import { killAllNow, runningPids } from './processes.js';
import { profileReport } from './profile.js';
import { aimLines, everyRoundTable, fixedRateTables, fmt, maxThroughputTable, offRate, othersCores, perHopTable, type Cpu, type MaxSample, type RateSample, type ReportTarget } from './report.js';
import { ALL_TARGETS, SharedResources, startTarget, type Target, type TargetSpec } from './targets.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

// ---------------------------------------------------------------- options

function wholeNumber(min: number) {
  return (text: string): number => {
    const n = Number(text);
    if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`must be a whole number of at least ${min}`);
    return n;
  };
}
const list = <T>(parse: (s: string) => T) => (text: string): T[] => text.split(',').map((s) => parse(s.trim()));

const program = new Command('bench/dataplane/run.ts')
  .description(
    'Latency added by a proxy hop at fixed rates (p50/p99, h2load open loop) and maximum throughput (wrk; h2load closed loop for https targets), with CPU µs per request, ' +
      'for direct, HAProxy hops, a naive Node.js proxy pair (node-http-2hops-mtls: what Node\'s own HTTP/TLS stack costs on sidecar-sidecar\'s hops) and meshfed gateways; ' +
      'ratios against direct and against HAProxy doing the same hop, measured in the same run. ' +
      'meshfed targets start a mesh (redis-server, nats-server, control planes in this process, gateways as processes). ' +
      `There is no "sidecar" target: ${DROPPED_TARGETS.sidecar} ` +
      'Needs haproxy, h2load and wrk (apt-get install -y haproxy nghttp2-client wrk), and for meshfed targets redis-server and nats-server',
  )
  .option('--targets <list>', `comma-separated, or "all": ${ALL_TARGETS.map((t) => t.name).join(', ')} (direct, and each target's HAProxy reference and baseline, are added when missing)`, 'all')
  .option('--rates <list>', 'fixed rates in req/s, comma-separated', list(wholeNumber(1)), [1000, 5000])
  .option('--duration <s>', 'measured seconds per fixed-rate run', wholeNumber(1), 10)
  .option('--warmup <s>', 'seconds at the rate before measuring (cut from the per-request log)', wholeNumber(0), 2)
  .option('--rps-per-connection <n>', 'h2load connections = rate / this (each sends every 1/n s)', wholeNumber(1), 50)
  .option('--max-duration <s>', 'seconds of the wrk run (0: no max-throughput run)', wholeNumber(0), 10)
  .option('--max-connections <n>', 'wrk -c', wholeNumber(1), 64)
  .option('--max-threads <n>', 'wrk -t', wholeNumber(1), 1)
  .option('--rounds <n>', 'measure every target this many times, interleaved', wholeNumber(1), 3)
  .option('--backend <kind>', `${BACKEND_KINDS.join(' | ')}: HAProxy answering by itself (≈ free), or node:http`, (v: string) => {
    if (!(BACKEND_KINDS as readonly string[]).includes(v)) throw new InvalidArgumentError(`one of ${BACKEND_KINDS.join(', ')}`);
    return v as BackendKind;
  }, 'haproxy' as BackendKind)
  .option('--max-seconds <n>', 'stop measuring after this long (the run then fails)', wholeNumber(1), 3600)
  .option('--profile <dir>', 'run the meshfed gateways under node --cpu-prof, profiles kept in <dir>, and report their hot spots (inflates their CPU figures)')
  .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2))
  .parse();

interface Flags {
  targets: string;
  rates: number[];
  duration: number;
  warmup: number;
  rpsPerConnection: number;
  maxDuration: number;
  maxConnections: number;
  maxThreads: number;
  rounds: number;
  backend: BackendKind;
  maxSeconds: number;
  profile?: string;
}
const flags = program.opts<Flags>();

const started = Date.now();
const log = (message: string) => console.error(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s] ${message}`);

function selectTargets(text: string): TargetSpec[] {
  const byName = new Map(ALL_TARGETS.map((t) => [t.name, t]));
  const wanted = new Set(text === 'all' ? ALL_TARGETS.map((t) => t.name) : text.split(',').map((s) => s.trim()).filter(Boolean));
  for (const name of wanted) {
    if (DROPPED_TARGETS[name]) {
      console.error(`--targets: there is no "${name}" target: ${DROPPED_TARGETS[name]}`);
      process.exit(2);
    }
    if (!byName.has(name)) {
      console.error(`--targets: unknown target "${name}" (known: ${[...byName.keys()].join(', ')})`);
      process.exit(2);
    }
  }
  for (const name of [...wanted]) {
    const { reference, baseline } = byName.get(name)!;
    if (reference && !wanted.has(reference)) {
      log(`adding ${reference}: the HAProxy reference of ${name}`);
      wanted.add(reference);
    }
    const baselineOfReference = reference ? byName.get(reference)?.baseline : undefined;
    for (const b of [baseline, baselineOfReference]) {
      if (b && !wanted.has(b)) {
        log(`adding ${b}: ${name}'s added latency is measured against it`);
        wanted.add(b);
      }
    }
  }
  if (!wanted.has('direct')) {
    log('adding direct: added latency is measured against it');
    wanted.add('direct');
  }
  return ALL_TARGETS.filter((t) => wanted.has(t.name));
}

// ---------------------------------------------------------------- environment

function toolVersion(command: string, args: string[]): string {
  try {
    const out = execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return out.trim().split('\n')[0]!.trim();
  } catch (error) {
    const e = error as Error & { stdout?: string; code?: string };
    if (e.code === 'ENOENT') return '';
    return (e.stdout ?? '').trim().split('\n')[0]?.trim() ?? '';
  }
}

function gitCommit(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8' }).trim();
    return dirty ? `${head} (+ uncommitted changes)` : head;
  } catch {
    return 'unknown';
  }
}

// ---------------------------------------------------------------- lifecycle

let interrupted = false;
/** The temp dir while it exists: removed by the teardown, or by the exit handler when the teardown did not run. */
let tempRoot: string | undefined;
process.once('exit', () => {
  killAllNow();
  if (tempRoot) rmSync(tempRoot, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) {
      const pids = killAllNow();
      console.error(`${signal} again: killed ${pids.length ? `pids ${pids.join(', ')}` : 'nothing'}; exiting`);
      process.exit(130);
    }
    interrupted = true;
    console.error(`${signal}: stopping after the measurement in progress (again to kill everything now)`);
  });
}

const via = (target: Target) => (target.connectTo ? ` via ${target.connectTo.host}:${target.connectTo.port}` : '');

/** One GET through the target: 200 and the backend's body, or it is mis-wired. */
async function smokeCheck(target: Target): Promise<void> {
  const { status, body } = await getOnce(target.url, target.connectTo).catch((e: Error) => {
    throw new Error(`${target.name}: GET ${target.url}${via(target)}: ${e.message}`);
  });
  if (status !== 200 || body !== BACKEND_BODY) throw new Error(`${target.name}: GET ${target.url}${via(target)}: HTTP ${status} "${body.slice(0, 100)}", expected 200 "${BACKEND_BODY}"`);
}

async function measured<T>(target: Target, backend: Backend, run: () => Promise<T>): Promise<{ value: T; cpu: Cpu }> {
  const backendPids = target.backendPids?.() ?? backend.pids();
  const hops = target.hops();
  const hops0 = hops.map((h) => processesCpuMicros([h.pid]));
  const proxy0 = processesCpuMicros(target.pids());
  const backend0 = processesCpuMicros(backendPids);
  const load0 = reapedChildrenCpuMicros();
  const machine0 = machineBusyMicros();
  const own0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const value = await run();
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const own = process.cpuUsage(own0);
  const proxy = target.pids().length ? processesCpuMicros(target.pids()) - proxy0 : Number.NaN;
  const backendCpu = processesCpuMicros(backendPids) - backend0;
  const loadGenerator = reapedChildrenCpuMicros() - load0;
  const ours = (Number.isNaN(proxy) ? 0 : proxy) + backendCpu + loadGenerator + own.user + own.system;
  const cpu: Cpu = {
    proxy,
    backend: backendCpu,
    loadGenerator,
    others: Math.max(0, machineBusyMicros() - machine0 - ours),
    wallMs,
    ...(hops.length ? { hops: hops.map((h, i) => ({ role: h.role, micros: processesCpuMicros([h.pid]) - hops0[i]! })) } : {}),
  };
  return { value, cpu };
}

// ---------------------------------------------------------------- main

async function main(): Promise<number> {
  const specs = selectTargets(flags.targets);
  const versions = {
    haproxy: toolVersion('haproxy', ['-v']),
    h2load: toolVersion('h2load', ['--version']),
    wrk: toolVersion('wrk', ['-v']),
  };
  const missing = Object.entries(versions).filter(([, v]) => !v).map(([k]) => k);
  if (missing.length) {
    console.error(`missing on PATH: ${missing.join(', ')} — install with: apt-get install -y haproxy nghttp2-client wrk`);
    return 2;
  }
  const perTargetSeconds = flags.rates.length * (flags.warmup + flags.duration) + flags.maxDuration;
  log(`${specs.length} target(s), ${flags.rounds} round(s), rates ${flags.rates.join(', ')} req/s: about ${Math.ceil((flags.rounds * specs.length * perTargetSeconds) / 60)} min of load`);

  const root = await mkdtemp(join(tmpdir(), 'meshfed-bench-dataplane-'));
  tempRoot = root;
  const shared = new SharedResources(root);
  const running: Array<{ spec: TargetSpec; target: Target }> = [];
  const skipped: string[] = [];
  const rateSamples: RateSample[] = [];
  const maxSamples: MaxSample[] = [];
  const failures: string[] = [];
  let backend: Backend | undefined;
  const loadAtStart = loadavg()[0]!;
  const watchdog = setTimeout(() => {
    console.error(`watchdog: still running ${flags.maxSeconds + 120} s after start; killing every child and exiting`);
    killAllNow();
    process.exit(3);
  }, (flags.maxSeconds + 120) * 1000);
  watchdog.unref();
  const deadline = started + flags.maxSeconds * 1000;
  const stopNow = () => interrupted || Date.now() > deadline;

  try {
    backend = await startBackend(flags.backend, root);
    log(`backend: ${backend.description}, ${backend.url}, pid ${backend.pids().join(', ')}`);
    for (const spec of specs) {
      if (stopNow()) break;
      try {
        const target = await startTarget(spec, root, backend, shared, log, flags.profile);
        running.push({ spec, target });
        await smokeCheck(target);
        log(`${spec.name}: ${target.url} answers 200 "${BACKEND_BODY}"${target.pids().length ? `; proxy pid(s) ${target.pids().join(', ')}` : ''}`);
      } catch (error) {
        if ((error as Error).message === NOT_WIRED) {
          skipped.push(spec.name);
          log(`${spec.name}: skipped — ${NOT_WIRED} (bench/dataplane/meshfed-targets.ts)`);
          continue;
        }
        throw error;
      }
    }

    if (flags.profile) {
      // Profiles cover the measurements, not the start-up: each Node proxy's profiler starts now and stops when it exits.
      for (const { target } of running) target.startProfiling?.();
      log(`profiling the meshfed gateways from now until they stop; profiles in ${flags.profile}`);
    }
    for (let round = 1; round <= flags.rounds && !stopNow(); round++) {
      const order = running.map((_, i) => running[(i + round - 1) % running.length]!);
      log(`round ${round}/${flags.rounds}: ${order.map((r) => r.spec.name).join(', ')}`);
      for (const rate of flags.rates) {
        for (const { spec, target } of order) {
          if (stopNow()) break;
          const { value: result, cpu } = await measured(target, backend, () =>
            runFixedRate({ url: target.url, ...(target.connectTo ? { connectTo: target.connectTo } : {}), rate, seconds: flags.duration, warmupSeconds: flags.warmup, perConnection: flags.rpsPerConnection, logFile: join(root, `h2load-${spec.name}.log`) }),
          );
          const sample: RateSample = { round, target: spec.name, rate, result, cpu, loadAvg: loadavg()[0]! };
          rateSamples.push(sample);
          const off = offRate(result.achievedRate, rate);
          const errors = result.failedTotal;
          if (errors > 0) failures.push(`${spec.name} at ${rate} req/s, round ${round}: ${errors} failed request(s)`);
          log(
            `  ${fmt(rate)} req/s  ${spec.name.padEnd(26)} achieved ${fmt(result.achievedRate)}${off === 'below' ? ' (BELOW TARGET)' : off === 'above' ? ' (ABOVE TARGET: caught up after falling behind)' : ''}  p50 ${fmt(result.p50Ms, 3)} ms  p99 ${fmt(result.p99Ms, 3)} ms  ` +
              `proxy ${fmt(cpu.proxy / result.completed, 1)} µs/req  backend ${fmt(cpu.backend / result.completed, 1)}  load gen ${fmt(cpu.loadGenerator / result.completed, 1)}  others ${fmt(othersCores(cpu), 2)} cores${errors ? `  ${errors} ERRORS` : ''}`,
          );
        }
      }
      if (flags.maxDuration > 0) {
        for (const { spec, target } of order) {
          if (stopNow()) break;
          const { value: result, cpu } = await measured(target, backend, () =>
            runMaxThroughput({
              url: target.url,
              ...(target.connectTo ? { connectTo: target.connectTo } : {}),
              seconds: flags.maxDuration,
              connections: flags.maxConnections,
              threads: flags.maxThreads,
              logFile: join(root, `h2load-max-${spec.name}.log`),
            }),
          );
          maxSamples.push({ round, target: spec.name, result, cpu, loadAvg: loadavg()[0]! });
          if (result.errors > 0) failures.push(`${spec.name} max throughput, round ${round}: ${result.errors} error(s)`);
          log(
            `  max        ${spec.name.padEnd(26)} ${fmt(result.perSecond)} req/s  p50 ${fmt(result.p50Ms, 3)} ms  p99 ${fmt(result.p99Ms, 3)} ms  ` +
              `proxy ${fmt(cpu.proxy / result.requests, 1)} µs/req (${fmt(cpu.proxy / 1000 / cpu.wallMs, 2)} cores)  backend ${fmt(cpu.backend / result.requests, 1)}  load gen ${fmt(cpu.loadGenerator / result.requests, 1)}  others ${fmt(othersCores(cpu), 2)} cores${result.errors ? `  ${result.errors} ERRORS` : ''}`,
          );
        }
      }
    }
    if (!interrupted && Date.now() > deadline) failures.push(`--max-seconds ${flags.maxSeconds} reached before every round was done`);
  } catch (error) {
    failures.push(`bench failed: ${(error as Error).stack ?? String(error)}`);
  } finally {
    clearTimeout(watchdog);
    for (const { spec, target } of [...running].reverse()) await target.stop().catch((e: Error) => failures.push(`stopping ${spec.name}: ${e.message}`));
    failures.push(...(await shared.stopAll()));
    await backend?.stop().catch((e: Error) => failures.push(`stopping the backend: ${e.message}`));
    await rm(root, { recursive: true, force: true });
    tempRoot = undefined;
    const left = runningPids();
    if (left.length) failures.push(`still running after teardown: pids ${left.join(', ')}`);
    log(left.length ? 'teardown incomplete' : 'every process the bench started has exited; temp dir removed');
  }

  // ---------------------------------------------------------------- report (stdout)
  const reportTargets: ReportTarget[] = running.map(({ spec }) => ({
    name: spec.name,
    path: spec.path,
    ...(spec.reference ? { reference: spec.reference } : {}),
    ...(spec.baseline ? { baseline: spec.baseline } : {}),
    ...(spec.isBaseline ? { isBaseline: true } : {}),
  }));
  const anyHttps = running.some(({ target }) => maxLoadTool(target.url) === 'h2load');
  const maxLoad = { url: '<target url>', seconds: flags.maxDuration, connections: flags.maxConnections, threads: flags.maxThreads };
  const lines = [
    `Command: \`npx tsx bench/dataplane/run.ts ${process.argv.slice(2).join(' ')}\``.replace(/ `$/, '`'),
    '',
    `Commit ${gitCommit()}; ${new Date().toISOString()}; nproc ${cpus().length} (${cpus()[0]?.model ?? '?'}); node ${process.version}; ${versions.haproxy}; ${versions.h2load}; ${versions.wrk.replace(/ Copyright.*/, '')}; ` +
      `load average (1 min) ${fmt(loadAtStart, 2)} at start, ${fmt(loadavg()[0]!, 2)} at end.`,
    `Backend: ${backend?.description ?? flags.backend}. Fixed rate: h2load --h1, ${flags.rpsPerConnection} req/s per connection, connections opened evenly over one send interval, ` +
      `${flags.warmup} s warm-up + ${flags.duration} s measured per run. Max: wrk -t${flags.maxThreads} -c${flags.maxConnections} -d${flags.maxDuration}s. ${flags.rounds} round(s), targets interleaved, order rotated per round.`,
    '',
    ...flags.rates.map((rate) => `- ${fmt(rate)} req/s: \`LIBEV_FLAGS=1 h2load ${h2loadArgs(planFixedRate(rate, flags.rpsPerConnection, flags.warmup + flags.duration), '<target url>', '<log>').join(' ')}\``),
    ...(flags.maxDuration > 0 ? [`- max: \`wrk ${wrkArgs(maxLoad).join(' ')}\``] : []),
    ...(flags.maxDuration > 0 && anyHttps ? [`- max, https targets (wrk cannot connect to another address than the URL's host, the SNI): \`h2load ${h2loadMaxArgs(maxLoad, '<log>').join(' ')}\``] : []),
    '- targets requested by a mesh name (sidecars: Host `<service>.<namespace>.mesh:<port>`; TLS targets: SNI and Host `<port>.<service>.<namespace>.<tenant>.mesh`): h2load `--connect-to <address>`, wrk `-H Host:` with the address in its URL.',
    '',
    'CPU µs/req: /proc utime+stime delta of the process(es) over the run ÷ requests completed in it (warm-up included; 10 ms ticks).',
    '',
    '| target | path | HAProxy reference |',
    '|---|---|---|',
    ...reportTargets.map((t) => `| ${t.name} | ${t.path} | ${t.reference ?? '—'} |`),
    ...fixedRateTables(reportTargets, rateSamples, flags.rates),
    ...maxThroughputTable(reportTargets, maxSamples, `wrk -t${flags.maxThreads} -c${flags.maxConnections} -d${flags.maxDuration}s${anyHttps ? `; https targets: h2load --h1 -t${flags.maxThreads} -c${flags.maxConnections} -D ${flags.maxDuration}` : ''}`),
    ...perHopTable(reportTargets, rateSamples, maxSamples, flags.rates),
    ...aimLines(reportTargets, rateSamples, maxSamples, flags.rates),
    ...everyRoundTable(rateSamples, maxSamples),
    ...(flags.profile ? profileReport(flags.profile, ROOT) : []),
  ];
  if (skipped.length) lines.push('', `Not measured: ${skipped.join(', ')} — ${NOT_WIRED} (bench/dataplane/meshfed-targets.ts).`);
  console.log(lines.join('\n'));
  if (failures.length || interrupted) {
    console.error('');
    console.error(`FAIL${interrupted ? ' (interrupted)' : ''}:`);
    for (const f of failures) console.error(`  ${f}`);
    return interrupted ? 130 : 1;
  }
  return 0;
}

process.exitCode = await main();
