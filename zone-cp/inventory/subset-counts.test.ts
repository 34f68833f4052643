import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { MAX_LOCALITIES_PER_SERVICE, MAX_SUBSET_TAG_KEYS, MAX_TAG_SETS_PER_LOCALITY, ZoneInventory } from '../../core/schemas/federation.js';
import type { PolicyDocument } from '../../core/schemas/policies/index.js';
import type { LocalEndpoint } from '../discovery/model.js';
import { inventoryFromEndpoints } from './from-endpoints.js';
import { inventoriesFor, publishableInventory } from './inventory-publisher.js';
import { subsetCountsFromEndpoints, subsetTagKeys, subsetsWithinInventory } from './subset-counts.js';

const endpoint = (over: Partial<LocalEndpoint>): LocalEndpoint => ({
  tenant: 'acme',
  namespace: 'shop',
  service: 'web',
  instance: 'web-1',
  address: '10.0.0.1',
  ports: [{ port: 8080, protocol: 'http' }],
  serviceAccount: 'web',
  tags: {},
  locality: { region: 'eu-west', zone: 'zone-a' },
  healthy: true,
  ...over,
});

const document = (kind: PolicyDocument['kind'], name: string, spec: Record<string, unknown>): PolicyDocument => ({
  apiVersion: 'meshfed.io/v1alpha1',
  kind,
  metadata: { name, tenant: 'acme', labels: {}, resourceVersion: '1', generation: 1, creationTimestamp: '2025-01-01T00:00:00.000Z' },
  spec,
});
const route = (name: string, ...splits: Array<Record<string, string> | undefined>) =>
  document('TrafficRoute', name, { targetRef: { kind: 'Tenant' }, rules: [{ split: splits.map((tags, i) => ({ weight: i === 0 ? 100 : 0, ...(tags ? { tags } : {}) })) }] });

describe('subsetTagKeys', () => {
  it('collects the tag keys of every TrafficRoute split, sorted and once each; other kinds do not count', () => {
    const policies = [
      route('b', { version: 'v1' }, { version: 'v2', track: 'canary' }),
      route('a', undefined, { 'app.kubernetes.io/version': '2' }),
      document('Retry', 'r', { targetRef: { kind: 'Tenant' }, attempts: 2, tags: { ignored: 'x' } }),
    ];
    expect(subsetTagKeys(policies)).toEqual(['app.kubernetes.io/version', 'track', 'version']);
    expect(subsetTagKeys([])).toEqual([]);
  });

  it('reads a malformed spec without throwing, and keeps only the first keys beyond the cap', () => {
    expect(subsetTagKeys([document('TrafficRoute', 'x', { rules: 'nope' }), document('TrafficRoute', 'y', { rules: [{ split: [null] }] })])).toEqual([]);
    const many = Array.from({ length: MAX_SUBSET_TAG_KEYS + 5 }, (_, i) => ({ [`k${String(i).padStart(2, '0')}`]: 'v' }));
    const keys = subsetTagKeys([route('many', ...many)]);
    expect(keys).toHaveLength(MAX_SUBSET_TAG_KEYS);
    expect(keys[0]).toBe('k00');
  });
});

describe('subsetCountsFromEndpoints', () => {
  it('counts healthy endpoints per locality by the values of the counted keys only', () => {
    const counts = subsetCountsFromEndpoints(
      [
        endpoint({ instance: 'v1-a', tags: { version: 'v1', 'pod-name': 'a' } }),
        endpoint({ instance: 'v1-b', tags: { version: 'v1', 'pod-name': 'b' } }),
        endpoint({ instance: 'v1-sick', tags: { version: 'v1' }, healthy: false }),
        endpoint({ instance: 'v2-a', tags: { version: 'v2', track: 'canary' }, locality: { region: 'eu-west', zone: 'zone-a', subzone: 'rack-2' } }),
        // Carries none of the keys: in no subset, not listed.
        endpoint({ instance: 'plain', tags: { team: 'x' } }),
        endpoint({ service: 'db', instance: 'db-1', tags: {} }),
      ],
      { acme: ['track', 'version'] },
    );
    expect(counts).toEqual({
      acme: {
        tagKeys: ['track', 'version'],
        services: [
          {
            namespace: 'shop',
            name: 'web',
            localities: [
              { region: 'eu-west', zone: 'zone-a', tagSets: [{ tags: { version: 'v1' }, healthy: 2 }] },
              { region: 'eu-west', zone: 'zone-a', subzone: 'rack-2', tagSets: [{ tags: { track: 'canary', version: 'v2' }, healthy: 1 }] },
            ],
          },
        ],
      },
    });
  });

  it('reports a tenant whose endpoints carry none of its keys as counted and empty, and nothing for tenants without keys (no TrafficRoute tags)', () => {
    const counts = subsetCountsFromEndpoints([endpoint({ tags: { team: 'x' } }), endpoint({ tenant: 'globex', instance: 'g', tags: { version: 'v1' } })], { acme: ['version'], globex: [] });
    expect(counts).toEqual({ acme: { tagKeys: ['version'], services: [] } });
  });

  it('stays as small as the tag combinations, whatever the number of instances', () => {
    const endpoints = Array.from({ length: 5000 }, (_, i) => endpoint({ instance: `web-${i}`, address: `10.1.${i >> 8}.${i & 255}`, tags: { version: `v${i % 3}`, 'pod-name': `web-${i}` } }));
    const [web] = subsetCountsFromEndpoints(endpoints, { acme: ['version'] }).acme!.services;
    expect(web!.localities[0]!.tagSets).toEqual([
      { tags: { version: 'v0' }, healthy: 1667 },
      { tags: { version: 'v1' }, healthy: 1667 },
      { tags: { version: 'v2' }, healthy: 1666 },
    ]);
  });

  it(`lists up to ${MAX_TAG_SETS_PER_LOCALITY} distinct tag sets per locality; beyond, none, and marks the locality truncated`, () => {
    const distinct = (n: number, locality = { region: 'eu-west', zone: 'zone-a' }) =>
      Array.from({ length: n }, (_, i) => endpoint({ instance: `web-${locality.zone}-${i}`, tags: { build: `b${i}` }, locality }));
    const atCap = subsetCountsFromEndpoints(distinct(MAX_TAG_SETS_PER_LOCALITY), { acme: ['build'] }).acme!.services[0]!.localities[0]!;
    expect(atCap.tagSets).toHaveLength(MAX_TAG_SETS_PER_LOCALITY);
    expect(atCap.truncated).toBeUndefined();
    // Another locality of the same service keeps its own counts.
    const over = subsetCountsFromEndpoints([...distinct(MAX_TAG_SETS_PER_LOCALITY + 1), ...distinct(2, { region: 'eu-west', zone: 'zone-b' })], { acme: ['build'] }).acme!.services[0]!.localities;
    expect(over).toEqual([
      { region: 'eu-west', zone: 'zone-a', tagSets: [], truncated: true },
      { region: 'eu-west', zone: 'zone-b', tagSets: [{ tags: { build: 'b0' }, healthy: 1 }, { tags: { build: 'b1' }, healthy: 1 }] },
    ]);
  });

  it('leaves out a tag value too long for any subset to select, and keys inherited from Object.prototype', () => {
    const counts = subsetCountsFromEndpoints([endpoint({ tags: { version: 'v'.repeat(64) } }), endpoint({ instance: 'web-2', tags: {} })], { acme: ['constructor', 'version'] });
    expect(counts.acme!.services).toEqual([]);
  });

  it('makes inventories every reader accepts, and the same inventory without subsets is accepted too', () => {
    const endpoints = [endpoint({ tags: { version: 'v1' } }), endpoint({ instance: 'web-2', tags: { version: 'v2' } })];
    const [withSubsets] = inventoriesFor('zone-a', ['acme'], inventoryFromEndpoints(endpoints).services, '192.0.2.1:10001', '2025-01-01T00:00:00.000Z', subsetCountsFromEndpoints(endpoints, { acme: ['version'] }));
    expect(withSubsets!.subsets!.services[0]!.localities[0]!.tagSets).toHaveLength(2);
    expect(Value.Check(ZoneInventory, withSubsets)).toBe(true);
    const { subsets: _, ...older } = withSubsets!;
    expect(Value.Check(ZoneInventory, older)).toBe(true);
    // A later version may add to the subset counts without its inventories being refused here.
    const [locality] = withSubsets!.subsets!.services[0]!.localities;
    const later = { ...withSubsets!, subsets: { ...withSubsets!.subsets!, more: 1, services: [{ namespace: 'shop', name: 'web', localities: [{ ...locality, more: 1 }], more: 1 }] } };
    expect(Value.Check(ZoneInventory, later)).toBe(true);
  });

  it(`lists up to ${MAX_LOCALITIES_PER_SERVICE} localities per service: those the inventory lists, so every reader accepts the inventory`, () => {
    // Locality i has i+1 healthy endpoints of the service, only one of them tagged; the untagged ones still rank it.
    const endpoints: LocalEndpoint[] = [];
    const total = MAX_LOCALITIES_PER_SERVICE + 10;
    for (let i = 0; i < total; i++) {
      const locality = { region: 'eu-west', zone: 'zone-a', subzone: `rack-${String(i).padStart(3, '0')}` };
      for (let n = 0; n <= i; n++) endpoints.push(endpoint({ instance: `web-${i}-${n}`, locality, tags: n === 0 ? { version: 'v1' } : {} }));
    }
    const counts = subsetCountsFromEndpoints(endpoints, { acme: ['version'] });
    const listed = counts.acme!.services[0]!.localities.map((l) => l.subzone);
    const { services } = inventoryFromEndpoints(endpoints);
    expect(listed).toEqual(services.acme![0]!.localities.map((l) => l.subzone));
    expect(listed).toHaveLength(MAX_LOCALITIES_PER_SERVICE);
    // The ten with the fewest healthy endpoints are left out.
    expect(listed[0]).toBe('rack-010');
    const [inventory] = inventoriesFor('zone-a', ['acme'], services, null, '2025-01-01T00:00:00.000Z', counts);
    expect(Value.Check(ZoneInventory, inventory)).toBe(true);
  });

  it('keeps the counts of the services the inventory kept: one service it leaves out does not cost the tenant its subset counts', () => {
    const endpoints = [
      endpoint({ tags: { version: 'v1' } }),
      endpoint({ instance: 'web-2', tags: { version: 'v2' } }),
      // A zone label the inventory schema refuses: the service is left out of the inventory.
      endpoint({ service: 'odd', instance: 'odd-1', tags: { version: 'v1' }, locality: { region: 'eu-west', zone: 'z'.repeat(64) } }),
    ];
    const { services } = inventoryFromEndpoints(endpoints);
    expect(services.acme!.map((s) => s.name)).toEqual(['web']);
    const counts = subsetCountsFromEndpoints(endpoints, { acme: ['version'] });
    expect(counts.acme!.services.map((s) => s.name)).toEqual(['odd', 'web']);

    const within = subsetsWithinInventory(counts, services);
    expect(within.acme!.services.map((s) => s.name)).toEqual(['web']);
    const [inventory] = inventoriesFor('zone-a', ['acme'], services, null, '2025-01-01T00:00:00.000Z', within);
    const published = publishableInventory(inventory!, undefined);
    if (!published.ok) throw new Error(`refused: ${JSON.stringify(published.refusal)}`);
    expect(published.subsetsLeftOut).toBeUndefined();
    expect((JSON.parse(published.text) as { subsets?: { services: Array<{ name: string }> } }).subsets?.services.map((s) => s.name)).toEqual(['web']);
    // Unrestricted, the dropped service's counts would have cost the tenant all of them.
    const [unrestricted] = inventoriesFor('zone-a', ['acme'], services, null, '2025-01-01T00:00:00.000Z', counts);
    expect(publishableInventory(unrestricted!, undefined)).toMatchObject({ ok: true, subsetsLeftOut: expect.anything() });
  });
});
