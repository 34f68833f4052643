import { describe, expect, it } from 'vitest';
import type { InventoryService, ZoneInventory } from '../../core/schemas/federation.js';
import { federatedServices } from './services-view.js';

const service = (namespace: string, name: string, ports: number[], localities: InventoryService['localities']): InventoryService => ({
  namespace,
  name,
  ports: ports.map((port) => ({ port })),
  localities,
});
const inventory = (zone: string, services: InventoryService[], ingressAddress: string | null = `${zone}.example:10001`): ZoneInventory => ({
  zone,
  tenant: 'acme',
  ingressAddress,
  services,
  publishedAt: `2025-01-01T00:00:0${zone.length % 10}.000Z`,
});
const loc = (region: string, zone: string, endpoints: number, healthy: number) => ({ region, zone, endpoints, healthy });

describe('federatedServices', () => {
  it('is empty without inventories or services', () => {
    expect(federatedServices([], new Set())).toEqual([]);
    expect(federatedServices([inventory('eu-1', [])], new Set())).toEqual([]);
  });

  it('describes a service of one zone', () => {
    const [web] = federatedServices([inventory('eu-1', [service('default', 'web', [8080], [loc('eu', 'eu-1a', 3, 2)])])], new Set());
    expect(web).toEqual({
      namespace: 'default',
      name: 'web',
      hostname: 'web.default.mesh',
      ports: [8080],
      endpoints: 3,
      healthy: 2,
      zones: [
        {
          zone: 'eu-1',
          endpoints: 3,
          healthy: 2,
          ingressAddress: 'eu-1.example:10001',
          stale: false,
          publishedAt: inventory('eu-1', []).publishedAt,
          localities: [loc('eu', 'eu-1a', 3, 2)],
        },
      ],
    });
  });

  it('merges one service across zones: totals over all localities, per-zone entries sorted by zone', () => {
    const result = federatedServices(
      [
        inventory('us-1', [service('default', 'web', [80], [loc('us', 'us-1a', 2, 2), loc('us', 'us-1b', 1, 0)])]),
        inventory('eu-1', [service('default', 'web', [80], [loc('eu', 'eu-1a', 4, 3)])]),
      ],
      new Set(),
    );
    expect(result).toHaveLength(1);
    const [web] = result;
    expect(web!.endpoints).toBe(7);
    expect(web!.healthy).toBe(5);
    expect(web!.zones.map((z) => [z.zone, z.endpoints, z.healthy])).toEqual([
      ['eu-1', 4, 3],
      ['us-1', 3, 2],
    ]);
  });

  it('unions the ports of all zones, sorted numerically and without duplicates', () => {
    const [web] = federatedServices(
      [inventory('a', [service('default', 'web', [9090, 80], [])]), inventory('b', [service('default', 'web', [443, 80, 10000], [])])],
      new Set(),
    );
    expect(web!.ports).toEqual([80, 443, 9090, 10000]);
  });

  it('flags the entries of offline zones as stale, and only those', () => {
    const [web] = federatedServices(
      [inventory('eu-1', [service('default', 'web', [80], [loc('eu', 'a', 1, 1)])]), inventory('us-1', [service('default', 'web', [80], [loc('us', 'b', 1, 1)])])],
      new Set(['us-1']),
    );
    expect(web!.zones.map((z) => [z.zone, z.stale])).toEqual([
      ['eu-1', false],
      ['us-1', true],
    ]);
    // A stale zone still counts: its last inventory is kept.
    expect(web!.endpoints).toBe(2);
  });

  it('keeps services of the same name in different namespaces apart', () => {
    const result = federatedServices([inventory('a', [service('prod', 'web', [80], []), service('dev', 'web', [81], [])])], new Set());
    expect(result.map((s) => [s.namespace, s.name, s.hostname, s.ports])).toEqual([
      ['dev', 'web', 'web.dev.mesh', [81]],
      ['prod', 'web', 'web.prod.mesh', [80]],
    ]);
  });

  it('sorts by namespace, then name', () => {
    const result = federatedServices(
      [inventory('b', [service('b-ns', 'a', [1], []), service('a-ns', 'z', [1], [])]), inventory('a', [service('a-ns', 'b', [1], []), service('b-ns', 'a', [1], [])])],
      new Set(),
    );
    expect(result.map((s) => `${s.namespace}/${s.name}`)).toEqual(['a-ns/b', 'a-ns/z', 'b-ns/a']);
  });

  it('counts the same with or without a zone\'s subset counts (which only subset clusters read)', () => {
    const plain = inventory('eu-1', [service('default', 'web', [80], [loc('eu', 'eu-1a', 3, 2)])]);
    const withSubsets: ZoneInventory = {
      ...plain,
      subsets: { tagKeys: ['version'], services: [{ namespace: 'default', name: 'web', localities: [{ region: 'eu', zone: 'eu-1a', tagSets: [{ tags: { version: 'v1' }, healthy: 2 }] }] }] },
    };
    expect(federatedServices([withSubsets], new Set())).toEqual(federatedServices([plain], new Set()));
  });

  it('does not reorder or change the inventories it is given', () => {
    const inventories = [inventory('z', [service('default', 'web', [80], [loc('r', 'z', 1, 1)])]), inventory('a', [service('default', 'web', [81], [])])];
    const copy = structuredClone(inventories);
    federatedServices(inventories, new Set());
    expect(inventories).toEqual(copy);
  });
});
