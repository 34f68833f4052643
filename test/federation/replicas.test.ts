import { randomBytes } from 'node:crypto';
import { connect } from 'nats';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { natsNames } from '../../core/federation/names.js';
import { createLogger } from '../../core/log.js';
import type { PolicyDocument } from '../../core/schemas/policies/index.js';
import { FederationPublisher } from '../../global-cp/federation/publisher.js';
import { startGlobalCp } from '../../global-cp/main.js';
import { RedisStore } from '../../global-cp/store/redis-store.js';
import { ADMIN_TOKEN, TEST_MASTER_KEY } from '../helpers/global-cp.js';
import { eventually, registerZone } from '../helpers/federation.js';
import { Cleanup, createTenant, expectConverged, metricValue, metricsText, putRetry, startGlobal, startZone, type GlobalCp } from './fixtures.js';

/** Several global CP replicas on one Redis: one publishes (the lease holder), all accept writes, zones see them in revision order. */

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const leaders = (replicas: GlobalCp[]) => replicas.map((r) => r.federation!.publisher()?.isLeader ?? false);

/** Samples what a zone holds of a tenant as often as it can: revision and each policy's resourceVersion. */
function sampleViews(read: () => { revision: number; policies: Record<string, PolicyDocument> } | undefined) {
  const samples: Array<{ revision: number; versions: Record<string, number> }> = [];
  const timer = setInterval(() => {
    const view = read();
    if (view) samples.push({ revision: view.revision, versions: Object.fromEntries(Object.entries(view.policies).map(([id, p]) => [id, Number(p.metadata.resourceVersion)])) });
  }, 2);
  return { samples, stop: () => clearInterval(timer) };
}

/**
 * Checks that revisions only ever go up and that a view at revision R holds
 * every write up to R: for each policy, at least the version of its last
 * write at or below R. Returns the problems found.
 */
function orderingProblems(samples: Array<{ revision: number; versions: Record<string, number> }>, writes: Array<{ id: string; rv: number }>): string[] {
  const problems: string[] = [];
  let last = 0;
  for (const s of samples) {
    if (s.revision < last) problems.push(`revision went back from ${last} to ${s.revision}`);
    last = s.revision;
    for (const w of writes) {
      if (w.rv > s.revision) continue;
      const held = s.versions[w.id] ?? 0;
      if (held < w.rv) problems.push(`at revision ${s.revision} ${w.id} is at ${held}, but it was written at ${w.rv}`);
    }
  }
  return [...new Set(problems)].slice(0, 10);
}

describe('global CP replicas', () => {
  it('two replicas on one Redis prefix: one holds the lease; writes through both reach the zone in revision order; the other takes over when it stops', async () => {
    const a = await startGlobal(cleanup);
    const b = await startGlobal(cleanup, { federationId: a.federationId, prefix: `${a.federationId}:` });
    await eventually(() => expect(leaders([a, b]).filter(Boolean)).toHaveLength(1));
    // And it stays that way.
    for (let i = 0; i < 10; i++) {
      expect(leaders([a, b]).filter(Boolean)).toHaveLength(1);
      await new Promise((r) => setTimeout(r, 50));
    }
    const [leader, follower] = a.federation!.publisher()!.isLeader ? [a, b] : [b, a];
    expect(metricValue(await metricsText(leader.url), 'meshfed_federation_leader', { component: 'global-cp' })).toBe(1);
    expect(metricValue(await metricsText(follower.url), 'meshfed_federation_leader', { component: 'global-cp' })).toBe(0);

    const token = await registerZone(follower.url, 'z1', 'eu');
    await createTenant(follower.url, 'acme', ['z1']);
    const zone = await startZone(cleanup, follower, 'z1', token);
    await expectConverged(zone.cp, leader.url, 'acme');

    // Both replicas write at once, each to its own policies, 30 writes each.
    const sampler = sampleViews(() => zone.cp.tenants().acme);
    const writes: Array<{ id: string; rv: number }> = [];
    await Promise.all(
      [a, b].map(async (replica, r) => {
        for (let i = 0; i < 30; i++) {
          const doc = await putRetry(replica.url, 'acme', `r${r}-p${i % 6}`, 1 + (i % 10), { i: String(i) });
          writes.push({ id: `Retry/${doc.metadata.name}`, rv: Number(doc.metadata.resourceVersion) });
        }
      }),
    );
    const final = await expectConverged(zone.cp, a.url, 'acme');
    sampler.stop();
    expect(final.revision).toBe(1 + 60);
    expect(writes.map((w) => w.rv).sort((x, y) => x - y)).toEqual(Array.from({ length: 60 }, (_, i) => i + 2));
    expect(Object.keys(final.policies)).toHaveLength(12);
    expect(sampler.samples.length).toBeGreaterThan(10);
    expect(orderingProblems(sampler.samples, writes)).toEqual([]);

    // The leader stops: the lease is released and the other replica takes over.
    await leader.stop();
    await eventually(() => expect(follower.federation!.publisher()!.isLeader).toBe(true), 5000);
    const after = await putRetry(follower.url, 'acme', 'after-failover', 4);
    const content = await expectConverged(zone.cp, follower.url, 'acme');
    expect(content.revision).toBe(62);
    expect(content.policies['Retry/after-failover']).toEqual(after);
  }, 30_000);

  it('a replica that dies holding the lease is replaced once the lease expires', async () => {
    const federationId = `t${randomBytes(4).toString('hex')}`;
    const prefix = `${federationId}:`;
    const natsUrl = inject('natsUrl');
    const names = natsNames(federationId);
    // The API (and the zone's token check) from a replica without NATS; the publishers are built here, with a short lease.
    const apiCp = cleanup.add(
      await startGlobalCp({ listen: { host: '127.0.0.1', port: 0 }, redisUrl: inject('redisUrl'), redisPrefix: prefix, adminToken: ADMIN_TOKEN, masterKey: TEST_MASTER_KEY, logLevel: 'silent', version: 'test' }),
    );
    const publisher = async (leaseMs: number) => {
      const store = new RedisStore({ url: inject('redisUrl'), prefix });
      await store.connect();
      const nc = await connect({ servers: natsUrl });
      const p = new FederationPublisher({ store, nats: nc, names, log: createLogger('global-cp', 'silent'), registry: new Registry(), reconcileIntervalMs: 60_000, leaseMs });
      cleanup.defer(async () => {
        await p.stop();
        await store.close();
        await nc.close();
      });
      p.start();
      return { p, store };
    };
    const first = await publisher(600);
    await eventually(() => expect(first.p.isLeader).toBe(true));
    const second = await publisher(600);
    await new Promise((r) => setTimeout(r, 700));
    expect(second.p.isLeader).toBe(false);

    const gcp = { url: apiCp.url, federationId, natsUrl };
    const token = await registerZone(gcp.url, 'z1', 'eu');
    await createTenant(gcp.url, 'acme', ['z1']);
    const zone = await startZone(cleanup, gcp, 'z1', token, { extra: { heartbeatIntervalMs: 200 } });
    await putRetry(gcp.url, 'acme', 'before', 2);
    await expectConverged(zone.cp, gcp.url, 'acme');

    // The leader loses Redis (as if it died): it can neither renew nor release the lease.
    const diedAt = Date.now();
    await first.store.close();
    await eventually(() => expect(second.p.isLeader).toBe(true), 5000);
    // Not before the lease ran out.
    expect(Date.now() - diedAt).toBeGreaterThanOrEqual(300);
    const after = await putRetry(gcp.url, 'acme', 'after', 3);
    const content = await expectConverged(zone.cp, gcp.url, 'acme');
    // created (1), "before" (2), "after" (3)
    expect(content.revision).toBe(3);
    expect(content.policies['Retry/after']).toEqual(after);
  }, 30_000);
});
