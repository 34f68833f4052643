import { workloadSpiffeId } from '../../core/spiffe.js';

/** What a dataplane token says about its holder, read without checking the signature (only the zone CP can). */
export interface DataplaneTokenClaims {
  zone: string;
  tenant: string;
  namespace: string;
  serviceAccount: string;
  expiresAt: Date;
  /** The zone's east-west ingress: it holds no workload identity. */
  ingress: boolean;
  /** The tenant's trust domain when the token was issued (tokens from before it was added lack it). */
  trustDomain?: string;
}

const PREFIX = 'mfd_';

/**
 * Reads a dataplane token's payload: the base64url JSON between `mfd_` and
 * the `.` before its signature. Pure; throws with a reason when the token is
 * not one. Never include the token in the message: it is a credential.
 */
export function readDataplaneToken(token: string): DataplaneTokenClaims {
  if (!token.startsWith(PREFIX)) throw new Error('not a dataplane token (it must start with "mfd_")');
  const parts = token.slice(PREFIX.length).split('.');
  if (parts.length !== 2 || !parts[0] || !parts[1]) throw new Error('malformed dataplane token');
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
  } catch {
    throw new Error('malformed dataplane token: its payload is not base64url JSON');
  }
  if (typeof payload !== 'object' || payload === null) throw new Error('malformed dataplane token: its payload is not an object');
  const claims = payload as Partial<Record<'zone' | 'tenant' | 'namespace' | 'serviceAccount', unknown>> & { expiresAt?: unknown; ingress?: unknown };
  const text = (key: 'zone' | 'tenant' | 'namespace' | 'serviceAccount') => (typeof claims[key] === 'string' ? claims[key] : '');
  if (!text('zone') || typeof claims.expiresAt !== 'number') throw new Error('malformed dataplane token: zone or expiry missing');
  const ingress = claims.ingress === true;
  if (!ingress && (!text('tenant') || !text('namespace') || !text('serviceAccount'))) throw new Error('malformed dataplane token: tenant, namespace or service account missing');
  const trustDomain = typeof (payload as { trustDomain?: unknown }).trustDomain === 'string' ? (payload as { trustDomain: string }).trustDomain : undefined;
  return { zone: text('zone'), tenant: text('tenant'), namespace: text('namespace'), serviceAccount: text('serviceAccount'), expiresAt: new Date(claims.expiresAt), ingress, ...(trustDomain ? { trustDomain } : {}) };
}

/**
 * The SPIFFE ID a workload token entitles its holder to: in the trust domain
 * the caller names, else the one the token carries, else `<tenant>.mesh`
 * (what the global CP gives a tenant created without one). Pure.
 */
export function entitledSpiffeId(claims: DataplaneTokenClaims, trustDomain = claims.trustDomain ?? `${claims.tenant}.mesh`): string {
  if (claims.ingress) throw new Error('an ingress token holds no workload identity: the ingress needs no SVID');
  return workloadSpiffeId(trustDomain, claims.namespace, claims.serviceAccount);
}
