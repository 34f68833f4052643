import { canonicalJson } from '../../core/canonical-json.js';
import { INVENTORY_KEY_PREFIX, TENANT_STATE_KEY, classifyTenantKey, policyKey } from '../../core/federation/names.js';
import type { Placement, TenantState } from '../../core/schemas/federation.js';
import { renderPolicy } from '../resources/render.js';
import type { PolicyRecord, TenantRecord } from '../store/records.js';

/** Values are canonical JSON, so "is NATS up to date" is a string comparison. */
export type BucketContent = Map<string, string>;

export function tenantStateValue(tenant: TenantRecord, revision = tenant.revision): string {
  const state: TenantState = { name: tenant.name, trustDomain: tenant.spec.trustDomain, zones: tenant.spec.zones, revision };
  return canonicalJson(state);
}

export function policyValue(policy: PolicyRecord): string {
  return canonicalJson(renderPolicy(policy));
}

/** What a tenant's bucket must hold: every policy, and the tenant state with the revision they add up to. */
export function desiredTenantBucket(tenant: TenantRecord, policies: PolicyRecord[]): BucketContent {
  const content: BucketContent = new Map();
  for (const p of policies) content.set(policyKey(p.kind, p.name), policyValue(p));
  content.set(TENANT_STATE_KEY, tenantStateValue(tenant));
  return content;
}

export function placementValue(zone: string, tenants: Array<{ name: string; trustDomain: string }>): string {
  const placement: Placement = { zone, tenants: [...tenants].sort((a, b) => a.name.localeCompare(b.name)) };
  return canonicalJson(placement);
}

export interface BucketPlan {
  puts: Array<[key: string, value: string]>;
  deletes: string[];
}

/**
 * The writes that turn `actual` into `desired`. Zones own their inventory
 * keys: those are kept while the zone is one of `placedZones` and deleted once
 * it is not. The tenant state goes last, so a zone that sees its revision has
 * seen everything before it.
 */
export function planTenantBucket(desired: BucketContent, actual: BucketContent, placedZones: readonly string[]): BucketPlan {
  const puts: Array<[string, string]> = [];
  for (const [key, value] of desired) if (key !== TENANT_STATE_KEY && actual.get(key) !== value) puts.push([key, value]);
  const deletes = [...actual.keys()].filter((key) => {
    if (desired.has(key)) return false;
    const what = classifyTenantKey(key);
    return what.type !== 'inventory' || !placedZones.includes(what.zone);
  });
  const state = desired.get(TENANT_STATE_KEY);
  if (state !== undefined && (puts.length || deletes.length || actual.get(TENANT_STATE_KEY) !== state)) puts.push([TENANT_STATE_KEY, state]);
  return { puts, deletes: deletes.sort() };
}

/** The placement bucket: one key per zone. Keys of zones that no longer exist are deleted. */
export function planPlacement(desired: BucketContent, actual: BucketContent): BucketPlan {
  const puts = [...desired].filter(([key, value]) => actual.get(key) !== value);
  const deletes = [...actual.keys()].filter((key) => !desired.has(key)).sort();
  return { puts, deletes };
}

export const isInventoryKey = (key: string) => key.startsWith(INVENTORY_KEY_PREFIX);
