/**
 * NATS names shared by the global CP and zone CPs. Every name starts with a
 * federation id ("meshfed" by default), so several federations — or test
 * runs — can share one NATS server without seeing each other.
 *
 *   bucket <id>-placement            key <zone>                 → Placement
 *   bucket <id>-tenant-<tenant>      key tenant                 → TenantState (carries the revision)
 *                                    key policy.<Kind>.<name>   → policy document
 *                                    key inventory.<zone>       → ZoneInventory (written by that zone)
 *   subject <id>.zone.<zone>.heartbeat                          → Heartbeat (core NATS)
 */
export function natsNames(federationId = 'meshfed') {
  return {
    federationId,
    placementBucket: `${federationId}-placement`,
    tenantBucket: (tenant: string) => `${federationId}-tenant-${tenant}`,
    tenantBucketPrefix: `${federationId}-tenant-`,
    heartbeatSubject: (zone: string) => `${federationId}.zone.${zone}.heartbeat`,
    allHeartbeats: `${federationId}.zone.*.heartbeat`,
  };
}
export type NatsNames = ReturnType<typeof natsNames>;

export const TENANT_STATE_KEY = 'tenant';
export const POLICY_KEY_PREFIX = 'policy.';
export const INVENTORY_KEY_PREFIX = 'inventory.';

export const policyKey = (kind: string, name: string) => `${POLICY_KEY_PREFIX}${kind}.${name}`;
export const inventoryKey = (zone: string) => `${INVENTORY_KEY_PREFIX}${zone}`;

/** Splits a tenant-bucket key into what it holds. */
export function classifyTenantKey(key: string):
  | { type: 'tenant' }
  | { type: 'policy'; kind: string; name: string }
  | { type: 'inventory'; zone: string }
  | { type: 'unknown' } {
  if (key === TENANT_STATE_KEY) return { type: 'tenant' };
  if (key.startsWith(POLICY_KEY_PREFIX)) {
    // Kinds and DNS-1123 names hold no dots: anything but exactly two segments is not a policy key.
    const segments = key.slice(POLICY_KEY_PREFIX.length).split('.');
    if (segments.length === 2 && segments[0] && segments[1]) return { type: 'policy', kind: segments[0], name: segments[1] };
  }
  if (key.startsWith(INVENTORY_KEY_PREFIX)) return { type: 'inventory', zone: key.slice(INVENTORY_KEY_PREFIX.length) };
  return { type: 'unknown' };
}
