import { describe, expect, it } from 'vitest';
import { API_VERSION } from '../../core/schemas/common.js';
import type { Meta, PolicyRecord, TenantRecord, TokenRecord, ZoneRecord } from '../store/records.js';
import { renderPolicy, renderTenant, renderToken, renderZone } from './render.js';

const meta: Meta = { resourceVersion: '12', generation: 3, creationTimestamp: '2025-01-02T03:04:05.000Z', specHash: 'deadbeef' };
const renderedMeta = { resourceVersion: '12', generation: 3, creationTimestamp: '2025-01-02T03:04:05.000Z' };

describe('renderZone', () => {
  const zone: ZoneRecord = { name: 'eu-1', labels: { tier: 'a' }, spec: { region: 'eu-west', location: 'aws:eu-west-1', kind: 'kubernetes' }, meta };

  const offline = { state: 'offline' as const, lastSeen: null, cpVersion: null, ingressAddress: null, tenants: [] };

  it('renders the document around the status it is given', () => {
    expect(renderZone(zone, offline)).toEqual({
      apiVersion: API_VERSION,
      kind: 'Zone',
      metadata: { name: 'eu-1', labels: { tier: 'a' }, ...renderedMeta },
      spec: { region: 'eu-west', location: 'aws:eu-west-1', kind: 'kubernetes' },
      status: offline,
    });
    const online = { ...offline, state: 'online' as const, lastSeen: '2025-01-02T03:04:05.000Z', cpVersion: '0.1.0', ingressAddress: '10.0.0.1:10001' };
    expect(renderZone(zone, online).status).toEqual(online);
  });

  it('leaks no internal metadata and no tenant', () => {
    const { metadata } = renderZone(zone, offline);
    expect(metadata).not.toHaveProperty('specHash');
    expect(metadata).not.toHaveProperty('tenant');
  });
});

describe('renderTenant', () => {
  const tenant: TenantRecord = {
    name: 'acme',
    labels: {},
    spec: { trustDomain: 'acme.mesh', zones: ['eu-1'], quotas: { maxPolicies: 10, maxTokens: 5 } },
    meta,
    revision: 7,
    policyCount: 4,
  };

  it('renders spec and status', () => {
    expect(renderTenant(tenant)).toEqual({
      apiVersion: API_VERSION,
      kind: 'Tenant',
      metadata: { name: 'acme', labels: {}, ...renderedMeta },
      spec: { trustDomain: 'acme.mesh', zones: ['eu-1'], quotas: { maxPolicies: 10, maxTokens: 5 } },
      status: { revision: 7, policies: 4 },
    });
    expect(renderTenant(tenant).metadata).not.toHaveProperty('specHash');
  });
});

describe('renderPolicy', () => {
  const policy: PolicyRecord = {
    tenant: 'acme',
    kind: 'Timeout',
    name: 'slow',
    labels: { app: 'web' },
    spec: { targetRef: { kind: 'Tenant' }, request: '5s' },
    meta,
  };

  it('renders the owning tenant in metadata', () => {
    expect(renderPolicy(policy)).toEqual({
      apiVersion: API_VERSION,
      kind: 'Timeout',
      metadata: { name: 'slow', tenant: 'acme', labels: { app: 'web' }, ...renderedMeta },
      spec: { targetRef: { kind: 'Tenant' }, request: '5s' },
    });
    expect(renderPolicy(policy).metadata).not.toHaveProperty('specHash');
  });

  it('orders metadata keys name, tenant, labels, resourceVersion, generation, creationTimestamp', () => {
    expect(Object.keys(renderPolicy(policy).metadata)).toEqual(['name', 'tenant', 'labels', 'resourceVersion', 'generation', 'creationTimestamp']);
  });
});

describe('renderToken', () => {
  it('renders exactly the public fields', () => {
    const record = { id: '0123456789abcdef', tenant: 'acme', role: 'editor', description: 'ci', createdAt: '2025-01-01T00:00:00.000Z', expiresAt: '2025-02-01T00:00:00.000Z', hash: 'secret' };
    expect(renderToken(record as TokenRecord)).toEqual({
      id: '0123456789abcdef',
      tenant: 'acme',
      role: 'editor',
      description: 'ci',
      createdAt: '2025-01-01T00:00:00.000Z',
      expiresAt: '2025-02-01T00:00:00.000Z',
    });
  });
});
