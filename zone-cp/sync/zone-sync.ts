import { sleep } from '../../core/sleep.js';
import { Value } from '@sinclair/typebox/value';
import type { JetStreamClient, KvEntry, NatsConnection, QueuedIterator, Subscription } from 'nats';
import { openBucket } from '../../core/federation/kv.js';
import type { InventoryOutcomes } from '../../core/federation/inventory-check.js';
import type { NatsNames } from '../../core/federation/names.js';
import { Placement } from '../../core/schemas/federation.js';
import type { Logger } from '../../core/log.js';
import type { DocumentOutcomes } from './document-check.js';
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
  /** Called with the placed tenants before their buckets are watched (e.g. to renew NATS permissions). */
  beforeWatching?: (tenants: string[]) => Promise<void>;
  /** Called when a tenant's view starts over from a new bucket (whatever this zone wrote into the old one is gone). */
  onBucketReplaced?: (tenant: string) => void;
  /** How often to check that watched buckets are still the ones the watches were opened on. */
  bucketCheckIntervalMs?: number;
  /** Told of every inventory accepted or refused (to log and count refusals). */
  inventories?: InventoryOutcomes;
  /** Told of every tenant state and policy refused, and of keys that settle again (to log and count refusals). */
  documents?: DocumentOutcomes;
}

interface Watcher {
  stopped: boolean;
  initialized: boolean;
  iterator: QueuedIterator<KvEntry> | undefined;
  done: Promise<void>;
  /** JetStream's advisory that the bucket was created (again). */
  recreated: Subscription;
}

/** The advisory JetStream publishes when a bucket's stream is created — also when it is created again. */
export const bucketCreatedAdvisory = (bucket: string) => `$JS.EVENT.ADVISORY.STREAM.CREATED.KV_${bucket}`;

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
  private placementCreated = '';
  private placementLoop: Promise<void> | undefined;
  private bucketCheck: NodeJS.Timeout | undefined;
  private placementRecreated: Subscription | undefined;
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
    // Re-created buckets are caught by advisories at once; this slow check covers missed advisories.
    this.bucketCheck ??= setInterval(() => void this.checkBuckets(), this.options.bucketCheckIntervalMs ?? 30_000);
    this.placementRecreated ??= this.onRecreated(this.options.names.placementBucket, () => this.placementIterator?.stop());
  }

  /** Ends the watch when its bucket is created again (NATS rebuilt from Redis), so it re-opens on the new one. */
  private onRecreated(bucket: string, reopen: () => void): Subscription {
    return this.options.nats.subscribe(bucketCreatedAdvisory(bucket), {
      callback: (error) => {
        if (error) return;
        this.options.log.warn({ bucket }, 'bucket was created again; re-opening its watch');
        reopen();
      },
    });
  }

  /** Ends every open watch; each loop opens it again, resuming after what it applied (e.g. after a NATS reconnect). */
  restartWatches(): void {
    this.placementIterator?.stop();
    for (const watcher of this.watchers.values()) watcher.iterator?.stop();
  }

  /**
   * A bucket deleted and created again under an open watch (NATS rebuilt from
   * Redis) leaves the watch silent: compare creation times and re-open.
   */
  private async checkBuckets(): Promise<void> {
    const { names, tenants, log } = this.options;
    try {
      const placement = await openBucket(this.js, names.placementBucket, false);
      const created = String((await placement.status()).streamInfo.created);
      if (this.placementCreated && created !== this.placementCreated) {
        log.warn('placement bucket was re-created; re-opening the watch');
        this.placementIterator?.stop();
      }
      for (const [name, watcher] of this.watchers) {
        const kv = await openBucket(this.js, names.tenantBucket(name), false);
        const tenantCreated = String((await kv.status()).streamInfo.created);
        const seen = tenants[name]?.bucketCreated;
        if (seen && tenantCreated !== seen) {
          log.warn({ tenant: name }, 'tenant bucket was re-created; re-opening the watch');
          watcher.iterator?.stop();
        }
      }
    } catch {
      // A bucket missing, or NATS away: the watch loops retry on their own.
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.lifetime.abort();
    if (this.bucketCheck) clearInterval(this.bucketCheck);
    this.placementRecreated?.unsubscribe();
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
        this.placementCreated = String((await kv.status()).streamInfo.created);
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
          const { value, notJson } = entry.operation === 'PUT' ? readJson(entry) : { value: { zone, tenants: [] }, notJson: false };
          if (notJson || !Value.Check(Placement, value)) {
            // Keeping the placement it has: an empty one would drop every tenant's view.
            log.warn({ key: entry.key, problem: notJson ? 'not JSON' : (Value.Errors(Placement, value).First()?.message ?? 'fails its schema') }, 'ignored malformed placement');
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
    await this.options.beforeWatching?.([...wanted].sort()).catch((error: Error) => log.warn({ err: error.message }, 'could not prepare for the new placement'));
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
    const watcher: Watcher = { stopped: false, initialized: false, iterator: undefined, done: Promise.resolve(), recreated: undefined as unknown as Subscription };
    watcher.recreated = this.onRecreated(this.options.names.tenantBucket(name), () => watcher.iterator?.stop());
    watcher.done = this.watchTenant(name, watcher);
    this.watchers.set(name, watcher);
  }

  private async stopWatcher(name: string): Promise<void> {
    const watcher = this.watchers.get(name);
    if (!watcher) return;
    watcher.stopped = true;
    watcher.recreated.unsubscribe();
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
          const replaced = view.bucketCreated !== '';
          view = { ...emptyTenantView(name, view.trustDomain), bucketCreated: created };
          tenants[name] = view;
          if (replaced) this.options.onBucketReplaced?.(name);
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
          tenants[name] = applyTenantEntry(tenants[name]!, toTenantEntry(entry), { inventories: this.options.inventories, documents: this.options.documents });
          onChange();
        }
      } catch (error) {
        if (!watcher.stopped && !this.stopping) log.warn({ tenant: name, err: (error as Error).message }, 'tenant watch failed; retrying');
      }
      if (!watcher.stopped && !this.stopping) await sleep(retryDelayMs(++failures), this.lifetime.signal);
    }
  }
}

/** What is read of a KV entry (nats' KvEntry has it). */
interface ReadEntry {
  key: string;
  operation: TenantEntry['operation'];
  revision: number;
  json(): unknown;
}

/** A KV entry's value, or that it does not parse (told apart from a value that parses but fails its schema). */
function readJson(entry: Pick<ReadEntry, 'json'>): { value: unknown; notJson: boolean } {
  try {
    return { value: entry.json(), notJson: false };
  } catch {
    return { value: undefined, notJson: true };
  }
}

export function toTenantEntry(entry: ReadEntry): TenantEntry {
  const base = { key: entry.key, operation: entry.operation, sequence: entry.revision };
  if (entry.operation !== 'PUT') return base;
  const { value, notJson } = readJson(entry);
  return notJson ? { ...base, notJson } : { ...base, value };
}
