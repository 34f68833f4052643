import { describe, expect, it } from 'vitest';
import type { InventoryRejection } from '../../core/federation/inventory-check.js';
import type { ZoneInventory } from '../../core/schemas/federation.js';
import type { PolicyDocument } from '../../core/schemas/policies/index.js';
import type { DocumentOutcomes, DocumentRejection } from './document-check.js';
import { applyTenantEntry, emptyTenantView, type TenantEntry, type TenantView } from './tenant-view.js';

/** A valid policy of `kind` (Timeout, Retry or TrafficPermission) targeting the service of its name. */
const policy = (kind: 'Timeout' | 'Retry' | 'TrafficPermission', name: string, resourceVersion: string, request = '5s'): PolicyDocument => {
  const targetRef = { kind: 'Service', name, namespace: 'default' };
  const specs = {
    Timeout: { targetRef, request },
    Retry: { targetRef, attempts: 2, retryOn: ['5xx'] },
    TrafficPermission: { targetRef, rules: [{ action: 'Allow', sources: [{ namespace: 'default' }] }] },
  };
  return {
    apiVersion: 'meshfed.io/v1alpha1',
    kind,
    metadata: { name, tenant: 'acme', labels: {}, resourceVersion, generation: 1, creationTimestamp: '2025-01-01T00:00:00.000Z' },
    spec: specs[kind],
  };
};

/** Records what applyTenantEntry tells about documents. */
function documentOutcomes() {
  const told: Array<DocumentRejection | { settled: string }> = [];
  const documents: DocumentOutcomes = { rejected: (r) => void told.push(r), settled: (tenant, key) => void told.push({ settled: `${tenant}/${key}` }) };
  return { told, documents };
}

const inventory = (zone: string, services = 0): ZoneInventory => ({
  zone,
  tenant: 'acme',
  ingressAddress: `${zone}.example:10001`,
  services: Array.from({ length: services }, (_, i) => ({ namespace: 'default', name: `svc-${i}`, ports: [{ port: 80 }], localities: [] })),
  publishedAt: '2025-01-01T00:00:00.000Z',
});

const put = (key: string, sequence: number, value: unknown): TenantEntry => ({ key, operation: 'PUT', sequence, value });
const del = (key: string, sequence: number, operation: 'DEL' | 'PURGE' = 'DEL'): TenantEntry => ({ key, operation, sequence });

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** A view with a tenant state, one policy and one inventory, at sequence 3. */
function populated(): TenantView {
  let view = emptyTenantView('acme', 'acme.mesh');
  view = applyTenantEntry(view, put('policy.Timeout.web', 1, policy('Timeout', 'web', '10')));
  view = applyTenantEntry(view, put('inventory.eu-1', 2, inventory('eu-1', 1)));
  view = applyTenantEntry(view, put('tenant', 3, { name: 'acme', trustDomain: 'acme.mesh', zones: ['eu-1', 'us-1'], revision: 4 }));
  return view;
}

describe('emptyTenantView', () => {
  it('starts at revision and sequence 0 with nothing in it', () => {
    expect(emptyTenantView('acme', 'acme.mesh')).toEqual({
      name: 'acme',
      trustDomain: 'acme.mesh',
      zones: [],
      revision: 0,
      sequence: 0,
      bucketCreated: '',
      policies: {},
      inventories: {},
    });
  });
});

describe('applyTenantEntry', () => {
  it('applies a tenant state: revision, trust domain and zones, and the sequence', () => {
    const view = applyTenantEntry(emptyTenantView('acme', 'old.mesh'), put('tenant', 7, { name: 'acme', trustDomain: 'acme.mesh', zones: ['eu-1'], revision: 12 }));
    expect(view).toMatchObject({ revision: 12, trustDomain: 'acme.mesh', zones: ['eu-1'], sequence: 7 });
  });

  it('stores a policy under Kind/name, and replaces it on a later PUT', () => {
    let view = applyTenantEntry(emptyTenantView('acme', 'acme.mesh'), put('policy.Timeout.web', 1, policy('Timeout', 'web', '10')));
    expect(Object.keys(view.policies)).toEqual(['Timeout/web']);
    expect(view.policies['Timeout/web']!.metadata.resourceVersion).toBe('10');
    view = applyTenantEntry(view, put('policy.Timeout.web', 2, policy('Timeout', 'web', '11', '9s')));
    expect(view.policies['Timeout/web']!.metadata.resourceVersion).toBe('11');
    expect(view.policies['Timeout/web']!.spec).toMatchObject({ request: '9s' });
    expect(view.sequence).toBe(2);
  });

  it('removes a policy on DEL and on PURGE', () => {
    const withTwo = applyTenantEntry(populated(), put('policy.Retry.api', 4, policy('Retry', 'api', '12')));
    const afterDel = applyTenantEntry(withTwo, del('policy.Timeout.web', 5));
    expect(Object.keys(afterDel.policies)).toEqual(['Retry/api']);
    const afterPurge = applyTenantEntry(afterDel, del('policy.Retry.api', 6, 'PURGE'));
    expect(afterPurge.policies).toEqual({});
    expect(afterPurge.sequence).toBe(6);
  });

  it('stores a zone\'s inventory under its zone, and removes it on DEL and PURGE', () => {
    let view = applyTenantEntry(populated(), put('inventory.us-1', 4, inventory('us-1', 2)));
    expect(Object.keys(view.inventories).sort()).toEqual(['eu-1', 'us-1']);
    expect(view.inventories['us-1']!.services).toHaveLength(2);
    view = applyTenantEntry(view, del('inventory.eu-1', 5));
    expect(Object.keys(view.inventories)).toEqual(['us-1']);
    view = applyTenantEntry(view, del('inventory.us-1', 6, 'PURGE'));
    expect(view.inventories).toEqual({});
  });

  it('keeps revision, trust domain and zones on a DEL of the tenant key', () => {
    const view = applyTenantEntry(populated(), del('tenant', 4));
    expect(view).toMatchObject({ revision: 4, trustDomain: 'acme.mesh', zones: ['eu-1', 'us-1'], sequence: 4 });
  });

  it('ignores entries at or below the sequence already applied', () => {
    const view = populated();
    expect(applyTenantEntry(view, del('policy.Timeout.web', 3))).toBe(view);
    expect(applyTenantEntry(view, put('tenant', 2, { name: 'acme', trustDomain: 'x.mesh', zones: [], revision: 99 }))).toBe(view);
    expect(applyTenantEntry(view, put('policy.Retry.api', 1, policy('Retry', 'api', '1')))).toBe(view);
    expect(view.policies['Timeout/web']).toBeDefined();
    expect(view.revision).toBe(4);
  });

  it('keeps the last valid tenant state when a new one fails the schema, moves the sequence on and tells why', () => {
    const view = populated();
    for (const value of [undefined, null, 'x', { name: 'acme', trustDomain: 'acme.mesh', zones: [], revision: 'five' }, { revision: 9 }]) {
      const { told, documents } = documentOutcomes();
      const next = applyTenantEntry(view, put('tenant', 10, value), { documents });
      expect(next).toMatchObject({ revision: 4, trustDomain: 'acme.mesh', zones: ['eu-1', 'us-1'], sequence: 10 });
      expect(told).toEqual([{ tenant: 'acme', key: 'tenant', kind: 'TenantState', revision: 10, problem: expect.objectContaining({ path: expect.any(String) as string }) as object, action: 'kept-previous' }]);
    }
  });

  it('drops a policy (other than a TrafficPermission) whose new value fails its check: defaults apply, as after a fresh sync', () => {
    const view = applyTenantEntry(populated(), put('policy.Retry.api', 4, policy('Retry', 'api', '12')));
    const invalid = [undefined, null, 42, 'text', { kind: 'Timeout' }, { metadata: {}, spec: {} }, { ...policy('Timeout', 'web', '11'), spec: { targetRef: { kind: 'Service', name: 'web', namespace: 'default' }, request: 5 } }];
    for (const value of invalid) {
      const { told, documents } = documentOutcomes();
      const next = applyTenantEntry(view, put('policy.Timeout.web', 10, value), { documents });
      expect(Object.keys(next.policies)).toEqual(['Retry/api']);
      expect(next.sequence).toBe(10);
      expect(told).toMatchObject([{ tenant: 'acme', key: 'policy.Timeout.web', kind: 'Timeout', revision: 10, action: 'dropped' }]);
    }
    expect(applyTenantEntry(view, put('policy.Retry.new', 10, null)).policies).not.toHaveProperty('Retry/new');
  });

  it('counts a policy of a kind this zone CP does not know as refused, of kind "unknown"', () => {
    const { told, documents } = documentOutcomes();
    const next = applyTenantEntry(populated(), put('policy.RateLimit.web', 10, { ...policy('Timeout', 'web', '1'), kind: 'RateLimit' }), { documents });
    expect(next.policies).toEqual(populated().policies);
    expect(told).toMatchObject([{ kind: 'unknown', action: 'dropped', problem: { path: '/kind' } }]);
  });

  it('fences a TrafficPermission whose new value fails its check: its target admits no caller, from the start or after a valid one', () => {
    const valid = policy('TrafficPermission', 'web', '1');
    const refused = { ...valid, spec: { ...valid.spec, rules: [{ action: 'Allow', sources: [{ namespace: 'default', ipBlock: '0.0.0.0/0' }] }] } };
    const fence = { kind: 'TrafficPermission', metadata: { name: 'web' }, spec: { targetRef: valid.spec.targetRef, rules: [] } };
    const { told, documents } = documentOutcomes();
    const live = applyTenantEntry(applyTenantEntry(populated(), put('policy.TrafficPermission.web', 4, valid)), put('policy.TrafficPermission.web', 5, refused), { documents });
    expect(live.policies['TrafficPermission/web']).toMatchObject(fence);
    expect(told).toMatchObject([{ key: 'policy.TrafficPermission.web', kind: 'TrafficPermission', revision: 5, action: 'fenced', problem: { path: '/spec/rules/0/sources/0/ipBlock' } }]);
    const fresh = applyTenantEntry(emptyTenantView('acme', 'acme.mesh'), put('policy.TrafficPermission.web', 5, refused));
    expect(fresh.policies['TrafficPermission/web']).toEqual(live.policies['TrafficPermission/web']);
    // A valid value, or the key's deletion, lifts the fence and settles the key.
    const lifted = applyTenantEntry(live, put('policy.TrafficPermission.web', 6, valid), { documents });
    expect(lifted.policies['TrafficPermission/web']).toEqual(valid);
    expect(applyTenantEntry(live, del('policy.TrafficPermission.web', 6), { documents }).policies).not.toHaveProperty('TrafficPermission/web');
    expect(told.slice(1)).toEqual([{ settled: 'acme/policy.TrafficPermission.web' }, { settled: 'acme/policy.TrafficPermission.web' }]);
  });

  it('refuses a value that is not JSON as such, whatever its key', () => {
    const rejected: InventoryRejection[] = [];
    const inventories = { rejected: (r: InventoryRejection) => void rejected.push(r), accepted: () => undefined };
    const { told, documents } = documentOutcomes();
    const notJson = (key: string): TenantEntry => ({ key, operation: 'PUT', sequence: 10, notJson: true });
    const view = populated();
    expect(applyTenantEntry(view, notJson('tenant'), { documents })).toMatchObject({ revision: 4, sequence: 10 });
    expect(applyTenantEntry(view, notJson('policy.Timeout.web'), { documents }).policies).toEqual({});
    expect(applyTenantEntry(view, notJson('inventory.eu-1'), { inventories }).inventories).toEqual({});
    expect(told.map((t) => 'problem' in t && t.problem)).toEqual([{ path: '', message: 'not JSON' }, { path: '', message: 'not JSON' }]);
    expect(rejected.map((r) => r.problem)).toEqual([{ path: '', message: 'not JSON' }]);
  });

  it('settles a key when a valid document or its deletion follows', () => {
    const { told, documents } = documentOutcomes();
    let view = applyTenantEntry(emptyTenantView('acme', 'acme.mesh'), put('tenant', 1, { name: 'acme', trustDomain: 'acme.mesh', zones: [], revision: 1 }), { documents });
    view = applyTenantEntry(view, put('policy.Timeout.web', 2, policy('Timeout', 'web', '1')), { documents });
    applyTenantEntry(view, del('policy.Timeout.web', 3), { documents });
    expect(told).toEqual([{ settled: 'acme/tenant' }, { settled: 'acme/policy.Timeout.web' }, { settled: 'acme/policy.Timeout.web' }]);
  });

  it('drops the zone\'s inventory when its new value fails the schema: the zone counts as having published none, not its stale one', () => {
    const view = populated();
    const { services: _services, ...missingServices } = inventory('eu-1');
    for (const value of [undefined, 'x', { zone: 'eu-1' }, missingServices, { ...inventory('eu-1'), ingressAddress: 5 }]) {
      const next = applyTenantEntry(view, put('inventory.eu-1', 10, value));
      expect(next.inventories).toEqual({});
      expect(next.sequence).toBe(10);
      expect(view.inventories).toHaveProperty('eu-1');
    }
  });

  it('holds after a refused inventory what a zone CP syncing the bucket from scratch holds', () => {
    const tooManyPorts = { ...inventory('eu-1', 1), services: [{ ...inventory('eu-1', 1).services[0]!, ports: Array.from({ length: 65 }, (_, i) => ({ port: i + 1 })) }] };
    const entries = [put('inventory.eu-1', 1, inventory('eu-1', 1)), put('inventory.us-1', 2, inventory('us-1', 2)), put('inventory.eu-1', 3, tooManyPorts)];
    const live = entries.reduce((view, entry) => applyTenantEntry(view, entry), emptyTenantView('acme', 'acme.mesh'));
    // From scratch, the bucket delivers each key's last value only.
    const fresh = entries.slice(1).reduce((view, entry) => applyTenantEntry(view, entry), emptyTenantView('acme', 'acme.mesh'));
    expect(live.inventories).toEqual(fresh.inventories);
    expect(Object.keys(live.inventories)).toEqual(['us-1']);
  });

  it('tells who is listening what became of each inventory, with the first schema problem and the service it is in', () => {
    const rejected: InventoryRejection[] = [];
    const accepted: string[] = [];
    const outcomes = { rejected: (r: InventoryRejection) => rejected.push(r), accepted: (tenant: string, zone: string) => accepted.push(`${tenant}/${zone}`) };
    const bad = inventory('eu-1', 3);
    bad.services[2] = { ...bad.services[2]!, localities: [{ region: 'eu', zone: 'eu-1a', endpoints: -1, healthy: 0 }] };
    let view = applyTenantEntry(emptyTenantView('acme', 'acme.mesh'), put('inventory.eu-1', 1, inventory('eu-1', 1)), { inventories: outcomes });
    view = applyTenantEntry(view, put('inventory.eu-1', 2, bad), { inventories: outcomes });
    view = applyTenantEntry(view, put('policy.Timeout.web', 3, policy('Timeout', 'web', '1')), { inventories: outcomes });
    expect(accepted).toEqual(['acme/eu-1']);
    expect(rejected).toEqual([{ tenant: 'acme', zone: 'eu-1', revision: 2, problem: { path: '/services/2/localities/0/endpoints', message: expect.stringMatching(/greater or equal to 0/) as string, service: 'default/svc-2' } }]);
    // Redelivered entries change nothing and tell nothing.
    expect(applyTenantEntry(view, put('inventory.eu-1', 2, bad), { inventories: outcomes })).toBe(view);
    expect(rejected).toHaveLength(1);
  });

  it('ignores keys it does not recognise, moving only the sequence', () => {
    const view = populated();
    const next = applyTenantEntry(view, put('something-else', 10, { a: 1 }));
    expect(next).toEqual({ ...view, sequence: 10 });
  });

  it('does not let a key that merely starts like a policy key touch that policy', () => {
    // "policy.Timeout.web.x" is not the key of Timeout/web (policy names have no dots). The publisher's
    // repair deletes such a stray key; that DEL must not take Timeout/web out of the zone's view.
    const view = populated();
    expect(applyTenantEntry(view, del('policy.Timeout.web.x', 10)).policies).toEqual(view.policies);
    expect(applyTenantEntry(view, put('policy.Timeout.web.x', 10, policy('Timeout', 'other', '99'))).policies).toEqual(view.policies);
  });

  it('never changes the view it is given', () => {
    const view = deepFreeze(populated());
    const copy = structuredClone(view);
    const entries: TenantEntry[] = [
      put('tenant', 10, { name: 'acme', trustDomain: 'acme.mesh', zones: [], revision: 5 }),
      put('policy.Timeout.web', 11, policy('Timeout', 'web', '20')),
      put('policy.Retry.api', 12, policy('Retry', 'api', '21')),
      del('policy.Timeout.web', 13),
      put('inventory.us-1', 14, inventory('us-1')),
      del('inventory.eu-1', 15, 'PURGE'),
    ];
    // A frozen view throws on any write in strict mode, and must still equal its copy.
    for (const entry of entries) expect(() => applyTenantEntry(view, entry)).not.toThrow();
    expect(view).toEqual(copy);
  });

  it('returns views that share nothing mutable with their predecessor', () => {
    const before = populated();
    const after = applyTenantEntry(before, put('policy.Retry.api', 4, policy('Retry', 'api', '12')));
    expect(after.policies).not.toBe(before.policies);
    expect(before.policies).not.toHaveProperty('Retry/api');
    const afterInventory = applyTenantEntry(after, put('inventory.us-1', 5, inventory('us-1')));
    expect(afterInventory.inventories).not.toBe(after.inventories);
    expect(after.inventories).not.toHaveProperty('us-1');
  });
});

describe('inventory identity', () => {
  it('files an inventory under the zone its key names, whatever zone and tenant the value claims', () => {
    const view = emptyTenantView('acme', 'acme.mesh');
    const forged = { zone: 'zone-b', tenant: 'globex', ingressAddress: '10.0.0.66:1', services: [], publishedAt: '2026-01-01T00:00:00.000Z' };
    const next = applyTenantEntry(view, { key: 'inventory.zone-a', operation: 'PUT', sequence: 1, value: forged });
    expect(Object.keys(next.inventories)).toEqual(['zone-a']);
    expect(next.inventories['zone-a']).toMatchObject({ zone: 'zone-a', tenant: 'acme', ingressAddress: '10.0.0.66:1' });
  });
});
