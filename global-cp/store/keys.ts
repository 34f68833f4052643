/**
 * The Redis key layout of the global CP — the store of record. Every key starts
 * with a prefix ("mf:" in production; tests use their own so they never share state).
 *
 *   <p>zones                    SET     names of registered zones
 *   <p>zone:<z>                 HASH    doc (JSON {labels, spec}), meta (JSON), tokenHash
 *   <p>zone:<z>:tenants         SET     tenants placed in zone z (kept by tenant writes)
 *   <p>zone-token:<sha256>      STRING  zone name; the zone token itself is never stored
 *   <p>zones:rev                STRING  counter: resourceVersion of zone writes
 *   <p>tenants                  SET     names of tenants
 *   <p>tenant:<t>               HASH    doc (JSON {labels, spec}), meta (JSON), ca (JSON TenantCa: root certificates, keys sealed)
 *   <p>trust-domain:<td>        STRING  the tenant that owns SPIFFE trust domain td (unique)
 *   <p>tenant:<t>:rev           STRING  per-tenant revision: +1 on every committed write of the
 *                                       tenant, its policies or its CA; kept when the tenant is deleted so
 *                                       a re-created tenant never goes back in revision
 *   <p>tenant:<t>:policies      HASH    "<Kind>/<name>" → doc (JSON {labels, spec})
 *   <p>tenant:<t>:policy-meta   HASH    "<Kind>/<name>" → meta (JSON)
 *   <p>tenant:<t>:tokens        HASH    token id → sha256 of the token
 *   <p>token:<sha256>           STRING  token record (JSON {id, tenant, role, …}); expires with the token
 *   <p>changes                  STREAM  outbox of committed writes, in commit order (see scripts.ts)
 *   <p>federation:leader        STRING  id of the global CP replica that publishes to NATS (expires)
 *   <p>zone-status:<z>          HASH    last heartbeat of zone z: lastSeen, cpVersion, intervalMs, ingressAddress, applied (JSON)
 *
 * meta is {resourceVersion, generation, creationTimestamp, specHash}. A resourceVersion is the
 * revision counter's value at the write, so it is unique and increasing per tenant (per federation for zones).
 */
export function redisKeys(prefix: string) {
  return {
    prefix,
    zones: `${prefix}zones`,
    zone: (z: string) => `${prefix}zone:${z}`,
    zoneTenants: (z: string) => `${prefix}zone:${z}:tenants`,
    zoneToken: (hash: string) => `${prefix}zone-token:${hash}`,
    zonesRev: `${prefix}zones:rev`,
    tenants: `${prefix}tenants`,
    tenant: (t: string) => `${prefix}tenant:${t}`,
    trustDomain: (td: string) => `${prefix}trust-domain:${td}`,
    tenantRev: (t: string) => `${prefix}tenant:${t}:rev`,
    policies: (t: string) => `${prefix}tenant:${t}:policies`,
    policyMeta: (t: string) => `${prefix}tenant:${t}:policy-meta`,
    tenantTokens: (t: string) => `${prefix}tenant:${t}:tokens`,
    token: (hash: string) => `${prefix}token:${hash}`,
    changes: `${prefix}changes`,
    federationLeader: `${prefix}federation:leader`,
    zoneStatus: (z: string) => `${prefix}zone-status:${z}`,
  };
}
export type RedisKeys = ReturnType<typeof redisKeys>;

export const policyField = (kind: string, name: string) => `${kind}/${name}`;
