import { workloadSpiffeId } from '../../../core/spiffe.js';
import type { ResourceObject } from '../../../core/xds/protos.js';
import type { MatchedPolicy } from './policy-match.js';
import { NESTED_TYPE, statPrefix, typed } from './proto-values.js';

type Source = MatchedPolicy<'TrafficPermission'>['spec']['rules'][number]['sources'][number];

/**
 * The authenticated-identity matcher for one source. A namespace alone (or
 * service account `*`) is every workload of it: a prefix ending in `/sa/`,
 * so `ns/a` never also matches `ns/ab`. Undefined for an identity outside
 * the tenant's trust domain: it can never present an SVID of this tenant's
 * bundle, and naming it would only blur isolation.
 */
export function sourcePrincipal(source: Source, trustDomain: string): ResourceObject | undefined {
  let matcher: ResourceObject;
  if (source.spiffeId !== undefined) {
    if (!source.spiffeId.startsWith(`spiffe://${trustDomain}/`)) return undefined;
    matcher = { exact: source.spiffeId };
  } else if (source.namespace !== undefined) {
    matcher = source.serviceAccount && source.serviceAccount !== '*'
      ? { exact: workloadSpiffeId(trustDomain, source.namespace, source.serviceAccount) }
      : { prefix: `spiffe://${trustDomain}/ns/${source.namespace}/sa/` };
  } else return undefined;
  return { authenticated: { principal_name: matcher } };
}

const anyOf = (ids: ResourceObject[]) => (ids.length === 1 ? ids[0]! : { or_ids: { ids } });

/**
 * envoy.config.rbac.v3.RBAC for a TrafficPermission: one ALLOW policy whose
 * principal is "any allowed source and no denied source", which is the
 * schema's "deny wins; nothing matching denies" in a single filter. With no
 * allowed source the policy map is empty, and an empty ALLOW denies all.
 */
export function permissionRbac(permission: MatchedPolicy<'TrafficPermission'>, trustDomain: string): ResourceObject {
  const principals = (action: 'Allow' | 'Deny') => {
    const seen = new Map<string, ResourceObject>();
    for (const rule of permission.spec.rules.filter((r) => r.action === action)) {
      for (const source of rule.sources) {
        const principal = sourcePrincipal(source, trustDomain);
        if (principal) seen.set(JSON.stringify(principal), principal);
      }
    }
    return [...seen.values()];
  };
  const allowed = principals('Allow');
  const denied = principals('Deny');
  if (!allowed.length) return { action: 'ALLOW', policies: {} };
  const principal = denied.length ? { and_ids: { ids: [anyOf(allowed), { not_id: anyOf(denied) }] } } : anyOf(allowed);
  return { action: 'ALLOW', policies: { [`TrafficPermission/${permission.name}`]: { permissions: [{ any: true }], principals: [principal] } } };
}

export function httpRbacFilter(rules: ResourceObject): ResourceObject {
  return { name: 'envoy.filters.http.rbac', typed_config: typed(NESTED_TYPE.httpRbac, { rules }) };
}

export function networkRbacFilter(rules: ResourceObject, listenerName: string): ResourceObject {
  return { name: 'envoy.filters.network.rbac', typed_config: typed(NESTED_TYPE.networkRbac, { rules, stat_prefix: statPrefix(listenerName) }) };
}
