import { describe, expect, it } from 'vitest';
import { API_VERSION } from '../../core/schemas/common.js';
import type { Meta, PolicyRecord, TenantRecord } from '../store/records.js';
import {
  desiredTenantBucket,
  isInventoryKey,
  placementValue,
  planPlacement,
  planTenantBucket,
  policyValue,
  tenantStateValue,
  type BucketContent,
} from './desired-state.js';

const meta = (resourceVersion: string, generation = 1): Meta => ({ resourceVersion, generation, creationTimestamp: '2025-01-02T03:04:05.000Z', specHash: 'h' + resourceVersion });

const tenant = (overrides: Partial<TenantRecord> = {}): TenantRecord => ({
  name: 'acme',
  labels: {},
  spec: { trustDomain: 'acme.mesh', zones: ['eu-1', 'us-1'], quotas: { maxPolicies: 100, maxTokens: 10 } },
  meta: meta('3'),
  revision: 7,
  policyCount: 2,
  ...overrides,
});

const timeoutWeb: PolicyRecord = {
  tenant: 'acme',
  kind: 'Timeout',
  name: 'web',
  labels: { team: 'a' },
  spec: { targetRef: { kind: 'Service', name: 'web', namespace: 'default' }, request: '5s' },
  meta: meta('11', 2),
};
const retryApi: PolicyRecord = {
  tenant: 'acme',
  kind: 'Retry',
  name: 'api',
  labels: {},
  spec: { targetRef: { kind: 'Service', name: 'api', namespace: 'default' }, attempts: 3 },
  meta: meta('12'),
};

const inventoryValue = (zone: string) => JSON.stringify({ zone, tenant: 'acme', ingressAddress: null, services: [], publishedAt: '2025-01-01T00:00:00.000Z' });

describe('tenantStateValue', () => {
  it('is canonical JSON (sorted keys) of name, trust domain, zones and the tenant revision', () => {
    expect(tenantStateValue(tenant())).toBe('{"name":"acme","revision":7,"trustDomain":"acme.mesh","zones":["eu-1","us-1"]}');
  });

  it('carries an explicit revision instead of the record\'s when given', () => {
    expect(JSON.parse(tenantStateValue(tenant(), 42))).toMatchObject({ revision: 42 });
  });
});

describe('policyValue', () => {
  it('is the rendered policy document, without server-internal metadata', () => {
    const doc = JSON.parse(policyValue(timeoutWeb));
    expect(doc).toEqual({
      apiVersion: API_VERSION,
      kind: 'Timeout',
      metadata: { name: 'web', tenant: 'acme', labels: { team: 'a' }, resourceVersion: '11', generation: 2, creationTimestamp: '2025-01-02T03:04:05.000Z' },
      spec: { targetRef: { kind: 'Service', name: 'web', namespace: 'default' }, request: '5s' },
    });
    expect(doc.metadata).not.toHaveProperty('specHash');
  });

  it('does not depend on the key order of the spec', () => {
    const reordered: PolicyRecord = { ...timeoutWeb, spec: { request: '5s', targetRef: { namespace: 'default', name: 'web', kind: 'Service' } } };
    expect(policyValue(reordered)).toBe(policyValue(timeoutWeb));
  });
});

describe('desiredTenantBucket', () => {
  it('holds one key per policy and the tenant state', () => {
    const content = desiredTenantBucket(tenant(), [timeoutWeb, retryApi]);
    expect([...content.keys()].sort()).toEqual(['policy.Retry.api', 'policy.Timeout.web', 'tenant']);
    expect(content.get('policy.Timeout.web')).toBe(policyValue(timeoutWeb));
    expect(content.get('policy.Retry.api')).toBe(policyValue(retryApi));
    expect(content.get('tenant')).toBe(tenantStateValue(tenant()));
  });

  it('uses the tenant record\'s revision for the tenant state', () => {
    const content = desiredTenantBucket(tenant({ revision: 99 }), []);
    expect(JSON.parse(content.get('tenant')!)).toEqual({ name: 'acme', trustDomain: 'acme.mesh', zones: ['eu-1', 'us-1'], revision: 99 });
  });

  it('has only the tenant key when there are no policies, and never inventory keys', () => {
    const content = desiredTenantBucket(tenant(), []);
    expect([...content.keys()]).toEqual(['tenant']);
    expect([...content.keys()].some(isInventoryKey)).toBe(false);
  });
});

describe('planTenantBucket', () => {
  const desired = () => desiredTenantBucket(tenant(), [timeoutWeb, retryApi]);

  it('puts everything into an empty bucket, tenant state last', () => {
    const plan = planTenantBucket(desired(), new Map(), ['eu-1']);
    expect(plan.deletes).toEqual([]);
    expect(plan.puts.map(([k]) => k).sort()).toEqual(['policy.Retry.api', 'policy.Timeout.web', 'tenant']);
    expect(plan.puts.at(-1)).toEqual(['tenant', tenantStateValue(tenant())]);
  });

  it('plans nothing when the bucket already matches', () => {
    expect(planTenantBucket(desired(), new Map(desired()), ['eu-1'])).toEqual({ puts: [], deletes: [] });
  });

  it('plans nothing for inventory keys of zones the tenant is placed in', () => {
    const actual: BucketContent = new Map(desired());
    actual.set('inventory.eu-1', inventoryValue('eu-1'));
    actual.set('inventory.us-1', inventoryValue('us-1'));
    expect(planTenantBucket(desired(), actual, ['eu-1', 'us-1'])).toEqual({ puts: [], deletes: [] });
  });

  it('puts only the policy that changed, then the tenant state', () => {
    const actual: BucketContent = new Map(desired());
    actual.set('policy.Timeout.web', policyValue({ ...timeoutWeb, spec: { ...timeoutWeb.spec, request: '1s' }, meta: meta('5') }));
    const plan = planTenantBucket(desired(), actual, []);
    expect(plan).toEqual({
      puts: [
        ['policy.Timeout.web', policyValue(timeoutWeb)],
        ['tenant', tenantStateValue(tenant())],
      ],
      deletes: [],
    });
  });

  it('puts the tenant state alone when only it differs', () => {
    const actual: BucketContent = new Map(desired());
    actual.set('tenant', tenantStateValue(tenant(), 6));
    expect(planTenantBucket(desired(), actual, [])).toEqual({ puts: [['tenant', tenantStateValue(tenant())]], deletes: [] });
  });

  it('puts the tenant state when it is missing', () => {
    const actual: BucketContent = new Map(desired());
    actual.delete('tenant');
    expect(planTenantBucket(desired(), actual, [])).toEqual({ puts: [['tenant', tenantStateValue(tenant())]], deletes: [] });
  });

  it('deletes policy keys Redis no longer has (sorted) and re-puts the tenant state even if unchanged', () => {
    const actual: BucketContent = new Map(desired());
    actual.set('policy.Timeout.old', '{}');
    actual.set('policy.CircuitBreaker.gone', '{}');
    const plan = planTenantBucket(desired(), actual, []);
    expect(plan.deletes).toEqual(['policy.CircuitBreaker.gone', 'policy.Timeout.old']);
    expect(plan.puts).toEqual([['tenant', tenantStateValue(tenant())]]);
  });

  it('deletes the inventory of a zone the tenant is no longer placed in, keeping the placed ones', () => {
    const actual: BucketContent = new Map(desired());
    actual.set('inventory.eu-1', inventoryValue('eu-1'));
    actual.set('inventory.ap-1', inventoryValue('ap-1'));
    const plan = planTenantBucket(desired(), actual, ['eu-1', 'us-1']);
    expect(plan.deletes).toEqual(['inventory.ap-1']);
    expect(plan.deletes).not.toContain('inventory.eu-1');
    expect(plan.puts).toEqual([['tenant', tenantStateValue(tenant())]]);
  });

  it('deletes every inventory key once the tenant is placed nowhere', () => {
    const actual: BucketContent = new Map(desired());
    actual.set('inventory.eu-1', inventoryValue('eu-1'));
    actual.set('inventory.us-1', inventoryValue('us-1'));
    expect(planTenantBucket(desired(), actual, []).deletes).toEqual(['inventory.eu-1', 'inventory.us-1']);
  });

  it('deletes keys it does not recognise', () => {
    const actual: BucketContent = new Map(desired());
    actual.set('garbage', 'x');
    expect(planTenantBucket(desired(), actual, ['eu-1']).deletes).toEqual(['garbage']);
  });

  it('puts the tenant state last even when several policies change and keys are deleted', () => {
    const actual: BucketContent = new Map([
      ['tenant', tenantStateValue(tenant(), 1)],
      ['policy.Timeout.old', '{}'],
    ]);
    const plan = planTenantBucket(desired(), actual, []);
    expect(plan.puts).toHaveLength(3);
    expect(plan.puts.filter(([k]) => k === 'tenant')).toHaveLength(1);
    expect(plan.puts.at(-1)![0]).toBe('tenant');
    expect(plan.deletes).toEqual(['policy.Timeout.old']);
  });
});

describe('placementValue', () => {
  it('sorts the tenants by name and serializes canonically', () => {
    expect(placementValue('eu-1', [{ name: 'zeta', trustDomain: 'z.mesh' }, { name: 'acme', trustDomain: 'acme.mesh' }])).toBe(
      '{"tenants":[{"name":"acme","trustDomain":"acme.mesh"},{"name":"zeta","trustDomain":"z.mesh"}],"zone":"eu-1"}',
    );
  });

  it('gives the same value whatever the input order, without reordering the input', () => {
    const input = [{ name: 'b', trustDomain: 'b.mesh' }, { name: 'c', trustDomain: 'c.mesh' }, { name: 'a', trustDomain: 'a.mesh' }];
    const before = input.map((t) => t.name);
    expect(placementValue('z', input)).toBe(placementValue('z', [...input].reverse()));
    expect(input.map((t) => t.name)).toEqual(before);
  });

  it('serializes a zone with no tenants as an empty list', () => {
    expect(JSON.parse(placementValue('z', []))).toEqual({ zone: 'z', tenants: [] });
  });
});

describe('planPlacement', () => {
  const a = placementValue('a', [{ name: 't1', trustDomain: 't1.mesh' }]);
  const b = placementValue('b', []);

  it('puts new and changed zones, and only those', () => {
    const desired: BucketContent = new Map([['a', a], ['b', b], ['c', placementValue('c', [])]]);
    const actual: BucketContent = new Map([['a', a], ['b', placementValue('b', [{ name: 't1', trustDomain: 't1.mesh' }])]]);
    expect(planPlacement(desired, actual)).toEqual({ puts: [['b', b], ['c', placementValue('c', [])]], deletes: [] });
  });

  it('deletes keys of zones that no longer exist, sorted', () => {
    const desired: BucketContent = new Map([['b', b]]);
    const actual: BucketContent = new Map([['z', a], ['b', b], ['a', a]]);
    expect(planPlacement(desired, actual)).toEqual({ puts: [], deletes: ['a', 'z'] });
  });

  it('plans nothing when the bucket matches', () => {
    const desired: BucketContent = new Map([['a', a], ['b', b]]);
    expect(planPlacement(desired, new Map(desired))).toEqual({ puts: [], deletes: [] });
  });
});

describe('isInventoryKey', () => {
  it('recognises inventory keys only', () => {
    expect(isInventoryKey('inventory.eu-1')).toBe(true);
    expect(isInventoryKey('policy.Timeout.inventory')).toBe(false);
    expect(isInventoryKey('tenant')).toBe(false);
  });
});
