import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_POLICIES, DEFAULT_MAX_TOKENS, type TenantSpec } from '../../core/schemas/tenant.js';
import { applyTenantPatch, tenantSpecFromCreate } from './tenant-spec.js';

describe('tenantSpecFromCreate', () => {
  it('fills in defaults', () => {
    expect(tenantSpecFromCreate({ name: 'acme' })).toEqual({
      trustDomain: 'acme.mesh',
      zones: [],
      quotas: { maxPolicies: DEFAULT_MAX_POLICIES, maxTokens: DEFAULT_MAX_TOKENS },
    });
    expect(DEFAULT_MAX_POLICIES).toBe(1000);
    expect(DEFAULT_MAX_TOKENS).toBe(100);
  });

  it('keeps what was given, sorting zones without touching the request', () => {
    const zones = ['zone-c', 'zone-a', 'zone-b'];
    const spec = tenantSpecFromCreate({ name: 'acme', zones, trustDomain: 'acme.example.org', quotas: { maxPolicies: 5, maxTokens: 0 } });
    expect(spec).toEqual({ trustDomain: 'acme.example.org', zones: ['zone-a', 'zone-b', 'zone-c'], quotas: { maxPolicies: 5, maxTokens: 0 } });
    expect(zones).toEqual(['zone-c', 'zone-a', 'zone-b']);
    expect(spec.zones).not.toBe(zones);
  });

  it('defaults each quota on its own (0 is kept, not defaulted)', () => {
    expect(tenantSpecFromCreate({ name: 'a', quotas: { maxPolicies: 0 } }).quotas).toEqual({ maxPolicies: 0, maxTokens: DEFAULT_MAX_TOKENS });
    expect(tenantSpecFromCreate({ name: 'a', quotas: { maxTokens: 3 } }).quotas).toEqual({ maxPolicies: DEFAULT_MAX_POLICIES, maxTokens: 3 });
    expect(tenantSpecFromCreate({ name: 'a', quotas: {} }).quotas).toEqual({ maxPolicies: DEFAULT_MAX_POLICIES, maxTokens: DEFAULT_MAX_TOKENS });
  });

  it('ignores labels (they are metadata)', () => {
    expect(tenantSpecFromCreate({ name: 'a', labels: { team: 'x' } })).not.toHaveProperty('labels');
  });
});

describe('applyTenantPatch', () => {
  const spec: TenantSpec = { trustDomain: 'acme.mesh', zones: ['z1', 'z2'], quotas: { maxPolicies: 10, maxTokens: 20 } };
  const labels = { team: 'a' };

  it('changes nothing for an empty patch', () => {
    expect(applyTenantPatch(spec, labels, {})).toEqual({ spec, labels });
  });

  it('replaces zones, sorted', () => {
    expect(applyTenantPatch(spec, labels, { zones: ['z9', 'z3'] }).spec.zones).toEqual(['z3', 'z9']);
    expect(applyTenantPatch(spec, labels, { zones: [] }).spec.zones).toEqual([]);
  });

  it('merges quotas key by key', () => {
    expect(applyTenantPatch(spec, labels, { quotas: { maxTokens: 1 } }).spec.quotas).toEqual({ maxPolicies: 10, maxTokens: 1 });
    expect(applyTenantPatch(spec, labels, { quotas: { maxPolicies: 0 } }).spec.quotas).toEqual({ maxPolicies: 0, maxTokens: 20 });
    expect(applyTenantPatch(spec, labels, { quotas: {} }).spec.quotas).toEqual({ maxPolicies: 10, maxTokens: 20 });
  });

  it('replaces labels wholesale', () => {
    expect(applyTenantPatch(spec, labels, { labels: { env: 'prod' } }).labels).toEqual({ env: 'prod' });
    expect(applyTenantPatch(spec, labels, { labels: {} }).labels).toEqual({});
  });

  it('never changes the trust domain', () => {
    const patch = { zones: ['z1'], trustDomain: 'evil.mesh' } as Parameters<typeof applyTenantPatch>[2];
    expect(applyTenantPatch(spec, labels, patch).spec.trustDomain).toBe('acme.mesh');
  });

  it('does not mutate its inputs', () => {
    const before = structuredClone({ spec, labels });
    const patch = { zones: ['z5', 'z4'], quotas: { maxTokens: 2 }, labels: { x: 'y' } };
    applyTenantPatch(spec, labels, patch);
    expect({ spec, labels }).toEqual(before);
    expect(patch.zones).toEqual(['z5', 'z4']);
  });
});
