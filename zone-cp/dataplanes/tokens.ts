import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Dataplane tokens: what a proxy shows the zone CP to register, to get an
 * SVID and to receive config. Issued by the zone CP itself and bound to one
 * tenant / namespace / service account, so a token can only ever obtain that
 * one SPIFFE identity. Stateless (HMAC-signed with a key that never leaves
 * the zone's state dir) so thousands of proxies cost no storage; revocation
 * is a list of token ids kept until the tokens would have expired anyway.
 */
export const DATAPLANE_TOKEN_PREFIX = 'mfd_';
export const DEFAULT_DATAPLANE_TOKEN_TTL_MS = 365 * 24 * 3_600_000;

export interface DataplaneClaims {
  /** Token id: what revocation names. */
  id: string;
  zone: string;
  tenant: string;
  namespace: string;
  serviceAccount: string;
  issuedAt: number;
  expiresAt: number;
  /** The tenant's SPIFFE trust domain when issued, so the proxy knows the exact identity to ask for (informational: the zone CP signs for the trust domain the tenant has now). */
  trustDomain?: string;
  /** The zone's east-west ingress: serves every tenant placed in the zone, holds no workload identity (tenant, namespace and service account are empty). */
  ingress?: boolean;
}

export type TokenCheck = { ok: true; claims: DataplaneClaims } | { ok: false; reason: string };

const mac = (key: Buffer, payload: string) => createHmac('sha256', key).update(payload).digest();

/** Pure given its inputs; `now` and the random id come from the caller's clock and RNG. */
export function issueDataplaneToken(key: Buffer, claims: Omit<DataplaneClaims, 'id'>, id = randomBytes(8).toString('hex')): { token: string; claims: DataplaneClaims } {
  const full: DataplaneClaims = { id, ...claims };
  const payload = Buffer.from(JSON.stringify(full)).toString('base64url');
  return { token: `${DATAPLANE_TOKEN_PREFIX}${payload}.${mac(key, payload).toString('base64url')}`, claims: full };
}

/** Checks signature, zone, expiry and revocation. Pure. */
export function verifyDataplaneToken(key: Buffer, token: string, zone: string, revoked: { has(id: string): boolean }, nowMs: number): TokenCheck {
  if (!token.startsWith(DATAPLANE_TOKEN_PREFIX)) return { ok: false, reason: 'not a dataplane token' };
  const [payload, signature, ...rest] = token.slice(DATAPLANE_TOKEN_PREFIX.length).split('.');
  if (!payload || !signature || rest.length) return { ok: false, reason: 'malformed dataplane token' };
  const expected = mac(key, payload);
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'dataplane token signature does not match' };
  let claims: DataplaneClaims;
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as DataplaneClaims;
  } catch {
    return { ok: false, reason: 'malformed dataplane token' };
  }
  if (claims.zone !== zone) return { ok: false, reason: `dataplane token is for zone "${claims.zone}"` };
  if (!(claims.expiresAt > nowMs)) return { ok: false, reason: 'dataplane token expired' };
  if (revoked.has(claims.id)) return { ok: false, reason: 'dataplane token revoked' };
  return { ok: true, claims };
}
