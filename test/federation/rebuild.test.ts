import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { natsNames } from '../../core/federation/names.js';
import { api, eventually, registerZone } from '../helpers/federation.js';
import { Cleanup, soft, contentOf, createTenant, expectConverged, natsClient, placeTenant, putRetry, servicesOf, startGlobal, startZone, tenantsOf, writeServices } from './fixtures.js';

/** NATS is derived state: whatever happens to it, the global CP rebuilds it from Redis and the zones follow. */

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const SERVICES = 'ingressAddress: 127.0.0.1:10001\ntenants:\n  acme:\n    - { namespace: shop, name: web, ports: [{ port: 8080 }], localities: [{ region: eu, zone: z1, endpoints: 2, healthy: 1 }] }\n';

async function servicesFile(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'meshfed-services-'));
  cleanup.defer(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'services.yaml');
  await writeServices(path, SERVICES);
  return path;
}

describe('NATS rebuilt from Redis', () => {
  it('deleted, corrupted and stray keys are repaired by a reconcile, and the zones converge back', async () => {
    const gcp = await startGlobal(cleanup);
    const names = natsNames(gcp.federationId);
    const t1 = await registerZone(gcp.url, 'z1', 'eu');
    const t2 = await registerZone(gcp.url, 'z2', 'eu');
    await createTenant(gcp.url, 'acme', ['z1', 'z2']);
    for (const [name, attempts] of [['p1', 1], ['p2', 2], ['p3', 3]] as const) await putRetry(gcp.url, 'acme', name, attempts);
    const z1 = await startZone(cleanup, gcp, 'z1', t1);
    const z2 = await startZone(cleanup, gcp, 'z2', t2);
    const desired = await expectConverged(z1.cp, gcp.url, 'acme');
    await expectConverged(z2.cp, gcp.url, 'acme');
    expect(desired.revision).toBe(4);

    const nc = await natsClient(cleanup, gcp.natsUrl);
    const kv = await nc.jetstream().views.kv(names.tenantBucket('acme'), { bindOnly: true });
    const forged = { ...desired.policies['Retry/p2']!, spec: { ...desired.policies['Retry/p2']!.spec, attempts: 10 } };
    await kv.delete('policy.Retry.p1');
    await kv.put('policy.Retry.p2', JSON.stringify(forged));
    await kv.put('policy.Retry.stray', JSON.stringify({ ...forged, metadata: { ...forged.metadata, name: 'stray' } }));
    await kv.put('policy.Retry.p3', 'not json at all');
    // The tampering reaches the zones (a value that is not JSON is refused: p3 is dropped, as a zone syncing from scratch holds it).
    await eventually(() => expect(Object.keys(z1.cp.tenants().acme!.policies).sort()).toEqual(['Retry/p2', 'Retry/stray']));
    expect(z1.cp.tenants().acme!.policies['Retry/p2']!.spec.attempts).toBe(10);

    // p1 and p2 and p3 put back, the tenant state re-put last, the stray key deleted.
    const repairs = await gcp.federation!.publisher()!.reconcile();
    expect(repairs).toBe(5);
    for (const zone of [z1, z2]) expect(await expectConverged(zone.cp, gcp.url, 'acme')).toEqual(desired);
    // A second pass finds nothing left to repair.
    expect(await gcp.federation!.publisher()!.reconcile()).toBe(0);
  }, 30_000);

  it('a tenant bucket deleted in NATS is re-created by a reconcile; the zones start over from it and republish their inventory', async () => {
    const gcp = await startGlobal(cleanup);
    const names = natsNames(gcp.federationId);
    const t1 = await registerZone(gcp.url, 'z1', 'eu');
    const t2 = await registerZone(gcp.url, 'z2', 'eu');
    await createTenant(gcp.url, 'acme', ['z1', 'z2']);
    await createTenant(gcp.url, 'globex', ['z2']);
    await putRetry(gcp.url, 'acme', 'p1', 1);
    await putRetry(gcp.url, 'acme', 'p2', 2);
    const z1 = await startZone(cleanup, gcp, 'z1', t1, { extra: { servicesFile: await servicesFile() } });
    const z2 = await startZone(cleanup, gcp, 'z2', t2);
    const desired = await expectConverged(z1.cp, gcp.url, 'acme');
    await expectConverged(z2.cp, gcp.url, 'acme');
    await eventually(async () => expect((await servicesOf(gcp.url, 'acme')).map((s) => s.name)).toEqual(['web']));
    const globex = contentOf(z2.cp.tenants().globex);

    const nc = await natsClient(cleanup, gcp.natsUrl);
    const jsm = await nc.jetstreamManager();
    await jsm.streams.delete(`KV_${names.tenantBucket('acme')}`);
    // Until the bucket is back there is no inventory; that is an empty view, not an error. (Soft: the rest still runs.)
    const gone = await api(gcp.url, 'GET', '/tenants/acme/services');
    expect.soft(gone, 'GET /tenants/acme/services while the tenant bucket is missing').toEqual({ status: 200, body: { items: [] } });

    // Two policies and the tenant state.
    expect(await gcp.federation!.publisher()!.reconcile()).toBe(3);
    for (const zone of [z1, z2]) expect(await expectConverged(zone.cp, gcp.url, 'acme')).toEqual(desired);
    expect(contentOf(z2.cp.tenants().globex)).toEqual(globex);
    // The zones still serve: the zone owns its inventory key, and writes it into the new bucket.
    await eventually(async () => expect((await servicesOf(gcp.url, 'acme')).map((s) => [s.name, s.endpoints, s.healthy])).toEqual([['web', 2, 1]]), 5000);
    await eventually(() => expect(Object.keys(z2.cp.tenants().acme!.inventories).sort()).toEqual(['z1', 'z2']));

    // Later writes flow as before.
    const later = await putRetry(gcp.url, 'acme', 'p3', 3);
    expect((await expectConverged(z2.cp, gcp.url, 'acme')).policies['Retry/p3']).toEqual(later);
  }, 30_000);

  it('every bucket of the federation deleted while the global CP is down: its restart rebuilds them and the zones follow again', async () => {
    const gcp = await startGlobal(cleanup);
    const names = natsNames(gcp.federationId);
    const t1 = await registerZone(gcp.url, 'z1', 'eu');
    await createTenant(gcp.url, 'acme', ['z1']);
    await createTenant(gcp.url, 'globex', []);
    await putRetry(gcp.url, 'acme', 'p1', 4);
    await putRetry(gcp.url, 'globex', 'g1', 5);
    const z1 = await startZone(cleanup, gcp, 'z1', t1, { extra: { servicesFile: await servicesFile() } });
    const desired = await expectConverged(z1.cp, gcp.url, 'acme');
    await eventually(async () => expect((await servicesOf(gcp.url, 'acme')).map((s) => s.name)).toEqual(['web']));
    await gcp.stop();

    const nc = await natsClient(cleanup, gcp.natsUrl);
    const jsm = await nc.jetstreamManager();
    for (const bucket of [names.placementBucket, names.tenantBucket('acme'), names.tenantBucket('globex')]) await jsm.streams.delete(`KV_${bucket}`);
    // Serving what it had meanwhile.
    expect(contentOf(z1.cp.tenants().acme)).toEqual(desired);

    const restarted = await startGlobal(cleanup, { federationId: gcp.federationId, prefix: `${gcp.federationId}:` });
    await eventually(async () => {
      const streams: string[] = [];
      for await (const name of jsm.streams.names()) if (name.startsWith(`KV_${gcp.federationId}-`)) streams.push(name);
      expect(streams.sort()).toEqual([`KV_${names.placementBucket}`, `KV_${names.tenantBucket('acme')}`, `KV_${names.tenantBucket('globex')}`].sort());
    });
    const placement = await nc.jetstream().views.kv(names.placementBucket, { bindOnly: true });
    await eventually(async () => expect((await placement.get('z1'))?.json()).toEqual({ zone: 'z1', tenants: [{ name: 'acme', trustDomain: 'acme.mesh' }] }));
    expect(contentOf(z1.cp.tenants().acme)).toEqual(desired);

    // The zone follows the re-created buckets: a new policy, a new placement, and its own inventory written again.
    const p2 = await putRetry(restarted.url, 'acme', 'p2', 1);
    await placeTenant(restarted.url, 'globex', ['z1']);
    await Promise.all([
      soft('a policy written after the rebuild reaches the zone', eventually(() => expect(z1.cp.tenants().acme!.policies['Retry/p2']).toEqual(p2), 10_000)),
      soft('a tenant placed after the rebuild reaches the zone', eventually(() => expect(tenantsOf(z1.cp)).toEqual(['acme', 'globex']), 10_000)),
      soft('the zone writes its inventory into the re-created bucket', eventually(async () => expect((await servicesOf(restarted.url, 'acme')).map((s) => s.name)).toEqual(['web']), 10_000)),
    ]);
  }, 30_000);
});
