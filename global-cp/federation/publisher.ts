import { randomBytes } from 'node:crypto';
import { sleep } from '../../core/sleep.js';
import type { JetStreamClient, JetStreamManager, KV, NatsConnection } from 'nats';
import { Counter, Gauge, type Registry } from 'prom-client';
import { destroyBucket, listBuckets, openBucket, readBucket, writeBucket } from '../../core/federation/kv.js';
import { TENANT_STATE_KEY, policyKey, type NatsNames } from '../../core/federation/names.js';
import type { Logger } from '../../core/log.js';
import type { ChangeEntry, TenantRecord } from '../store/records.js';
import type { RedisStore } from '../store/redis-store.js';
import { desiredTenantBucket, placementValue, planPlacement, planTenantBucket, policyValue, tenantStateValue } from './desired-state.js';

export interface PublisherOptions {
  store: RedisStore;
  nats: NatsConnection;
  names: NatsNames;
  log: Logger;
  registry: Registry;
  /** Full Redis → NATS repair this often (and whenever this replica becomes the publisher). */
  reconcileIntervalMs: number;
  /** Copies of each KV bucket JetStream keeps (--nats-replicas). Default 1. */
  bucketReplicas?: number;
  /** The publisher lease: another replica takes over this long after the publisher dies. */
  leaseMs?: number;
}

/** What one batch of changes asks to publish. */
interface Batch {
  /** tenant → policy fields ("Kind/name") changed, and the highest revision seen. */
  policies: Map<string, { fields: Set<string>; revision: number }>;
  /** Tenants whose record changed (created, placed, deleted): whole bucket and placement. */
  tenants: Set<string>;
  placement: boolean;
}

/** Groups changes so a burst of writes becomes one pass over each tenant touched. Pure. */
export function batchChanges(entries: ChangeEntry[]): Batch {
  const batch: Batch = { policies: new Map(), tenants: new Set(), placement: false };
  for (const e of entries) {
    if (e.what === 'tenant') {
      batch.tenants.add(e.tenant);
      batch.placement = true;
    } else if (e.what.startsWith('zone:')) {
      batch.placement = true;
    } else if (e.what.startsWith('policy:')) {
      const entry = batch.policies.get(e.tenant) ?? { fields: new Set<string>(), revision: 0 };
      entry.fields.add(e.what.slice('policy:'.length));
      entry.revision = Math.max(entry.revision, e.revision);
      batch.policies.set(e.tenant, entry);
    }
  }
  return batch;
}

/**
 * Publishes the desired state from Redis to NATS JetStream KV. One replica at
 * a time holds the lease; it tails the change stream (the outbox every write
 * script appends to) in commit order, and repairs everything from Redis when
 * it takes over and on a timer — so NATS can always be rebuilt from Redis.
 */
export class FederationPublisher {
  readonly replicaId = randomBytes(6).toString('hex');
  private stopping = false;
  private readonly lifetime = new AbortController();
  private loop: Promise<void> | undefined;
  private leader = false;
  private readonly js: JetStreamClient;
  private jsm: JetStreamManager | undefined;
  private readonly buckets = new Map<string, KV>();
  private readonly metrics;

  constructor(private readonly options: PublisherOptions) {
    this.js = options.nats.jetstream();
    const registers = [options.registry];
    this.metrics = {
      leader: new Gauge({ name: 'meshfed_federation_leader', help: '1 while this replica publishes to NATS.', registers }),
      published: new Counter({ name: 'meshfed_federation_changes_published_total', help: 'Committed changes published to NATS.', registers }),
      repairs: new Counter({ name: 'meshfed_federation_reconcile_repairs_total', help: 'Keys a reconcile found missing, stale or extra in NATS.', registers }),
      lastPublish: new Gauge({ name: 'meshfed_federation_last_publish_timestamp_seconds', help: 'When changes were last published.', registers }),
    };
  }

  get isLeader(): boolean {
    return this.leader;
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.lifetime.abort();
    await this.loop;
    if (this.leader) await this.options.store.releaseLeadership(this.replicaId).catch(() => undefined);
    this.setLeader(false);
  }

  private async run(): Promise<void> {
    const { store, log, reconcileIntervalMs } = this.options;
    const leaseMs = this.options.leaseMs ?? 10_000;
    let cursor = '$';
    let nextReconcile = 0;
    let failures = 0;
    while (!this.stopping) {
      try {
        if (!(await store.holdLeadership(this.replicaId, leaseMs))) {
          this.setLeader(false);
          await sleep(leaseMs / 4 + Math.random() * 500, this.lifetime.signal);
          continue;
        }
        if (!this.leader || Date.now() >= nextReconcile) {
          // Changes committed from here on come from the stream; everything before, from the repair.
          cursor = await store.newestChangeId();
          if (!this.leader) log.info({ replica: this.replicaId }, 'publishing to NATS as federation leader');
          this.setLeader(true);
          await this.reconcile();
          nextReconcile = Date.now() + reconcileIntervalMs;
        }
        const entries = await store.readChanges(cursor, 1000, Math.min(1000, leaseMs / 4));
        if (entries.length) {
          await this.publish(batchChanges(entries));
          cursor = entries.at(-1)!.id;
          this.metrics.published.inc(entries.length);
          this.metrics.lastPublish.setToCurrentTime();
        }
        failures = 0;
      } catch (error) {
        if (this.stopping) break;
        failures++;
        // Whatever failed may be half published: the next pass starts with a full repair.
        nextReconcile = 0;
        const delay = Math.min(200 * 2 ** Math.min(failures, 5), 5000) * (0.5 + Math.random());
        log.warn({ err: (error as Error).message, retryInMs: Math.round(delay) }, 'federation publish failed; will repair and retry');
        await sleep(delay, this.lifetime.signal);
      }
    }
  }

  private setLeader(leader: boolean): void {
    this.leader = leader;
    this.metrics.leader.set(leader ? 1 : 0);
  }

  private async bucket(name: string): Promise<KV> {
    let kv = this.buckets.get(name);
    if (!kv) {
      kv = await openBucket(this.js, name, true, this.options.bucketReplicas ?? 1);
      this.buckets.set(name, kv);
    }
    return kv;
  }

  /** Publishes one batch: changed tenants' buckets, then placement, then policies, then buckets of deleted tenants. */
  private async publish(batch: Batch): Promise<void> {
    const { store, names } = this.options;
    const deleted: string[] = [];
    for (const name of batch.tenants) {
      if (!(await this.syncTenant(name))) deleted.push(name);
    }
    if (batch.placement) await this.syncPlacement();
    for (const [name, change] of batch.policies) {
      if (batch.tenants.has(name)) continue; // already synced whole
      const tenant = await store.getTenant(name);
      if (!tenant) continue; // deleted since; its tenant change handles the bucket
      const kv = await this.bucket(names.tenantBucket(name));
      const fields = [...change.fields].map((field) => field.split('/') as [string, string]);
      const policies = await Promise.all(fields.map(([kind, policyName]) => store.getPolicy(name, kind, policyName)));
      // Sent back to back on one connection, the writes keep their order in the stream; only the acks are awaited together.
      await Promise.all(
        fields.map(([kind, policyName], i) => {
          const policy = policies[i];
          return policy ? kv.put(policyKey(kind, policyName), policyValue(policy)) : kv.delete(policyKey(kind, policyName));
        }),
      );
      // Last, so a zone that sees this revision has every change up to it.
      await kv.put(TENANT_STATE_KEY, tenantStateValue(tenant, change.revision));
    }
    for (const name of deleted) await this.dropTenant(name);
  }

  /** Makes a tenant's bucket match Redis; false if the tenant no longer exists. */
  private async syncTenant(name: string): Promise<boolean> {
    const tenant = await this.options.store.getTenant(name);
    if (!tenant) return false;
    await this.writeTenantBucket(tenant);
    return true;
  }

  /** Writes what differs between Redis and the tenant's bucket; returns how many keys it wrote or deleted. */
  private async writeTenantBucket(tenant: TenantRecord): Promise<number> {
    const kv = await this.bucket(this.options.names.tenantBucket(tenant.name));
    const desired = desiredTenantBucket(tenant, await this.options.store.listPolicies(tenant.name));
    const plan = planTenantBucket(desired, await readBucket(kv), tenant.spec.zones);
    await writeBucket(kv, plan);
    return plan.puts.length + plan.deletes.length;
  }

  private async syncPlacement(): Promise<number> {
    const { store, names } = this.options;
    const [placements, tenants] = await Promise.all([store.placements(), store.listTenants()]);
    const trustDomains = new Map(tenants.map((t) => [t.name, t.spec.trustDomain]));
    const desired = new Map(
      [...placements].map(([zone, placed]) => [
        zone,
        placementValue(zone, placed.filter((t) => trustDomains.has(t)).map((t) => ({ name: t, trustDomain: trustDomains.get(t)! }))),
      ]),
    );
    const kv = await this.bucket(names.placementBucket);
    const plan = planPlacement(desired, await readBucket(kv));
    await writeBucket(kv, plan);
    return plan.puts.length + plan.deletes.length;
  }

  private async dropTenant(name: string): Promise<void> {
    this.jsm ??= await this.options.nats.jetstreamManager();
    const bucket = this.options.names.tenantBucket(name);
    this.buckets.delete(bucket);
    await destroyBucket(this.jsm, bucket);
  }

  /** Repairs NATS from Redis: missing, stale and extra keys and buckets. */
  async reconcile(): Promise<number> {
    const { store, names, log } = this.options;
    this.jsm ??= await this.options.nats.jetstreamManager();
    // A bucket deleted behind our back must be created again, not written through a stale handle.
    this.buckets.clear();
    let repairs = 0;
    const tenants = await store.listTenants();
    for (const tenant of tenants) repairs += await this.writeTenantBucket(tenant);
    repairs += await this.syncPlacement();
    const live = new Set(tenants.map((t) => names.tenantBucket(t.name)));
    for (const bucket of await listBuckets(this.jsm, names.tenantBucketPrefix)) {
      if (!live.has(bucket)) {
        this.buckets.delete(bucket);
        await destroyBucket(this.jsm, bucket);
        repairs++;
      }
    }
    this.metrics.repairs.inc(repairs);
    if (repairs) log.info({ repairs }, 'reconciled NATS from Redis');
    return repairs;
  }
}
