import { sleep } from '../../core/sleep.js';
import { Value } from '@sinclair/typebox/value';
import type { JetStreamClient, KvEntry, NatsConnection, QueuedIterator } from 'nats';
import { openBucket } from '../../core/federation/kv.js';
import type { NatsNames } from '../../core/federation/names.js';
import { Placement } from '../../core/schemas/federation.js';
import type { Logger } from '../../core/log.js';
import { applyTenantEntry, emptyTenantView, type TenantEntry, type TenantView } from './tenant-view.js';

export interface ZoneSyncOptions {
  zone: string;
  nats: NatsConnection;
  names: NatsNames;
  log: Logger;
  /** The views to start from (the snapshot); the sync updates this object in place. */
  tenants: Record<string, TenantView>;
  /** Called after every applied change. */
  onChange: () => void;
}

interface Watcher {
  stopped: boolean;
  initialized: boolean;
  iterator: QueuedIterator<KvEntry> | undefined;
  done: Promise<void>;
}

/** Backoff with full jitter, so many zones coming back at once spread out. */
export function retryDelayMs(failures: number, baseMs = 250, capMs = 10_000): number {
  return Math.random() * Math.min(capMs, baseMs * 2 ** Math.min(failures, 10));
}

/**
 * The zone CP's end of federation: watches its placement key to learn which
 * tenants are placed in it, and each such tenant's bucket — initial values,
 * then live changes, resuming after the last applied sequence on reconnect.
 * It never watches a tenant that is not placed in the zone.
 */
export class ZoneSync {
  private stopping = false;
  private placementKnown = false;
  private placementIterator: QueuedIterator<KvEntry> | undefined;
  private placementLoop: Promise<void> | undefined;
  private readonly watchers = new Map<string, Watcher>();
  private readonly js: JetStreamClient;
  private readonly lifetime = new AbortController();

  constructor(private readonly options: ZoneSyncOptions) {
    this.js = options.nats.jetstream();
  }

  get tenants(): Record<string, TenantView> {
    return this.options.tenants;
  }

  /** True once placement is known and every placed tenant has caught up with its bucket. */
  initialized(): boolean {
    return this.placementKnown && [...this.watchers.values()].every((w) => w.initialized);
  }

  start(): void {
    this.placementLoop ??= this.watchPlacement();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.lifetime.abort();
    this.placementIterator?.stop();
    for (const name of [...this.watchers.keys()]) await this.stopWatcher(name);
    await this.placementLoop;
  }

  private async watchPlacement(): Promise<void> {
    const { zone, names, log } = this.options;
    let failures = 0;
    while (!this.stopping) {
      try {
        const kv = await openBucket(this.js, names.placementBucket, false);
        const iterator = await kv.watch({
          key: zone,
          initializedFn: () => {
            // No placement key yet: nothing is placed here. Keep the snapshot's tenants until told otherwise.
            if (!this.placementKnown) this.placementKnown = true;
            this.options.onChange();
          },
        });
        this.placementIterator = iterator;
        failures = 0;
        for await (const entry of iterator) {
          const value: unknown = entry.operation === 'PUT' ? entry.json() : { zone, tenants: [] };
          if (!Value.Check(Placement, value)) {
            log.warn({ key: entry.key }, 'ignored malformed placement');
            continue;
          }
          this.placementKnown = true;
          await this.applyPlacement(value.tenants);
        }
      } catch (error) {
        if (!this.stopping) log.warn({ err: (error as Error).message }, 'placement watch failed; retrying');
      }
      if (!this.stopping) await sleep(retryDelayMs(++failures), this.lifetime.signal);
    }
  }

  private async applyPlacement(placed: Array<{ name: string; trustDomain: string }>): Promise<void> {
    const { tenants, log } = this.options;
    const wanted = new Set(placed.map((t) => t.name));
    for (const name of Object.keys(tenants)) {
      if (wanted.has(name)) continue;
      await this.stopWatcher(name);
      delete tenants[name];
      log.info({ tenant: name }, 'tenant no longer placed in this zone; dropped');
    }
    for (const t of placed) {
      tenants[t.name] ??= emptyTenantView(t.name, t.trustDomain);
      if (!this.watchers.has(t.name)) {
        log.info({ tenant: t.name }, 'watching tenant');
        this.startWatcher(t.name);
      }
    }
    this.options.onChange();
  }

  private startWatcher(name: string): void {
    const watcher: Watcher = { stopped: false, initialized: false, iterator: undefined, done: Promise.resolve() };
    watcher.done = this.watchTenant(name, watcher);
    this.watchers.set(name, watcher);
  }

  private async stopWatcher(name: string): Promise<void> {
    const watcher = this.watchers.get(name);
    if (!watcher) return;
    watcher.stopped = true;
    watcher.iterator?.stop();
    this.watchers.delete(name);
    await watcher.done;
  }

  private async watchTenant(name: string, watcher: Watcher): Promise<void> {
    const { names, log, tenants, onChange } = this.options;
    let failures = 0;
    while (!watcher.stopped && !this.stopping) {
      try {
        const kv = await openBucket(this.js, names.tenantBucket(name), false);
        const info = (await kv.status()).streamInfo;
        let view = tenants[name]!;
        const created = String(info.created);
        if (view.bucketCreated !== created || view.sequence > info.state.last_seq) {
          // A new bucket (the tenant was re-created) restarts its sequence: start this view over.
          if (view.sequence > 0) log.warn({ tenant: name }, 'tenant bucket was re-created; resyncing from scratch');
          view = { ...emptyTenantView(name, view.trustDomain), bucketCreated: created };
          tenants[name] = view;
        }
        const resume = view.sequence > 0 ? { resumeFromRevision: view.sequence + 1 } : {};
        const iterator = await kv.watch({
          key: '>',
          ...resume,
          initializedFn: () => {
            watcher.initialized = true;
            onChange();
          },
        });
        watcher.iterator = iterator;
        if (watcher.stopped) iterator.stop();
        failures = 0;
        for await (const entry of iterator) {
          if (watcher.stopped) break;
          tenants[name] = applyTenantEntry(tenants[name]!, toTenantEntry(entry));
          onChange();
        }
      } catch (error) {
        if (!watcher.stopped && !this.stopping) log.warn({ tenant: name, err: (error as Error).message }, 'tenant watch failed; retrying');
      }
      if (!watcher.stopped && !this.stopping) await sleep(retryDelayMs(++failures), this.lifetime.signal);
    }
  }
}

function toTenantEntry(entry: KvEntry): TenantEntry {
  let value: unknown;
  if (entry.operation === 'PUT') {
    try {
      value = entry.json();
    } catch {
      value = undefined;
    }
  }
  return { key: entry.key, operation: entry.operation, sequence: entry.revision, value };
}
