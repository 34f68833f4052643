import { makeInformer, type Informer, type KubeConfig, type KubernetesListObject, type KubernetesObject, type ObjectCache } from '@kubernetes/client-node';
import type { Logger } from '../../core/log.js';

export interface Backoff {
  initialMs: number;
  maxMs: number;
}

/** Delay before retry number `failures` (1-based): doubling from initialMs, capped, with ±20% jitter so zone CPs do not retry in step. */
export function retryDelayMs(failures: number, backoff: Backoff, random: () => number = Math.random): number {
  const base = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.max(0, failures - 1));
  return Math.round(base * (0.8 + 0.4 * random()));
}

export interface ResilientInformerOptions<T extends KubernetesObject> {
  /** For logs: "Pod", "EndpointSlice"… */
  kind: string;
  kubeConfig: KubeConfig;
  /** Cluster-wide watch path, e.g. /api/v1/pods. */
  path: string;
  list: () => Promise<KubernetesListObject<T>>;
  log: Logger;
  backoff: Backoff;
  /** The server ends each watch after this long and the informer re-watches from its last resourceVersion. */
  watchTimeoutSeconds: number;
  /** Any add, update or delete in the cache (including those a relist finds). */
  onChange: () => void;
  /** A (re)start attempt has finished, successfully or not; check `listed`. */
  onStarted: () => void;
}

/**
 * A client-node ListWatch that keeps going. In client-node 1.4 a ListWatch
 * re-watches by itself only when a watch ends cleanly, and relists by itself
 * only on 410 Gone; any other failure (list refused, connection reset, watch
 * refused) is reported once on 'error' and the informer then does nothing
 * more. Here every such error schedules `start()` again with back-off, which
 * re-watches from the last resourceVersion, or relists when there is none or
 * it has expired.
 */
export class ResilientInformer<T extends KubernetesObject> {
  /** True once a list has succeeded: from then on the cache is a full picture (possibly stale while reconnecting). */
  listed = false;
  private readonly informer: Informer<T> & ObjectCache<T>;
  private failures = 0;
  private failedThisAttempt = false;
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly options: ResilientInformerOptions<T>) {
    // timeoutSeconds rides in the path because ListWatch only sends resourceVersion and selectors:
    // a server-side end every few minutes is what notices a silently dead connection, and bookmarks
    // keep the resourceVersion fresh so the re-watch after it rarely hits 410.
    const path = `${options.path}?timeoutSeconds=${options.watchTimeoutSeconds}&allowWatchBookmarks=true`;
    this.informer = makeInformer(options.kubeConfig, path, async () => {
      const list = await options.list();
      this.listed = true;
      return list;
    });
    const changed = () => {
      if (!this.stopped) options.onChange();
    };
    this.informer.on('add', changed);
    this.informer.on('update', changed);
    this.informer.on('delete', changed);
    this.informer.on('error', (err: unknown) => this.failed(err));
  }

  start(): void {
    this.stopped = false;
    this.attempt();
  }

  async stop(): Promise<void> {
    // Set first: aborting the watch makes ListWatch report an AbortError on 'error', which must not restart it.
    this.stopped = true;
    clearTimeout(this.retry);
    this.retry = undefined;
    await this.informer.stop();
  }

  objects(): readonly T[] {
    return this.informer.list();
  }

  private attempt(): void {
    this.failedThisAttempt = false;
    // start() resolves once the list is in and the watch has connected, or after an error was reported.
    this.informer.start().then(
      () => {
        if (!this.failedThisAttempt) this.failures = 0;
        if (!this.stopped) this.options.onStarted();
      },
      (err: unknown) => {
        this.failed(err);
        if (!this.stopped) this.options.onStarted();
      },
    );
  }

  private failed(err: unknown): void {
    if (this.stopped || this.retry) return;
    this.failedThisAttempt = true;
    this.failures++;
    const delayMs = retryDelayMs(this.failures, this.options.backoff);
    this.options.log.warn(
      { kind: this.options.kind, path: this.options.path, failures: this.failures, retryInMs: delayMs, err: describeError(err) },
      'kubernetes list/watch failed; restarting the informer',
    );
    this.retry = setTimeout(() => {
      this.retry = undefined;
      if (!this.stopped) this.attempt();
    }, delayMs);
  }
}

/**
 * Short, secret-free description. A client-node API error's message holds the
 * whole response (headers and body); the Status in its body says it better.
 */
function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err).slice(0, 300);
  const { code, statusCode, body } = err as { code?: unknown; statusCode?: unknown; body?: unknown };
  const first = [code, statusCode].find((c): c is string | number => typeof c === 'string' || typeof c === 'number');
  const status = first !== undefined ? `${first} ` : '';
  const apiStatus = typeof body === 'string' ? parseStatus(body) : undefined;
  if (apiStatus) return `${status}${apiStatus}`.slice(0, 300);
  return `${status}${err.name}: ${err.message}`.slice(0, 300);
}

function parseStatus(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as unknown;
    const s = (typeof parsed === 'string' ? JSON.parse(parsed) : parsed) as { kind?: string; reason?: string; message?: string };
    return s.kind === 'Status' ? `${s.reason ?? 'Failure'}: ${s.message ?? ''}` : undefined;
  } catch {
    return undefined;
  }
}
