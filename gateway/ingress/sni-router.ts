import { parseIngressSni, type ParsedSni } from '../../core/xds/names.js';

/** Where one ingress SNI goes: a local cluster of the tenant the SNI names. */
export interface IngressRoute {
  tenant: string;
  cluster: string;
}

/** Ingress SNI (lowercase, `<port>.<service>.<namespace>.<tenant>.mesh`, optionally `<subset>.`-prefixed) → route. */
export type IngressRoutingTable = Readonly<Record<string, IngressRoute>>;

/** Why a connection was closed instead of forwarded. The first five are decided here, the rest by the ingress server. */
export type IngressRejectReason =
  | 'no-sni'
  | 'invalid-sni'
  | 'tenant-not-placed'
  | 'unknown-sni'
  | 'tenant-mismatch'
  | 'not-tls'
  | 'malformed-client-hello'
  | 'incomplete-client-hello'
  | 'handshake-timeout'
  | 'tenant-limit'
  | 'no-endpoint'
  | 'connect-failure';

export const INGRESS_REJECT_REASONS: readonly IngressRejectReason[] = [
  'no-sni',
  'invalid-sni',
  'tenant-not-placed',
  'unknown-sni',
  'tenant-mismatch',
  'not-tls',
  'malformed-client-hello',
  'incomplete-client-hello',
  'handshake-timeout',
  'tenant-limit',
  'no-endpoint',
  'connect-failure',
];

export type IngressRouteDecision =
  | { route: string; tenant: string; target: ParsedSni }
  | { reject: 'no-sni' | 'invalid-sni' }
  | { reject: 'tenant-not-placed' | 'unknown-sni' | 'tenant-mismatch'; target: ParsedSni };

/**
 * Decides where a connection with this SNI goes. Pure. There is no
 * fallback: anything but an exact table entry for a tenant placed in this
 * zone is rejected, so a connection never reaches another service, and
 * never another tenant (the entry must belong to the tenant the SNI names).
 */
export function decideIngressRoute(sni: string | undefined, table: IngressRoutingTable, placedTenants: ReadonlySet<string>): IngressRouteDecision {
  if (sni === undefined || sni === '') return { reject: 'no-sni' };
  const target = parseIngressSni(sni);
  if (!target) return { reject: 'invalid-sni' };
  if (!placedTenants.has(target.tenant)) return { reject: 'tenant-not-placed', target };
  const key = sni.toLowerCase();
  const entry = Object.hasOwn(table, key) ? table[key] : undefined;
  if (!entry) return { reject: 'unknown-sni', target };
  if (entry.tenant !== target.tenant) return { reject: 'tenant-mismatch', target };
  return { route: entry.cluster, tenant: entry.tenant, target };
}
