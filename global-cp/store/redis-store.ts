import { Redis } from 'ioredis';
import { canonicalJson, sha256Hex } from '../../core/canonical-json.js';
import type { Labels } from '../../core/schemas/common.js';
import type { TenantSpec } from '../../core/schemas/tenant.js';
import { policyField, redisKeys, type RedisKeys } from './keys.js';
import { parseRedisTarget, type RedisTarget } from './redis-target.js';
import type { TenantCa } from './records.js';
import type { ChangeEntry, DeleteResult, Expect, Meta, PolicyRecord, TenantRecord, TokenRecord, WriteResult, ZoneRecord, ZoneSpec, ZoneStatusRecord } from './records.js';
import * as scripts from './scripts.js';

type Reply = [string, ...string[]];
type ScriptRunner = (keys: string[], args: Array<string | number>) => Promise<Reply>;

interface StoredDoc<S> {
  labels: Labels;
  spec: S;
}

export interface RedisStoreOptions {
  /** redis://, rediss:// or redis-sentinel:// (see parseRedisTarget). */
  url: string;
  /** Key prefix; production uses "mf:". */
  prefix?: string;
  /** Give up connecting after this long, so a bad URL fails fast. */
  connectTimeoutMs?: number;
}

/**
 * The global CP's store of record. A thin adapter: decisions (what to write)
 * are made by the caller; this class only runs the atomic scripts and decodes
 * what it reads.
 */
export class RedisStore {
  readonly keys: RedisKeys;
  readonly target: RedisTarget;
  private readonly connectTimeoutMs: number;
  private readonly redis: Redis;
  private blocking: Redis | undefined;
  private readonly run: Record<keyof typeof scripts, ScriptRunner>;

  constructor(options: RedisStoreOptions) {
    this.keys = redisKeys(options.prefix ?? 'mf:');
    this.target = parseRedisTarget(options.url);
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    this.redis = new Redis({
      ...this.target.options,
      lazyConnect: true,
      connectTimeout: this.connectTimeoutMs,
      maxRetriesPerRequest: 2,
      // Reconnect forever with capped back-off; readiness reports the outage meanwhile.
      retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 6), 5000),
    });
    // Errors surface on the commands that hit them; the event only needs a listener.
    this.redis.on('error', () => undefined);
    this.run = Object.fromEntries(
      Object.entries(scripts).map(([name, lua]) => {
        this.redis.defineCommand(name, { lua });
        const command = name as keyof typeof scripts;
        const runner: ScriptRunner = (keys, args) =>
          (this.redis as unknown as Record<string, (n: number, ...a: Array<string | number>) => Promise<Reply>>)[command]!(keys.length, ...keys, ...args);
        return [name, runner];
      }),
    ) as Record<keyof typeof scripts, ScriptRunner>;
  }

  /**
   * Connects (for a Sentinel target: asks the sentinels for the primary) and
   * PINGs. Gives up after the connect timeout with the last problem seen: a
   * Sentinel client would otherwise keep asking its sentinels for ever.
   */
  async connect(): Promise<void> {
    const seen: { error?: string; sentinel?: string } = {};
    const onError = (error: Error) => (seen.error = error.message);
    const onSentinelError = (error: Error) => (seen.sentinel = error.message);
    this.redis.on('error', onError).on('sentinelError', onSentinelError);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${this.connectTimeoutMs} ms`)), this.connectTimeoutMs);
    });
    try {
      await Promise.race([this.redis.connect().then(() => this.redis.ping()), timedOut]);
    } catch (error) {
      this.redis.disconnect();
      throw new Error(connectFailure((error as Error).message, seen));
    } finally {
      clearTimeout(timer);
      this.redis.off('error', onError).off('sentinelError', onSentinelError);
    }
  }

  /**
   * For readiness: false unless Redis answers within the connect timeout. Commands wait while the client
   * reconnects, and a Sentinel client that can reach no sentinel keeps asking them without ever giving up.
   */
  async ping(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), this.connectTimeoutMs)));
    try {
      return (await Promise.race([this.redis.ping(), timedOut])) === 'PONG';
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    for (const client of [this.blocking, this.redis]) {
      if (!client) continue;
      // QUIT only when connected: queued behind other commands during an outage (all sentinels down, say) it would wait for ever.
      if (client.status === 'ready') await client.quit().catch(() => undefined);
      // Also ends what QUIT leaves open: a Sentinel client's subscriptions to the sentinels (its failover detector).
      client.disconnect();
    }
  }

  // ---- federation: the change stream (outbox), leadership, cursor ----

  /**
   * Committed changes after `afterId`, in commit order, waiting up to `blockMs`
   * for the first. Uses a connection of its own: a blocking read would stall
   * every other command on the shared one.
   */
  async readChanges(afterId: string, count: number, blockMs: number): Promise<ChangeEntry[]> {
    // The duplicate keeps the target, Sentinel included; it needs its own error listener.
    this.blocking ??= this.redis.duplicate().on('error', () => undefined);
    const reply = (await this.blocking.xread('COUNT', count, 'BLOCK', blockMs, 'STREAMS', this.keys.changes, afterId));
    if (!reply) return [];
    return reply[0]![1].map(([id, fields]) => {
      const f = Object.fromEntries(fields.reduce<Array<[string, string]>>((pairs, v, i) => (i % 2 ? pairs : [...pairs, [v, fields[i + 1]!]]), []));
      return { id, tenant: f.t ?? '', revision: Number(f.r ?? 0), what: f.k ?? '' };
    });
  }

  /** The id of the first change still in the stream (older ones were trimmed), or undefined if it is empty. */
  async oldestChangeId(): Promise<string | undefined> {
    const first = (await this.redis.xrange(this.keys.changes, '-', '+', 'COUNT', 1)) as Array<[string, string[]]>;
    return first[0]?.[0];
  }

  async newestChangeId(): Promise<string> {
    const last = (await this.redis.xrevrange(this.keys.changes, '+', '-', 'COUNT', 1)) as Array<[string, string[]]>;
    return last[0]?.[0] ?? '0-0';
  }

  /** Takes or keeps the publisher lease; true while `replicaId` holds it. */
  async holdLeadership(replicaId: string, ttlMs: number): Promise<boolean> {
    const reply = await this.redis.eval(
      `local holder = redis.call('GET', KEYS[1])
       if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
       if not holder then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
       return 0`,
      1,
      this.keys.federationLeader,
      replicaId,
      ttlMs,
    );
    return reply === 1;
  }

  async releaseLeadership(replicaId: string): Promise<void> {
    await this.redis.eval(`if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end`, 1, this.keys.federationLeader, replicaId);
  }

  /** Every zone with the tenants placed in it, for the placement bucket. */
  async placements(): Promise<Map<string, string[]>> {
    const zones = (await this.redis.smembers(this.keys.zones)).sort();
    const tenants = await Promise.all(zones.map((z) => this.redis.smembers(this.keys.zoneTenants(z))));
    return new Map(zones.map((z, i) => [z, tenants[i]!.sort()]));
  }

  // ---- zone status, from heartbeats ----

  async recordHeartbeat(zone: string, status: ZoneStatusRecord): Promise<void> {
    await this.redis.hset(this.keys.zoneStatus(zone), {
      lastSeen: status.lastSeen,
      cpVersion: status.cpVersion,
      intervalMs: String(status.intervalMs),
      ingressAddress: status.ingressAddress ?? '',
      applied: JSON.stringify(status.applied),
    });
  }

  async zoneStatus(zone: string): Promise<ZoneStatusRecord | undefined> {
    const h = await this.redis.hgetall(this.keys.zoneStatus(zone));
    if (!h.lastSeen) return undefined;
    return {
      lastSeen: h.lastSeen,
      cpVersion: h.cpVersion ?? '',
      intervalMs: Number(h.intervalMs),
      ingressAddress: h.ingressAddress || null,
      applied: JSON.parse(h.applied ?? '{}') as Record<string, number>,
    };
  }

  async forgetZoneStatus(zone: string): Promise<void> {
    await this.redis.del(this.keys.zoneStatus(zone));
  }

  // ---- zones ----

  async putZone(name: string, labels: Labels, spec: ZoneSpec, expect: Expect, tokenHash?: string): Promise<WriteResult<ZoneRecord>> {
    const doc = encodeDoc(labels, spec);
    const reply = await this.run.PUT_ZONE(
      [this.keys.zones, this.keys.zone(name), this.keys.zonesRev],
      [name, encodeExpect(expect), doc.json, doc.specHash, now(), tokenHash ? this.keys.zoneToken(tokenHash) : '', this.keys.prefix],
    );
    return decodeWrite(reply, (meta) => ({ name, labels, spec, meta }));
  }

  async getZone(name: string): Promise<ZoneRecord | undefined> {
    const [doc, meta] = await this.redis.hmget(this.keys.zone(name), 'doc', 'meta');
    return doc && meta ? zoneFrom(name, doc, meta) : undefined;
  }

  async listZones(): Promise<ZoneRecord[]> {
    const names = (await this.redis.smembers(this.keys.zones)).sort();
    const rows = await Promise.all(names.map((n) => this.redis.hmget(this.keys.zone(n), 'doc', 'meta')));
    return names.flatMap((n, i) => {
      const [doc, meta] = rows[i]!;
      return doc && meta ? [zoneFrom(n, doc, meta)] : [];
    });
  }

  async deleteZone(name: string, expect: Expect): Promise<DeleteResult> {
    const reply = await this.run.DELETE_ZONE([this.keys.zones, this.keys.zone(name), this.keys.zoneTenants(name)], [name, encodeExpect(expect), this.keys.prefix]);
    if (reply[0] === 'conflict') return { status: 'conflict', tenants: reply.slice(1) };
    return decodeDelete(reply);
  }

  async zoneNameForToken(tokenHash: string): Promise<string | undefined> {
    return (await this.redis.get(this.keys.zoneToken(tokenHash))) ?? undefined;
  }

  async zoneTenants(zone: string): Promise<string[]> {
    return (await this.redis.smembers(this.keys.zoneTenants(zone))).sort();
  }

  // ---- tenants ----

  /** `ca` is stored with a created tenant (its root CA, key sealed); updates pass none and keep it. */
  async putTenant(name: string, labels: Labels, spec: TenantSpec, expect: Expect, ca?: TenantCa): Promise<WriteResult<TenantRecord>> {
    const doc = encodeDoc(labels, spec);
    const k = this.keys;
    const reply = await this.run.PUT_TENANT(
      [k.tenants, k.tenant(name), k.tenantRev(name), k.trustDomain(spec.trustDomain)],
      [name, encodeExpect(expect), doc.json, doc.specHash, now(), k.prefix, ca ? JSON.stringify(ca) : '', ...spec.zones],
    );
    if (reply[0] === 'unknown-zone') return { status: 'unknown-zone', zone: reply[1]!, index: Number(reply[2]) };
    if (reply[0] === 'trust-domain-taken') return { status: 'trust-domain-taken', owner: reply[1]! };
    if (reply[0] === 'created' || reply[0] === 'updated' || reply[0] === 'unchanged') {
      const tenant = await this.getTenant(name);
      if (tenant) return { status: reply[0], value: tenant };
    }
    return decodeWrite(reply, () => undefined as never);
  }

  async getTenantCa(name: string): Promise<TenantCa | undefined> {
    return (await this.readTenantCa(name))?.ca;
  }

  /**
   * The tenant's CA with the tenant's revision, read in one transaction; `raw`
   * is what replaceTenantCa expects back to prove nothing changed in between.
   */
  async readTenantCa(name: string): Promise<{ ca: TenantCa; raw: string; revision: number } | undefined> {
    const [[, raw], [, rev]] = (await this.redis.multi().hget(this.keys.tenant(name), 'ca').get(this.keys.tenantRev(name)).exec()) as [[null, string | null], [null, string | null]];
    return raw ? { ca: JSON.parse(raw) as TenantCa, raw, revision: Number(rev ?? 0) } : undefined;
  }

  /**
   * Replaces the tenant's CA if it is still `expectedRaw`, in one atomic step
   * with a new tenant revision and a "tenant" change for federation.
   */
  async replaceTenantCa(name: string, expectedRaw: string, next: TenantCa): Promise<{ status: 'updated'; revision: number } | { status: 'tenant-not-found' | 'conflict' }> {
    const reply = await this.run.REPLACE_TENANT_CA([this.keys.tenant(name), this.keys.tenantRev(name)], [expectedRaw, JSON.stringify(next), this.keys.prefix, name]);
    if (reply[0] === 'updated') return { status: 'updated', revision: Number(reply[1]) };
    if (reply[0] === 'tenant-not-found' || reply[0] === 'conflict') return { status: reply[0] };
    throw new Error(`unexpected reply from store script: ${reply.join(' ')}`);
  }

  async getTenant(name: string): Promise<TenantRecord | undefined> {
    const k = this.keys;
    const [[, fields], [, rev], [, count]] = (await this.redis
      .multi()
      .hmget(k.tenant(name), 'doc', 'meta')
      .get(k.tenantRev(name))
      .hlen(k.policies(name))
      .exec()) as [[null, Array<string | null>], [null, string | null], [null, number]];
    const [doc, meta] = fields;
    return doc && meta ? tenantFrom(name, doc, meta, Number(rev ?? 0), count) : undefined;
  }

  async listTenants(): Promise<TenantRecord[]> {
    const names = (await this.redis.smembers(this.keys.tenants)).sort();
    const tenants = await Promise.all(names.map((n) => this.getTenant(n)));
    return tenants.filter((t): t is TenantRecord => t !== undefined);
  }

  async deleteTenant(name: string, expect: Expect): Promise<DeleteResult> {
    const k = this.keys;
    const reply = await this.run.DELETE_TENANT(
      [k.tenants, k.tenant(name), k.tenantRev(name), k.policies(name), k.policyMeta(name), k.tenantTokens(name)],
      [name, encodeExpect(expect), k.prefix],
    );
    return decodeDelete(reply);
  }

  // ---- policies ----

  async putPolicy(tenant: string, kind: string, name: string, labels: Labels, spec: Record<string, unknown>, expect: Expect): Promise<WriteResult<PolicyRecord>> {
    const doc = encodeDoc(labels, spec);
    const k = this.keys;
    const reply = await this.run.PUT_POLICY(
      [k.tenant(tenant), k.tenantRev(tenant), k.policies(tenant), k.policyMeta(tenant)],
      [policyField(kind, name), encodeExpect(expect), doc.json, doc.specHash, now(), k.prefix, tenant],
    );
    return decodeWrite(reply, (meta) => ({ tenant, kind, name, labels, spec, meta }));
  }

  async getPolicy(tenant: string, kind: string, name: string): Promise<PolicyRecord | undefined> {
    const field = policyField(kind, name);
    // One transaction, so the document and its resourceVersion always belong to the same write.
    const [[, doc], [, meta]] = (await this.redis.multi().hget(this.keys.policies(tenant), field).hget(this.keys.policyMeta(tenant), field).exec()) as [
      [null, string | null],
      [null, string | null],
    ];
    return doc && meta ? policyFrom(tenant, field, doc, meta) : undefined;
  }

  /** Every policy of a tenant (of one kind, if given), sorted by kind then name. */
  async listPolicies(tenant: string, kind?: string): Promise<PolicyRecord[]> {
    const [docs, metas] = (await this.redis.multi().hgetall(this.keys.policies(tenant)).hgetall(this.keys.policyMeta(tenant)).exec()) as [
      [null, Record<string, string>],
      [null, Record<string, string>],
    ];
    return Object.keys(docs[1])
      .filter((field) => metas[1][field] !== undefined && (!kind || field.startsWith(`${kind}/`)))
      .sort()
      .map((field) => policyFrom(tenant, field, docs[1][field]!, metas[1][field]!));
  }

  async deletePolicy(tenant: string, kind: string, name: string, expect: Expect): Promise<DeleteResult> {
    const k = this.keys;
    const reply = await this.run.DELETE_POLICY([k.tenant(tenant), k.tenantRev(tenant), k.policies(tenant), k.policyMeta(tenant)], [policyField(kind, name), encodeExpect(expect), k.prefix, tenant]);
    return decodeDelete(reply);
  }

  async policyCountsByKind(): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (const tenant of await this.redis.smembers(this.keys.tenants)) {
      for (const field of await this.redis.hkeys(this.keys.policies(tenant))) {
        const kind = field.slice(0, field.indexOf('/'));
        counts.set(kind, (counts.get(kind) ?? 0) + 1);
      }
    }
    return counts;
  }

  async countZonesAndTenants(): Promise<{ zones: number; tenants: number }> {
    const [zones, tenants] = await Promise.all([this.redis.scard(this.keys.zones), this.redis.scard(this.keys.tenants)]);
    return { zones, tenants };
  }

  // ---- tokens ----

  async createToken(record: TokenRecord, tokenHash: string): Promise<WriteResult<TokenRecord>> {
    const k = this.keys;
    const reply = await this.run.CREATE_TOKEN(
      [k.tenant(record.tenant), k.tenantTokens(record.tenant), k.token(tokenHash)],
      [record.id, JSON.stringify(record), Date.parse(record.expiresAt), tokenHash, k.prefix],
    );
    if (reply[0] === 'created') return { status: 'created', value: record };
    return decodeWrite(reply, () => record);
  }

  async tokenByHash(tokenHash: string): Promise<TokenRecord | undefined> {
    const json = await this.redis.get(this.keys.token(tokenHash));
    return json ? (JSON.parse(json) as TokenRecord) : undefined;
  }

  async listTokens(tenant: string): Promise<TokenRecord[]> {
    const hashes = await this.redis.hvals(this.keys.tenantTokens(tenant));
    if (hashes.length === 0) return [];
    const records = await this.redis.mget(hashes.map((h) => this.keys.token(h)));
    return records
      .filter((r): r is string => r !== null)
      .map((r) => JSON.parse(r) as TokenRecord)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async deleteToken(tenant: string, id: string): Promise<DeleteResult> {
    return decodeDelete(await this.run.DELETE_TOKEN([this.keys.tenantTokens(tenant)], [id, this.keys.prefix]));
  }
}

function now(): string {
  return new Date().toISOString();
}

/** Why connecting failed, in words: ioredis's own reason ("Connection is closed.") says less than the error events before it. */
function connectFailure(reason: string, seen: { error?: string; sentinel?: string }): string {
  // A sentinel's own answer ("… because ERR No such master with that name") beats "All sentinels are unreachable".
  const problem = seen.sentinel ?? seen.error;
  if (!problem) return reason;
  return `${reason === 'Connection is closed.' ? 'connection closed' : reason}: ${problem}`;
}

function encodeDoc<S>(labels: Labels, spec: S) {
  return { json: canonicalJson({ labels, spec }), specHash: sha256Hex(canonicalJson(spec)) };
}

function encodeExpect(expect: Expect): string {
  return typeof expect === 'string' ? expect : `rv:${expect.resourceVersion}`;
}

function decodeWrite<T>(reply: Reply, value: (meta: Meta) => T): WriteResult<T> {
  switch (reply[0]) {
    case 'created':
    case 'updated':
    case 'unchanged':
      return { status: reply[0], value: value(JSON.parse(reply[1]!) as Meta) };
    case 'exists':
    case 'not-found':
    case 'tenant-not-found':
      return { status: reply[0] };
    case 'precondition':
      return { status: 'precondition', currentResourceVersion: reply[1]! };
    case 'quota':
      return { status: 'quota', limit: Number(reply[1]) };
    default:
      throw new Error(`unexpected reply from store script: ${reply.join(' ')}`);
  }
}

function decodeDelete(reply: Reply): DeleteResult {
  switch (reply[0]) {
    case 'deleted':
      return { status: 'deleted' };
    case 'not-found':
    case 'tenant-not-found':
    case 'exists':
      return { status: reply[0] };
    case 'precondition':
      return { status: 'precondition', currentResourceVersion: reply[1]! };
    default:
      throw new Error(`unexpected reply from store script: ${reply.join(' ')}`);
  }
}

function zoneFrom(name: string, doc: string, meta: string): ZoneRecord {
  const d = JSON.parse(doc) as StoredDoc<ZoneSpec>;
  return { name, labels: d.labels, spec: d.spec, meta: JSON.parse(meta) as Meta };
}

function tenantFrom(name: string, doc: string, meta: string, revision: number, policyCount: number): TenantRecord {
  const d = JSON.parse(doc) as StoredDoc<TenantSpec>;
  return { name, labels: d.labels, spec: d.spec, meta: JSON.parse(meta) as Meta, revision, policyCount };
}

function policyFrom(tenant: string, field: string, doc: string, meta: string): PolicyRecord {
  const slash = field.indexOf('/');
  const d = JSON.parse(doc) as StoredDoc<Record<string, unknown>>;
  return { tenant, kind: field.slice(0, slash), name: field.slice(slash + 1), labels: d.labels, spec: d.spec, meta: JSON.parse(meta) as Meta };
}
