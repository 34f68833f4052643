import { API_VERSION } from '../../core/schemas/common.js';
import type { PolicyDocument } from '../../core/schemas/policies/index.js';
import type { Tenant, TokenInfo } from '../../core/schemas/tenant.js';
import type { Zone, ZoneStatus } from '../../core/schemas/zone.js';
import type { Meta, PolicyRecord, TenantRecord, TokenRecord, ZoneRecord } from '../store/records.js';

/** Turns stored records into the documents the API returns. Pure. */

function metadata(name: string, labels: Record<string, string>, meta: Meta, tenant?: string) {
  return {
    name,
    ...(tenant ? { tenant } : {}),
    labels,
    resourceVersion: meta.resourceVersion,
    generation: meta.generation,
    creationTimestamp: meta.creationTimestamp,
  };
}

export function renderZone(zone: ZoneRecord, status: ZoneStatus): Zone {
  return { apiVersion: API_VERSION, kind: 'Zone', metadata: metadata(zone.name, zone.labels, zone.meta), spec: zone.spec, status };
}

export function renderTenant(tenant: TenantRecord): Tenant {
  return {
    apiVersion: API_VERSION,
    kind: 'Tenant',
    metadata: metadata(tenant.name, tenant.labels, tenant.meta),
    spec: tenant.spec,
    status: { revision: tenant.revision, policies: tenant.policyCount },
  };
}

export function renderPolicy(policy: PolicyRecord): PolicyDocument {
  return {
    apiVersion: API_VERSION,
    kind: policy.kind as PolicyDocument['kind'],
    metadata: metadata(policy.name, policy.labels, policy.meta, policy.tenant),
    spec: policy.spec,
  };
}

export function renderToken(token: TokenRecord): TokenInfo {
  return { id: token.id, tenant: token.tenant, role: token.role, description: token.description, createdAt: token.createdAt, expiresAt: token.expiresAt };
}
