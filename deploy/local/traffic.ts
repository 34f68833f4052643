/**
 * The built-in load generator: requests at a fixed rate (open loop) through
 * a client's sidecar to the service it calls, and per-second statistics of
 * what came back: how many succeeded, how fast, and which zone answered.
 */
import http from 'node:http';

export interface RequestOutcome {
  /** When the request was sent (ms since the epoch). */
  at: number;
  latencyMs: number;
  /** HTTP status; 0 when no response came (connection error, timeout). */
  status: number;
  /** The zone that answered (from the echo reply), when the request succeeded. */
  zone?: string;
  /** The tenant that answered; anything but the caller's own would break tenant isolation. */
  tenant?: string;
  /** Why it failed: `503 …`, `ECONNREFUSED`, `timeout`. */
  error?: string;
}

export interface TrafficWindow {
  seconds: number;
  sent: number;
  ok: number;
  failed: number;
  /** Requests per second sent in the window. */
  rate: number;
  /** Successes by answering zone. */
  byZone: Record<string, number>;
  /** Answers from another tenant than the caller's. */
  foreignTenant: number;
  p50Ms: number | undefined;
  p99Ms: number | undefined;
  /** The most frequent failure in the window, with its count. */
  topError: { error: string; count: number } | undefined;
}

interface Bucket {
  second: number;
  outcomes: RequestOutcome[];
}

/** Outcomes kept per second for `keepSeconds`; summaries over the last few seconds. */
export class TrafficStats {
  private readonly buckets: Bucket[] = [];
  total = 0;

  constructor(
    readonly tenant: string,
    private readonly keepSeconds = 120,
  ) {}

  record(outcome: RequestOutcome): void {
    this.total += 1;
    const second = Math.floor(outcome.at / 1000);
    let bucket = this.buckets.find((b) => b.second === second);
    if (!bucket) {
      bucket = { second, outcomes: [] };
      this.buckets.push(bucket);
      this.buckets.sort((a, b) => a.second - b.second);
      while (this.buckets.length && this.buckets[0]!.second < second - this.keepSeconds) this.buckets.shift();
    }
    bucket.outcomes.push(outcome);
  }

  /** Requests sent during the last `seconds` whole seconds before `now` (the current, unfinished second left out). */
  window(seconds: number, now = Date.now()): TrafficWindow {
    const last = Math.floor(now / 1000) - 1;
    return summarize(
      this.buckets.filter((b) => b.second > last - seconds && b.second <= last).flatMap((b) => b.outcomes),
      seconds,
      this.tenant,
    );
  }

  /** Requests sent in [from, to) (ms since the epoch). */
  between(from: number, to: number): TrafficWindow {
    return summarize(
      this.buckets.flatMap((b) => b.outcomes).filter((o) => o.at >= from && o.at < to),
      Math.max(0.001, (to - from) / 1000),
      this.tenant,
    );
  }
}

/** Pure. */
export function summarize(outcomes: RequestOutcome[], seconds: number, tenant: string): TrafficWindow {
  const byZone: Record<string, number> = {};
  const errors = new Map<string, number>();
  const latencies: number[] = [];
  let ok = 0;
  let foreignTenant = 0;
  for (const o of outcomes) {
    if (o.status === 200 && o.zone) {
      ok += 1;
      byZone[o.zone] = (byZone[o.zone] ?? 0) + 1;
      latencies.push(o.latencyMs);
      if (o.tenant !== tenant) foreignTenant += 1;
    } else {
      const error = o.error ?? `HTTP ${o.status}`;
      errors.set(error, (errors.get(error) ?? 0) + 1);
    }
  }
  latencies.sort((a, b) => a - b);
  const quantile = (q: number) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] : undefined);
  const top = [...errors.entries()].sort((a, b) => b[1] - a[1])[0];
  return {
    seconds,
    sent: outcomes.length,
    ok,
    failed: outcomes.length - ok,
    rate: outcomes.length / seconds,
    byZone,
    foreignTenant,
    p50Ms: quantile(0.5),
    p99Ms: quantile(0.99),
    topError: top ? { error: top[0], count: top[1] } : undefined,
  };
}

export interface LoadGeneratorOptions {
  /** The client sidecar's outbound address and the port of the service called. */
  address: string;
  port: number;
  /** Host header: the mesh name, `<service>.<namespace>.mesh:<port>`. */
  host: string;
  path: string;
  /** Requests per second. */
  rate: number;
  stats: TrafficStats;
  timeoutMs?: number;
  /** Requests allowed in flight; more are counted as failures ("overloaded") instead of sent. */
  maxInFlight?: number;
}

/** Sends `rate` requests per second whatever the answers take (open loop), until stopped. */
export class LoadGenerator {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  private timer: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private sent = 0;
  private inFlight = 0;
  private idle: (() => void) | undefined;

  constructor(readonly options: LoadGeneratorOptions) {}

  start(): void {
    if (this.timer) return;
    this.startedAt = Date.now();
    this.sent = 0;
    // Catch up from the clock, not the timer count: timers drift on a busy machine.
    this.timer = setInterval(() => {
      const due = Math.floor(((Date.now() - this.startedAt) * this.options.rate) / 1000);
      for (; this.sent < due; this.sent++) this.send();
    }, Math.max(10, Math.min(100, 1000 / this.options.rate)));
  }

  /** Stops sending; waits (up to `waitMs`) for requests in flight, then closes connections. */
  async stop(waitMs = 2000): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.inFlight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        this.idle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.agent.destroy();
  }

  private send(): void {
    const at = Date.now();
    const { stats } = this.options;
    if (this.inFlight >= (this.options.maxInFlight ?? 200)) {
      stats.record({ at, latencyMs: 0, status: 0, error: 'overloaded (too many requests in flight)' });
      return;
    }
    this.inFlight += 1;
    const done = (outcome: Omit<RequestOutcome, 'at' | 'latencyMs'>) => {
      stats.record({ at, latencyMs: Date.now() - at, ...outcome });
      this.inFlight -= 1;
      if (this.inFlight === 0) this.idle?.();
    };
    const request = http.request(
      { host: this.options.address, port: this.options.port, path: this.options.path, agent: this.agent, headers: { host: this.options.host }, timeout: this.options.timeoutMs ?? 5000 },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (c: Buffer) => chunks.push(c));
        response.on('error', (error) => done({ status: 0, error: error.message }));
        response.on('end', () => {
          const status = response.statusCode ?? 0;
          const body = Buffer.concat(chunks).toString();
          if (status !== 200) return done({ status, error: `HTTP ${status}${reasonOf(body)}` });
          try {
            const reply = JSON.parse(body) as { zone?: unknown; tenant?: unknown };
            done({ status, ...(typeof reply.zone === 'string' ? { zone: reply.zone } : {}), ...(typeof reply.tenant === 'string' ? { tenant: reply.tenant } : {}) });
          } catch {
            done({ status: 0, error: 'answer is not JSON' });
          }
        });
      },
    );
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', (error: NodeJS.ErrnoException) => done({ status: 0, error: error.code ?? error.message }));
    request.end();
  }
}

/** A short reason for a failed answer: the start of the body (the sidecar's local replies say what went wrong). Pure. */
function reasonOf(body: string): string {
  const text = body.replace(/\s+/g, ' ').trim().slice(0, 60);
  return text ? ` ${text}` : '';
}
