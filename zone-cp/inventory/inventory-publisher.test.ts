import type { NatsConnection } from 'nats';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../core/canonical-json.js';
import { natsNames } from '../../core/federation/names.js';
import type { Logger } from '../../core/log.js';
import type { InventoryService, InventorySubsets, ZoneInventory } from '../../core/schemas/federation.js';
import { HEADER_ALLOWANCE_BYTES, InventoryPublisher, describeTruncation, inventoriesFor, publishableInventory } from './inventory-publisher.js';

const web: InventoryService = { namespace: 'default', name: 'web', ports: [{ port: 80 }], localities: [{ region: 'eu', zone: 'eu-1a', endpoints: 2, healthy: 2 }] };
const NOW = '2025-05-05T05:05:05.000Z';

describe('inventoriesFor', () => {
  it('reports one inventory per placed tenant, in the order given', () => {
    const result = inventoriesFor('eu-1', ['acme', 'globex'], { acme: [web] }, '10.0.0.1:10001', NOW);
    expect(result).toEqual([
      { zone: 'eu-1', tenant: 'acme', ingressAddress: '10.0.0.1:10001', services: [web], publishedAt: NOW },
      { zone: 'eu-1', tenant: 'globex', ingressAddress: '10.0.0.1:10001', services: [], publishedAt: NOW },
    ]);
  });

  it('reports a placed tenant without services as an empty list, not a missing one', () => {
    expect(inventoriesFor('eu-1', ['acme'], {}, null, NOW)[0]!.services).toEqual([]);
  });

  it('never reports tenants that are not placed in the zone', () => {
    const result = inventoriesFor('eu-1', ['acme'], { acme: [web], other: [web] }, null, NOW);
    expect(result.map((i) => i.tenant)).toEqual(['acme']);
  });

  it('reports nothing when no tenant is placed', () => {
    expect(inventoriesFor('eu-1', [], { acme: [web] }, null, NOW)).toEqual([]);
  });

  it('carries a tenant\'s subset counts when it has them, and no field at all when it has none (services-file mode)', () => {
    const subsets = { tagKeys: ['version'], services: [] };
    const [acme, globex] = inventoriesFor('eu-1', ['acme', 'globex'], { acme: [web] }, null, NOW, { acme: subsets });
    expect(acme!.subsets).toEqual(subsets);
    expect(globex).not.toHaveProperty('subsets');
    expect(inventoriesFor('eu-1', ['acme'], { acme: [web] }, null, NOW)[0]).not.toHaveProperty('subsets');
  });

  it('carries a null ingress address through', () => {
    expect(inventoriesFor('eu-1', ['acme'], {}, null, NOW)[0]!.ingressAddress).toBeNull();
  });
});

describe('publishableInventory', () => {
  const services = (n: number): InventoryService[] => Array.from({ length: n }, (_, i) => ({ ...web, name: `svc-${i}` }));
  const subsets: InventorySubsets = { tagKeys: ['version'], services: [{ namespace: 'default', name: 'web', localities: [{ region: 'eu', zone: 'eu-1a', tagSets: [{ tags: { version: 'v1' }, healthy: 2 }] }] }] };
  const of = (n: number, withSubsets = false): ZoneInventory => inventoriesFor('eu-1', ['acme'], { acme: services(n) }, '10.0.0.1:10001', NOW, withSubsets ? { acme: subsets } : {})[0]!;

  it('writes an inventory that fits as it is, canonical', () => {
    const inventory = of(10, true);
    const result = publishableInventory(inventory, 1024 * 1024);
    expect(result).toEqual({ ok: true, text: canonicalJson(inventory), bytes: Buffer.byteLength(canonicalJson(inventory)) });
  });

  it('refuses an inventory larger than NATS carries (less room for headers), saying how large it is', () => {
    const inventory = of(100);
    const bytes = Buffer.byteLength(canonicalJson(inventory));
    expect(publishableInventory(inventory, bytes + HEADER_ALLOWANCE_BYTES).ok).toBe(true);
    const result = publishableInventory(inventory, bytes + HEADER_ALLOWANCE_BYTES - 1);
    expect(result).toEqual({ ok: false, bytes, refusal: { reason: 'too-large', message: expect.stringContaining(`${bytes} bytes (100 services)`) as string } });
  });

  it('does not guess the limit while NATS has not said it', () => {
    expect(publishableInventory(of(100), undefined).ok).toBe(true);
  });

  it('leaves out the subset counts when that is enough to fit', () => {
    const inventory = of(100, true);
    const { subsets: _, ...without } = inventory;
    const limit = Buffer.byteLength(canonicalJson(without)) + HEADER_ALLOWANCE_BYTES;
    const result = publishableInventory(inventory, limit);
    expect(result).toMatchObject({ ok: true, text: canonicalJson(without), bytes: Buffer.byteLength(canonicalJson(inventory)), subsetsLeftOut: { reason: 'too-large' } });
    expect(publishableInventory(inventory, limit - 1)).toMatchObject({ ok: false, refusal: { reason: 'too-large' } });
  });

  it('refuses an inventory readers would refuse, or publishes it without the subset counts that made it so', () => {
    const badService = { ...of(1), services: [{ ...web, ports: [{ port: 0 }] }] };
    expect(publishableInventory(badService, undefined)).toMatchObject({ ok: false, refusal: { reason: 'invalid', message: expect.stringContaining('/services/0/ports/0/port') as string } });
    const badSubsets = { ...of(1), subsets: { ...subsets, tagKeys: Array.from({ length: 40 }, (_, i) => `k${i}`) } };
    expect(publishableInventory(badSubsets, undefined)).toMatchObject({ ok: true, subsetsLeftOut: { reason: 'invalid' } });
  });
});

describe('describeTruncation', () => {
  it('says what was cut, in one line', () => {
    expect(describeTruncation({ tenant: 'acme', namespace: 'shop', service: 'web', field: 'ports', kept: 64, total: 70 })).toBe('acme/shop/web: ports 64 of 70');
    expect(describeTruncation({ tenant: 'acme', namespace: 'shop', service: 'Web', field: 'service', kept: 0, total: 1, problem: '/name: Expected string to match' })).toBe('acme/shop/Web: left out (/name: Expected string to match)');
  });
});

describe('InventoryPublisher metrics', () => {
  /** A NATS connection whose tenant buckets take every write: enough for publish(), no server. */
  const nats = (writes: string[]) =>
    ({ info: undefined, jetstream: () => ({ views: { kv: async (bucket: string) => ({ put: async () => void writes.push(bucket), delete: async () => undefined }) } }) }) as unknown as NatsConnection;
  const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined } as unknown as Logger;
  const tenantsOf = async (registry: Registry, name: string) => (await registry.getSingleMetric(name)!.get()).values.map((v) => v.labels.tenant).sort();

  it('drops a tenant\'s inventory size once the tenant is no longer placed in the zone', async () => {
    const registry = new Registry();
    const writes: string[] = [];
    const publisher = new InventoryPublisher('eu-1', nats(writes), natsNames('t'), quiet, registry);
    expect(await publisher.publish(inventoriesFor('eu-1', ['acme', 'globex'], { acme: [web] }, null, NOW))).toBe(true);
    expect(await tenantsOf(registry, 'meshfed_zone_inventory_bytes')).toEqual(['acme', 'globex']);
    await publisher.publish(inventoriesFor('eu-1', ['acme'], { acme: [web] }, null, NOW));
    expect(await tenantsOf(registry, 'meshfed_zone_inventory_bytes')).toEqual(['acme']);
    await publisher.publish([]);
    expect(await tenantsOf(registry, 'meshfed_zone_inventory_bytes')).toEqual([]);
    // Placed again: published again, though nothing changed in its inventory.
    await publisher.publish(inventoriesFor('eu-1', ['globex'], {}, null, NOW));
    expect(writes).toEqual(['t-tenant-acme', 't-tenant-globex', 't-tenant-globex']);
    expect(await tenantsOf(registry, 'meshfed_zone_inventory_bytes')).toEqual(['globex']);
  });

  it('reports truncations only for the tenants it is given, clearing the rest', async () => {
    const registry = new Registry();
    const publisher = new InventoryPublisher('eu-1', nats([]), natsNames('t'), quiet, registry);
    const cut = (tenant: string) => ({ tenant, namespace: 'shop', service: 'web', field: 'ports' as const, kept: 64, total: 70 });
    publisher.reportTruncations([cut('acme'), cut('globex')]);
    expect(await tenantsOf(registry, 'meshfed_zone_inventory_truncated_services')).toEqual(['acme', 'globex']);
    publisher.reportTruncations([cut('acme')]);
    expect(await tenantsOf(registry, 'meshfed_zone_inventory_truncated_services')).toEqual(['acme']);
  });
});
