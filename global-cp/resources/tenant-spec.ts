import { DEFAULT_MAX_POLICIES, DEFAULT_MAX_TOKENS, type CreateTenantBody, type PatchTenantBody, type TenantSpec } from '../../core/schemas/tenant.js';
import type { Labels } from '../../core/schemas/common.js';

/** The spec a new tenant gets from its create request, with defaults filled in. */
export function tenantSpecFromCreate(body: CreateTenantBody): TenantSpec {
  return {
    trustDomain: body.trustDomain ?? `${body.name}.mesh`,
    zones: [...(body.zones ?? [])].sort(),
    quotas: {
      maxPolicies: body.quotas?.maxPolicies ?? DEFAULT_MAX_POLICIES,
      maxTokens: body.quotas?.maxTokens ?? DEFAULT_MAX_TOKENS,
    },
  };
}

/** A PATCH replaces zones and labels when given and merges quotas key by key. */
export function applyTenantPatch(spec: TenantSpec, labels: Labels, patch: PatchTenantBody): { spec: TenantSpec; labels: Labels } {
  return {
    spec: {
      trustDomain: spec.trustDomain,
      zones: patch.zones ? [...patch.zones].sort() : spec.zones,
      quotas: { ...spec.quotas, ...patch.quotas },
    },
    labels: patch.labels ?? labels,
  };
}
