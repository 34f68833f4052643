import { describe, expect, it } from 'vitest';
import { INVENTORY_KEY_PREFIX, POLICY_KEY_PREFIX, TENANT_STATE_KEY, classifyTenantKey, inventoryKey, natsNames, policyKey } from './names.js';

describe('natsNames', () => {
  it('prefixes every name with the default federation id "meshfed"', () => {
    const names = natsNames();
    expect(names.federationId).toBe('meshfed');
    expect(names.placementBucket).toBe('meshfed-placement');
    expect(names.tenantBucket('acme')).toBe('meshfed-tenant-acme');
    expect(names.tenantBucketPrefix).toBe('meshfed-tenant-');
    expect(names.heartbeatSubject('eu-1')).toBe('meshfed.zone.eu-1.heartbeat');
    expect(names.allHeartbeats).toBe('meshfed.zone.*.heartbeat');
  });

  it('uses a given federation id everywhere', () => {
    const names = natsNames('fed_2');
    expect(names.placementBucket).toBe('fed_2-placement');
    expect(names.tenantBucket('acme')).toBe('fed_2-tenant-acme');
    expect(names.tenantBucket('acme').startsWith(names.tenantBucketPrefix)).toBe(true);
    expect(names.heartbeatSubject('us-1')).toBe('fed_2.zone.us-1.heartbeat');
    expect(names.allHeartbeats).toBe('fed_2.zone.*.heartbeat');
  });

  it('keeps two federations apart: no bucket of one starts with the tenant prefix of the other', () => {
    const a = natsNames('a');
    const ab = natsNames('a-b');
    expect(ab.tenantBucket('x').startsWith(a.tenantBucketPrefix)).toBe(false);
    expect(a.placementBucket).not.toBe(ab.placementBucket);
  });
});

describe('key helpers', () => {
  it('builds policy and inventory keys', () => {
    expect(policyKey('Timeout', 'web')).toBe('policy.Timeout.web');
    expect(inventoryKey('eu-1')).toBe('inventory.eu-1');
    expect(TENANT_STATE_KEY).toBe('tenant');
    expect(POLICY_KEY_PREFIX).toBe('policy.');
    expect(INVENTORY_KEY_PREFIX).toBe('inventory.');
  });
});

describe('classifyTenantKey', () => {
  it('recognises the tenant state key', () => {
    expect(classifyTenantKey('tenant')).toEqual({ type: 'tenant' });
  });

  it('splits a policy key into kind and name', () => {
    expect(classifyTenantKey('policy.Timeout.web')).toEqual({ type: 'policy', kind: 'Timeout', name: 'web' });
    expect(classifyTenantKey(policyKey('LocalityFailover', 'api-v2'))).toEqual({ type: 'policy', kind: 'LocalityFailover', name: 'api-v2' });
  });

  it('extracts the zone of an inventory key', () => {
    expect(classifyTenantKey('inventory.eu-west-1')).toEqual({ type: 'inventory', zone: 'eu-west-1' });
    expect(classifyTenantKey(inventoryKey('z'))).toEqual({ type: 'inventory', zone: 'z' });
  });

  it.each(['policy.', 'policy.Timeout', 'policy.Timeout.', 'policy..web', 'tenants', 'Tenant', 'foo.bar', '', 'inventoryx'])('classifies %j as unknown', (key) => {
    expect(classifyTenantKey(key)).toEqual({ type: 'unknown' });
  });

  it('classifies a policy key with an extra segment as unknown, not as a shorter policy name', () => {
    // "policy.Timeout.web.x" is not the key of Timeout/web: reading it as such would let a stray key
    // overwrite (PUT) or remove (DEL) Timeout/web in a zone's view.
    expect(classifyTenantKey('policy.Timeout.web.x')).toEqual({ type: 'unknown' });
  });
});
