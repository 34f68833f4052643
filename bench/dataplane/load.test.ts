import { describe, expect, it } from 'vitest';
import { h2loadArgs, h2loadMaxArgs, maxLoadTool, median, parseH2loadFinished, parseH2loadLog, parseH2loadSummary, parseWrk, percentile, planFixedRate, summarizeLatency, wrkArgs } from './load.js';

describe('planFixedRate', () => {
  it('opens the connections evenly over one send interval', () => {
    expect(planFixedRate(1000, 50, 12)).toEqual({ connections: 20, rpsPerConnection: 50, connectionsPerPeriod: 1, periodMs: 1, requests: 12000 });
    expect(planFixedRate(5000, 50, 3)).toEqual({ connections: 100, rpsPerConnection: 50, connectionsPerPeriod: 5, periodMs: 1, requests: 15000 });
  });
  it('keeps the period whole milliseconds for rates that are not multiples of 1000', () => {
    const plan = planFixedRate(1500, 50, 1);
    expect(plan.connectionsPerPeriod / plan.periodMs).toBe(1.5);
    expect(Number.isInteger(plan.periodMs)).toBe(true);
    expect(plan.connections * plan.rpsPerConnection).toBeCloseTo(1500);
  });
});

describe('h2load output', () => {
  it('reads the per-request log', () => {
    expect(parseH2loadLog('1795653134746941\t200\t1532\n1795653134746952\t-1\t9\n')).toEqual([
      { startUs: 1795653134746941, status: 200, durationUs: 1532 },
      { startUs: 1795653134746952, status: -1, durationUs: 9 },
    ]);
  });
  it('reads the summary counts', () => {
    const out = 'requests: 3000 total, 3000 started, 2990 done, 2980 succeeded, 20 failed, 10 errored, 1 timeout\nstatus codes: 2980 2xx, 0 3xx, 0 4xx, 0 5xx\n';
    expect(parseH2loadSummary(out)).toEqual({ total: 3000, done: 2990, succeeded: 2980, failed: 20, errored: 10, timeout: 1, status2xx: 2980 });
  });
  it('cuts the warm-up and keeps failures out of the percentiles', () => {
    const requests = [];
    for (let i = 0; i < 2000; i++) requests.push({ startUs: 1e12 + i * 1000, status: 200, durationUs: i < 1000 ? 50_000 : 100 + (i % 100) });
    requests.push({ startUs: 1e12 + 1_500_500, status: -1, durationUs: 5 });
    const s = summarizeLatency(requests, 1);
    expect(s.measured).toBe(1001);
    expect(s.errors).toBe(1);
    expect(s.p50Ms).toBeCloseTo(0.149, 3);
    expect(s.maxMs).toBeCloseTo(0.199, 3);
    expect(s.achievedRate).toBeCloseTo(1001 / 0.999, 0);
  });
});

describe('wrk output', () => {
  it('reads throughput, percentiles and errors', () => {
    const out = `Running 3s test @ http://127.0.0.1:18080/
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.88ms    1.41ms  25.65ms   87.71%
    Req/Sec    31.24k     9.35k   48.72k    60.00%
  Latency Distribution
     50%  841.00us
     75%    2.38ms
     90%    3.43ms
     99%    1.02s
  93334 requests in 3.00s, 5.87MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 4
Requests/sec:  31079.05
Transfer/sec:      1.96MB
`;
    expect(parseWrk(out)).toEqual({ requests: 93334, seconds: 3, perSecond: 31079.05, p50Ms: 0.841, p99Ms: 1020, errors: 9 });
  });
});

describe('targets requested by a name that does not resolve', () => {
  const connectTo = { host: '127.0.33.14', port: 8080 };
  it('h2load connects elsewhere and keeps the name in its URL (Host, SNI)', () => {
    const args = h2loadArgs(planFixedRate(1000, 50, 1), 'http://svc.bench.mesh:8080/', '/tmp/log', connectTo);
    expect(args.slice(-3)).toEqual(['--connect-to', '127.0.33.14:8080', 'http://svc.bench.mesh:8080/']);
    expect(h2loadArgs(planFixedRate(1000, 50, 1), 'http://127.0.0.1:1/', '/tmp/log')).not.toContain('--connect-to');
  });
  it('wrk gets the address in its URL and the name as Host', () => {
    const args = wrkArgs({ url: 'http://svc.bench.mesh:8080/', connectTo, seconds: 3, connections: 64, threads: 1 });
    expect(args.slice(-3)).toEqual(['-H', 'Host: svc.bench.mesh:8080', 'http://127.0.33.14:8080/']);
  });
  it('https targets get h2load closed loop for their maximum (wrk sends the URL host as SNI and must resolve it)', () => {
    expect(maxLoadTool('https://8443.svc-tls.bench.bench.mesh:8443/')).toBe('h2load');
    expect(maxLoadTool('http://127.0.0.1:1/')).toBe('wrk');
    const args = h2loadMaxArgs({ url: 'https://x.mesh:1/', connectTo, seconds: 10, connections: 64, threads: 1 }, '/tmp/log');
    expect(args).toEqual(['--h1', '-c', '64', '-t', '1', '-D', '10', '-N', '10s', '--log-file', '/tmp/log', '--connect-to', '127.0.33.14:8080', 'https://x.mesh:1/']);
  });
  it('reads h2load\'s throughput line', () => {
    expect(parseH2loadFinished('finished in 2.01s, 32752.50 req/s, 2.06MB/s\n')).toEqual({ seconds: 2.01, perSecond: 32752.5 });
    expect(parseH2loadFinished('nothing')).toBeUndefined();
  });
});

describe('stats', () => {
  it('percentile is nearest-rank, median ignores NaN', () => {
    expect(percentile([1, 2, 3, 4], 0.5)).toBe(2);
    expect(percentile([1, 2, 3, 4], 0.99)).toBe(4);
    expect(percentile([], 0.5)).toBeNaN();
    expect(median([3, Number.NaN, 1, 2])).toBe(2);
    expect(median([1, 2])).toBe(1.5);
  });
});
