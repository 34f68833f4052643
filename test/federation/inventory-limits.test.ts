import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { natsNames } from '../../core/federation/names.js';
import type { ZoneInventory } from '../../core/schemas/federation.js';
import { eventually, registerZone } from '../helpers/federation.js';
import { Cleanup, createTenant, metricValue, metricsText, natsClient, servicesFilePath, servicesOf, startGlobal, startZone, writeServices } from './fixtures.js';

/** What happens to inventories that readers refuse or NATS cannot carry: never dropped silently, never routed on stale. */

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'meshfed-services-'));
  cleanup.defer(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const service = (name: string) => `    - { namespace: shop, name: ${name}, ports: [{ port: 8080, protocol: http }], localities: [{ region: eu, zone: z1, endpoints: 1, healthy: 1 }] }`;
/** acme's services in z1: `count` of them (7000 is well over NATS's 1 MiB default max_payload). */
const servicesFile = (count: number) =>
  ['ingressAddress: 127.0.0.1:10001', 'tenants:', '  acme:', ...Array.from({ length: count }, (_, i) => service(`svc-${String(i).padStart(5, '0')}`)), '  globex:', service('ledger'), ''].join('\n');

const inventory = (ports: number): ZoneInventory => ({
  zone: 'z9',
  tenant: 'acme',
  ingressAddress: '127.0.0.1:10009',
  services: [{ namespace: 'shop', name: 'web', ports: Array.from({ length: ports }, (_, i) => ({ port: 8000 + i })), localities: [{ region: 'eu', zone: 'z9', endpoints: 1, healthy: 1 }] }],
  publishedAt: new Date().toISOString(),
});

describe('inventory limits', () => {
  it('a zone whose inventory is too large for NATS withdraws it for that tenant, says so, and keeps publishing the others', async () => {
    const gcp = await startGlobal(cleanup);
    const token = await registerZone(gcp.url, 'z1', 'eu');
    await createTenant(gcp.url, 'acme', ['z1']);
    await createTenant(gcp.url, 'globex', ['z1']);
    const dir = await tempDir();
    const file = servicesFilePath(dir);
    await writeServices(file, servicesFile(2));
    const z1 = await startZone(cleanup, gcp, 'z1', token, { extra: { servicesFile: file } });
    await eventually(async () => expect((await servicesOf(gcp.url, 'acme')).map((s) => s.name)).toEqual(['svc-00000', 'svc-00001']));

    await writeServices(file, servicesFile(7000));
    await eventually(async () => {
      const metrics = await metricsText(z1.cp.url);
      expect(metricValue(metrics, 'meshfed_zone_inventory_refused_total', { component: 'zone-cp', tenant: 'acme', reason: 'too-large' })).toBe(1);
      expect(metricValue(metrics, 'meshfed_zone_inventory_bytes', { component: 'zone-cp', tenant: 'acme' })).toBeGreaterThan(1024 * 1024);
    }, 15_000);
    // The inventory published before is withdrawn, not left to be routed on; globex is published as before.
    await eventually(async () => expect(await servicesOf(gcp.url, 'acme')).toEqual([]));
    expect((await servicesOf(gcp.url, 'globex')).map((s) => s.name)).toEqual(['ledger']);

    await writeServices(file, servicesFile(3));
    await eventually(async () => expect(await servicesOf(gcp.url, 'acme')).toHaveLength(3), 15_000);
  });

  it('an inventory that fails its schema is left out by the global CP and by zone CPs, counted once, and replaces the stale one', async () => {
    const gcp = await startGlobal(cleanup);
    const token = await registerZone(gcp.url, 'z1', 'eu');
    await registerZone(gcp.url, 'z9', 'eu');
    await createTenant(gcp.url, 'acme', ['z1', 'z9']);
    const z1 = await startZone(cleanup, gcp, 'z1', token);
    await z1.cp.synced();

    // z9 is played by the test: a valid inventory first, then one with more ports than the schema allows.
    const nc = await natsClient(cleanup, gcp.natsUrl);
    const kv = await nc.jetstream().views.kv(natsNames(gcp.federationId).tenantBucket('acme'), { bindOnly: true });
    await kv.put('inventory.z9', JSON.stringify(inventory(2)));
    await eventually(async () => expect(z1.cp.tenants().acme?.inventories.z9?.services[0]!.ports).toHaveLength(2));
    expect((await servicesOf(gcp.url, 'acme')).map((s) => s.zones.map((z) => z.zone))).toEqual([['z9']]);

    await kv.put('inventory.z9', JSON.stringify(inventory(65)));
    await eventually(async () => expect(z1.cp.tenants().acme?.inventories).not.toHaveProperty('z9'));
    expect(await servicesOf(gcp.url, 'acme')).toEqual([]);
    expect(await servicesOf(gcp.url, 'acme')).toEqual([]);
    const labels = { tenant: 'acme', zone: 'z9' };
    expect(metricValue(await metricsText(gcp.url), 'meshfed_federation_inventory_rejected_total', { ...labels, component: 'global-cp' })).toBe(1);
    await eventually(async () => expect(metricValue(await metricsText(z1.cp.url), 'meshfed_federation_inventory_rejected_total', { ...labels, component: 'zone-cp' })).toBe(1));
  });
});
