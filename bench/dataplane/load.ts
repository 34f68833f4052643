/**
 * The load generators and what is read from them.
 *
 * Fixed rate (open loop): h2load (Debian `nghttp2-client`) in HTTP/1.1 with
 * `--rps` per connection. Two things h2load does not do by itself:
 *
 * - Spread the connections' send times. Its per-connection rate timer starts
 *   when the connection does, and with `-D` every connection starts at once,
 *   so all of them send in the same millisecond (50 requests every 50 ms
 *   instead of one every ms). Here connections are opened at a fixed rate
 *   (`-r` per `--rate-period`) over exactly one send interval, which staggers
 *   them evenly; `-r` excludes `-D`, so the run is `-n` requests and the
 *   warm-up is cut from the per-request log afterwards.
 * - Percentiles. It prints min/max/mean/sd only; `--log-file` has one line per
 *   request (start µs since epoch, status, µs to end of response), from which
 *   p50/p90/p99 are computed here.
 *
 * `LIBEV_FLAGS=1` (select backend): with epoll, libev's ms timer resolution
 * makes requests leave in pairs.
 *
 * Latency is from when h2load sent the request: a connection whose previous
 * response is late sends its next request late (coordinated omission). With
 * the default 50 req/s per connection (20 ms apart) that only hides stalls
 * longer than 20 ms; the achieved rate shows it (below target).
 *
 * Maximum throughput: wrk (closed loop, `-t1 -c64` by default); for https
 * targets h2load closed loop (`-c64 -t1 -D`), since wrk connects to the
 * URL's host and sends it as SNI, and the TLS targets are requested by a
 * mesh name that does not resolve (h2load has `--connect-to`).
 *
 * A target requested by a name that does not resolve (`connectTo` set):
 * h2load gets `--connect-to host:port` and the name in its URL (Host
 * header, SNI); wrk gets the address in its URL and the name as `Host`.
 */
import { readFile, rm } from 'node:fs/promises';
import type { Address } from './haproxy.js';
import { runTool } from './processes.js';

// ---------------------------------------------------------------- stats

/** Nearest-rank percentile of an ascending array; NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil(p * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function median(values: number[]): number {
  const finite = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (finite.length === 0) return Number.NaN;
  const mid = finite.length >> 1;
  return finite.length % 2 ? finite[mid]! : (finite[mid - 1]! + finite[mid]!) / 2;
}

// ---------------------------------------------------------------- h2load, fixed rate

export interface FixedRatePlan {
  /** h2load -c */
  connections: number;
  /** h2load --rps: per connection */
  rpsPerConnection: number;
  /** h2load -r and --rate-period (ms): opens the connections over one send interval */
  connectionsPerPeriod: number;
  periodMs: number;
  /** h2load -n */
  requests: number;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/**
 * How to ask h2load for `rate` req/s spread evenly: ceil(rate / perConnection)
 * connections, opened `rate/1000` per ms (as a reduced fraction, since the
 * period is whole ms), for `seconds` in all.
 */
export function planFixedRate(rate: number, perConnection: number, seconds: number): FixedRatePlan {
  const connections = Math.max(1, Math.ceil(rate / perConnection));
  const g = gcd(rate, 1000);
  return {
    connections,
    rpsPerConnection: rate / connections,
    connectionsPerPeriod: rate / g,
    periodMs: 1000 / g,
    requests: Math.round(rate * seconds),
  };
}

export interface LoggedRequest {
  startUs: number;
  status: number;
  durationUs: number;
}

/** h2load `--log-file`: "start µs since epoch \t status \t µs to end of response" per line; status -1 for failed streams. */
export function parseH2loadLog(text: string): LoggedRequest[] {
  const out: LoggedRequest[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const [start, status, duration] = line.split('\t');
    out.push({ startUs: Number(start), status: Number(status), durationUs: Number(duration) });
  }
  return out;
}

export interface H2loadCounts {
  total: number;
  done: number;
  succeeded: number;
  failed: number;
  errored: number;
  timeout: number;
  status2xx: number;
}

/** The "requests:" and "status codes:" lines of h2load's summary. */
export function parseH2loadSummary(stdout: string): H2loadCounts | undefined {
  const r = /requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(stdout);
  const s = /status codes: (\d+) 2xx/.exec(stdout);
  if (!r || !s) return undefined;
  const n = (i: number) => Number(r[i]);
  return { total: n(1), done: n(2), succeeded: n(3), failed: n(4), errored: n(5), timeout: n(6), status2xx: Number(s[1]) };
}

export interface LatencySummary {
  /** requests that started after the warm-up */
  measured: number;
  /** of those, not 2xx (including failed streams) */
  errors: number;
  /** measured requests / (last start − first measured start) */
  achievedRate: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Latency of the requests that started `warmupSeconds` or more after the first one; failed requests count as errors, not in the percentiles. */
export function summarizeLatency(requests: LoggedRequest[], warmupSeconds: number): LatencySummary {
  const firstStart = requests.reduce((m, r) => Math.min(m, r.startUs), Number.POSITIVE_INFINITY);
  const from = firstStart + warmupSeconds * 1e6;
  const measured = requests.filter((r) => r.startUs >= from);
  const ok = measured.filter((r) => r.status >= 200 && r.status < 300);
  const durations = Float64Array.from(ok, (r) => r.durationUs / 1000).sort();
  const lastStart = measured.reduce((m, r) => Math.max(m, r.startUs), Number.NEGATIVE_INFINITY);
  const spanSeconds = (lastStart - from) / 1e6;
  return {
    measured: measured.length,
    errors: measured.length - ok.length,
    achievedRate: spanSeconds > 0 ? measured.length / spanSeconds : Number.NaN,
    p50Ms: percentile(durations, 0.5),
    p90Ms: percentile(durations, 0.9),
    p99Ms: percentile(durations, 0.99),
    maxMs: durations.length ? durations[durations.length - 1]! : Number.NaN,
  };
}

export interface FixedRateResult extends LatencySummary {
  plan: FixedRatePlan;
  /** every request h2load completed, warm-up included (what the CPU window saw) */
  completed: number;
  /** h2load's own summary (all requests, warm-up included) */
  counts: H2loadCounts | undefined;
  /** over the whole run, warm-up included: requests not answered 2xx, failed, or never completed */
  failedTotal: number;
  args: string[];
}

const connectToArgs = (connectTo: Address | undefined) => (connectTo ? ['--connect-to', `${connectTo.host}:${connectTo.port}`] : []);

/** The h2load command line of a plan (run with LIBEV_FLAGS=1). */
export function h2loadArgs(plan: FixedRatePlan, url: string, logFile: string, connectTo?: Address): string[] {
  return [
    '--h1',
    '-c', String(plan.connections),
    '--rps', String(plan.rpsPerConnection),
    '-r', String(plan.connectionsPerPeriod),
    '--rate-period', `${plan.periodMs}ms`,
    '-n', String(plan.requests),
    '-N', '10s', // a connection silent this long is dropped: a dead proxy does not hang the bench
    '--log-file', logFile,
    ...connectToArgs(connectTo),
    url,
  ];
}

export interface MaxLoadOptions {
  url: string;
  connectTo?: Address;
  seconds: number;
  connections: number;
  threads: number;
}

/** The wrk command line (http only). */
export function wrkArgs(options: MaxLoadOptions): string[] {
  const { url, connectTo } = options;
  const target = connectTo ? ['-H', `Host: ${new URL(url).host}`, `http://${connectTo.host}:${connectTo.port}${new URL(url).pathname}`] : [url];
  return ['-t', String(options.threads), '-c', String(options.connections), '-d', `${options.seconds}s`, '--timeout', '5s', '--latency', ...target];
}

/** The h2load closed-loop command line (https targets' maximum throughput). */
export function h2loadMaxArgs(options: MaxLoadOptions, logFile: string): string[] {
  return ['--h1', '-c', String(options.connections), '-t', String(options.threads), '-D', String(options.seconds), '-N', '10s', '--log-file', logFile, ...connectToArgs(options.connectTo), options.url];
}

/** One fixed-rate run: `warmupSeconds + seconds` of load at `rate`, latency of the last `seconds`. */
export async function runFixedRate(options: { url: string; connectTo?: Address; rate: number; seconds: number; warmupSeconds: number; perConnection: number; logFile: string }): Promise<FixedRateResult> {
  const plan = planFixedRate(options.rate, options.perConnection, options.warmupSeconds + options.seconds);
  if (plan.connections > 900) throw new Error(`${plan.connections} connections: more than select() handles (LIBEV_FLAGS=1); raise --rps-per-connection`);
  const args = h2loadArgs(plan, options.url, options.logFile, options.connectTo);
  await rm(options.logFile, { force: true }); // h2load appends
  const planned = options.warmupSeconds + options.seconds;
  const result = await runTool('h2load', args, { env: { ...process.env, LIBEV_FLAGS: '1' }, timeoutMs: (planned * 3 + 30) * 1000 });
  if (result.timedOut) throw new Error(`h2load ${args.join(' ')}: still running after ${planned * 3 + 30} s; killed`);
  if (result.code !== 0) throw new Error(`h2load ${args.join(' ')}: exit ${result.code ?? result.signal}: ${(result.stderr || result.stdout).trim().split('\n').slice(-5).join(' | ')}`);
  const logged = parseH2loadLog(await readFile(options.logFile, 'utf8').catch(() => ''));
  await rm(options.logFile, { force: true });
  const counts = parseH2loadSummary(result.stdout);
  if (logged.length === 0) throw new Error(`h2load ${args.join(' ')}: no request completed: ${result.stdout.trim().split('\n').slice(-8).join(' | ')}`);
  const not2xx = logged.filter((r) => r.status < 200 || r.status >= 300).length;
  return { ...summarizeLatency(logged, options.warmupSeconds), plan, completed: logged.length, counts, failedTotal: not2xx + Math.max(0, plan.requests - logged.length), args };
}

// ---------------------------------------------------------------- wrk, maximum throughput

export interface WrkResult {
  requests: number;
  seconds: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** non-2xx/3xx responses plus socket errors (connect, read, write, timeout) */
  errors: number;
  args: string[];
}

function toMs(value: string, unit: string): number {
  const n = Number(value);
  return unit === 'us' ? n / 1000 : unit === 'ms' ? n : unit === 's' ? n * 1000 : unit === 'm' ? n * 60_000 : Number.NaN;
}

/** wrk's report with `--latency`. */
export function parseWrk(stdout: string): Omit<WrkResult, 'args'> | undefined {
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m),/.exec(stdout);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
  if (!total || !rps) return undefined;
  const pct = (p: string) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(stdout);
    return m ? toMs(m[1]!, m[2]!) : Number.NaN;
  };
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  const socketErrors = socket ? socket.slice(1, 5).reduce((n, v) => n + Number(v), 0) : 0;
  return {
    requests: Number(total[1]),
    seconds: toMs(total[2]!, total[3]!) / 1000,
    perSecond: Number(rps[1]),
    p50Ms: pct('50'),
    p99Ms: pct('99'),
    errors: non2xx + socketErrors,
  };
}

/** The closed-loop tool for a URL: wrk, or h2load for https (see the header). */
export const maxLoadTool = (url: string): 'wrk' | 'h2load' => (url.startsWith('https:') ? 'h2load' : 'wrk');

/** h2load's "finished in 10.00s, 12345.67 req/s, …" line. */
export function parseH2loadFinished(stdout: string): { seconds: number; perSecond: number } | undefined {
  const m = /finished in ([\d.]+)(us|ms|s|m), ([\d.]+) req\/s/.exec(stdout);
  return m ? { seconds: toMs(m[1]!, m[2]!) / 1000, perSecond: Number(m[3]) } : undefined;
}

/** Maximum throughput, closed loop: wrk, or h2load for https targets (same connections and threads). */
export async function runMaxThroughput(options: MaxLoadOptions & { logFile: string }): Promise<WrkResult> {
  return maxLoadTool(options.url) === 'h2load' ? runH2loadMax(options) : runWrk(options);
}

async function runH2loadMax(options: MaxLoadOptions & { logFile: string }): Promise<WrkResult> {
  const args = h2loadMaxArgs(options, options.logFile);
  await rm(options.logFile, { force: true }); // h2load appends
  const result = await runTool('h2load', args, { timeoutMs: (options.seconds * 2 + 30) * 1000 });
  if (result.timedOut) throw new Error(`h2load ${args.join(' ')}: still running after ${options.seconds * 2 + 30} s; killed`);
  const finished = parseH2loadFinished(result.stdout);
  const counts = parseH2loadSummary(result.stdout);
  if (result.code !== 0 || !finished || !counts) throw new Error(`h2load ${args.join(' ')}: exit ${result.code ?? result.signal}: ${(result.stderr || result.stdout).trim().split('\n').slice(-5).join(' | ')}`);
  const logged = parseH2loadLog(await readFile(options.logFile, 'utf8').catch(() => ''));
  await rm(options.logFile, { force: true });
  const durations = Float64Array.from(logged.filter((r) => r.status >= 200 && r.status < 300), (r) => r.durationUs / 1000).sort();
  return {
    requests: counts.done,
    seconds: finished.seconds,
    perSecond: finished.perSecond,
    p50Ms: percentile(durations, 0.5),
    p99Ms: percentile(durations, 0.99),
    errors: counts.failed + (counts.succeeded - counts.status2xx), // failed = errored + timed out + 4xx/5xx; plus 3xx
    args,
  };
}

async function runWrk(options: MaxLoadOptions): Promise<WrkResult> {
  const args = wrkArgs(options);
  const result = await runTool('wrk', args, { timeoutMs: (options.seconds * 2 + 30) * 1000 });
  if (result.timedOut) throw new Error(`wrk ${args.join(' ')}: still running after ${options.seconds * 2 + 30} s; killed`);
  const parsed = parseWrk(result.stdout);
  if (result.code !== 0 || !parsed) throw new Error(`wrk ${args.join(' ')}: exit ${result.code ?? result.signal}: ${(result.stderr || result.stdout).trim().split('\n').slice(-5).join(' | ')}`);
  return { ...parsed, args };
}
