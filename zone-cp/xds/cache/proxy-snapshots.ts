import { Counter, Histogram, type Registry } from 'prom-client';
import type { Logger } from '../../../core/log.js';
import { encodeResource, type ResourceObject } from '../../../core/xds/protos.js';
import { resourceVersion, type CachedResource, type ProxySnapshot } from '../server/stream-state.js';

/** What generation returns for one proxy: type URL → resource name → resource object. */
export type GeneratedResources = ReadonlyMap<string, ReadonlyMap<string, ResourceObject>>;

interface Watcher<P> {
  proxy: P;
  push: (snapshot: ProxySnapshot) => void;
  snapshot?: ProxySnapshot;
}

/**
 * Keeps each connected proxy's snapshot and pushes it when it changes.
 * Changes are debounced (a burst of endpoint updates becomes one push), and
 * a resource is encoded once however many proxies share it: generation
 * returns the same object for a shared resource, and an object seen before
 * is not encoded again.
 */
export class ProxySnapshots<P extends { id: string }> {
  private readonly watchers = new Map<string, Watcher<P>>();
  private readonly byObject = new WeakMap<ResourceObject, CachedResource>();
  /** Snapshots shared by every proxy with the same share key (e.g. proxyless clients of one tenant in one zone), kept across rebuilds. */
  private shared = new Map<string, ProxySnapshot>();
  /** Share keys already rebuilt in the current rebuild. */
  private fresh = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private readonly rebuilds: Histogram;
  private readonly failures: Counter;

  constructor(
    private readonly generate: (proxy: P) => GeneratedResources,
    private readonly options: {
      debounceMs: number;
      log: Logger;
      registry: Registry;
      /** Proxies with the same key get the very same config: it is generated, encoded and compared once per key. */
      shareKey?: (proxy: P) => string | undefined;
    },
  ) {
    const registers = [options.registry];
    this.rebuilds = new Histogram({
      name: 'meshfed_xds_rebuild_seconds',
      help: 'Time to regenerate and diff every connected proxy\'s config after a change.',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.failures = new Counter({ name: 'meshfed_xds_generation_errors_total', help: 'Proxy configs that could not be generated (the proxy keeps its last one).', registers });
  }

  watch(proxy: P, push: (snapshot: ProxySnapshot) => void): () => void {
    const watcher: Watcher<P> = { proxy, push };
    this.watchers.set(proxy.id, watcher);
    this.refresh(watcher);
    return () => {
      if (this.watchers.get(proxy.id) === watcher) this.watchers.delete(proxy.id);
    };
  }

  /** Something generation reads has changed: rebuild every proxy's snapshot soon. */
  invalidate(): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.rebuildNow();
    }, this.options.debounceMs);
  }

  /** Rebuilds at once (tests and benchmarks measure this). */
  rebuildNow(): void {
    const end = this.rebuilds.startTimer();
    this.fresh = new Set();
    for (const watcher of this.watchers.values()) this.refresh(watcher);
    // Keys no connected proxy uses any more are dropped.
    for (const key of [...this.shared.keys()]) if (!this.fresh.has(key)) this.shared.delete(key);
    end();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.watchers.clear();
  }

  private refresh(watcher: Watcher<P>): void {
    let next: ProxySnapshot;
    try {
      next = this.snapshotFor(watcher.proxy);
    } catch (error) {
      this.failures.inc();
      this.options.log.error({ proxy: watcher.proxy.id, err: (error as Error).message }, 'could not generate config; the proxy keeps its last one');
      return;
    }
    if (watcher.snapshot === next || (watcher.snapshot && sameSnapshot(watcher.snapshot, next))) return;
    watcher.snapshot = next;
    watcher.push(next);
  }

  /** A shared snapshot is rebuilt once per rebuild, and kept as the same object when nothing in it changed. */
  private snapshotFor(proxy: P): ProxySnapshot {
    const key = this.options.shareKey?.(proxy);
    if (key === undefined) return this.encode(this.generate(proxy));
    const held = this.shared.get(key);
    if (held && this.fresh.has(key)) return held;
    const next = this.encode(this.generate(proxy));
    const kept = held && sameSnapshot(held, next) ? held : next;
    this.shared.set(key, kept);
    this.fresh.add(key);
    return kept;
  }

  private encode(generated: GeneratedResources): ProxySnapshot {
    const snapshot = new Map<string, Map<string, CachedResource>>();
    for (const [type, resources] of generated) {
      const out = new Map<string, CachedResource>();
      for (const [name, object] of resources) {
        let cached = this.byObject.get(object);
        if (!cached) {
          const any = encodeResource(type, object);
          cached = { name, version: resourceVersion(any), any };
          this.byObject.set(object, cached);
        }
        out.set(name, cached);
      }
      snapshot.set(type, out);
    }
    return snapshot;
  }
}

function sameSnapshot(a: ProxySnapshot, b: ProxySnapshot): boolean {
  if (a.size !== b.size) return false;
  for (const [type, resources] of a) {
    const other = b.get(type);
    if (!other || other.size !== resources.size) return false;
    for (const [name, r] of resources) if (other.get(name)?.version !== r.version) return false;
  }
  return true;
}
