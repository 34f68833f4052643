/**
 * envoy.config.rbac.v3.RBAC → AccessPolicy, as the sidecar enforces it on
 * the peer's SPIFFE ID (the verified URI SAN of its client certificate),
 * for both the HTTP filter (envoy.filters.http.rbac) and the network filter
 * (envoy.filters.network.rbac). Pure.
 *
 * A policy matches when one of its permissions and one of its principals
 * match. ALLOW: allowed iff some policy matches (so an empty policy map
 * denies everything); DENY: allowed iff none matches; LOG: always allowed.
 * A filter without `rules` enforces nothing.
 *
 * The policy sees only the principal, so only what depends on it alone can
 * be evaluated: principals `any`, `authenticated`, `and_ids`, `or_ids`,
 * `not_id`; permissions `any` and and/or/not combinations of it. Anything
 * else (paths, headers, IPs, ports, CEL conditions) is a problem: ignoring a
 * condition would allow or deny more than the policy says.
 */
import { isObject, objectsIn } from '../xds/resources.js';
import type { AccessPolicy } from './model.js';
import { fail, within } from './problems.js';
import { RegexCache } from './regex.js';
import { compileStringMatcher } from './string-matcher.js';
import { setFields } from './values.js';

type PrincipalCheck = (principal: string | undefined) => boolean;

export const ALLOW_ALL: AccessPolicy = { allows: () => true };

/** Both policies must allow (a network RBAC filter in front of an HTTP one). Undefined ones enforce nothing. */
export function bothAllow(a: AccessPolicy | undefined, b: AccessPolicy | undefined): AccessPolicy | undefined {
  if (!a || !b) return a ?? b;
  return { allows: (principal) => a.allows(principal) && b.allows(principal) };
}

/**
 * An RBAC filter's typed_config (HTTP or network): its `rules`, or
 * undefined when it has none (Envoy then enforces nothing). Shadow rules
 * only log, so they are ignored. Throws a ConfigProblem.
 */
export function compileRbacFilter(config: Record<string, unknown>, regexes: RegexCache = new RegexCache()): AccessPolicy | undefined {
  if (setFields(config, ['matcher']).length) fail('RBAC matcher is not supported');
  if (config.rules === undefined) return undefined;
  return compileRbac(config.rules, regexes);
}

/** An envoy.config.rbac.v3.RBAC message. Throws a ConfigProblem. */
export function compileRbac(rules: unknown, regexes: RegexCache = new RegexCache()): AccessPolicy {
  if (!isObject(rules)) return fail('RBAC rules are not an object');
  // ALLOW is enum value 0, which the decoder leaves out.
  const action = typeof rules.action === 'string' ? rules.action : 'ALLOW';
  const policies = Object.entries(isObject(rules.policies) ? rules.policies : {}).map(([name, policy]) => within(`policy ${name}`, () => compilePolicy(policy, regexes)));
  const anyMatches: PrincipalCheck = (principal) => policies.some((matches) => matches(principal));
  switch (action) {
    case 'ALLOW':
      return { allows: anyMatches };
    case 'DENY':
      return { allows: (principal) => !anyMatches(principal) };
    case 'LOG':
      return ALLOW_ALL;
    default:
      return fail(`unknown RBAC action ${String(action)}`);
  }
}

function compilePolicy(policy: unknown, regexes: RegexCache): PrincipalCheck {
  if (!isObject(policy)) return fail('not an object');
  const conditions = setFields(policy, ['condition', 'checked_condition']);
  if (conditions.length) fail(`${conditions.join(', ')} not supported`);
  const permitted = objectsIn(policy.permissions).some((permission, i) => within(`permission #${i}`, () => evaluatePermission(permission)));
  const principals = objectsIn(policy.principals).map((principal, i) => within(`principal #${i}`, () => compilePrincipal(principal, regexes)));
  if (!permitted) return () => false;
  return (principal) => principals.some((matches) => matches(principal));
}

/** A Permission that depends on nothing the request carries, as a constant. */
function evaluatePermission(permission: Record<string, unknown>): boolean {
  if (permission.any !== undefined) {
    if (permission.any !== true) fail('any must be true');
    return true;
  }
  if (isObject(permission.and_rules)) return objectsIn(permission.and_rules.rules).every(evaluatePermission);
  if (isObject(permission.or_rules)) return objectsIn(permission.or_rules.rules).some(evaluatePermission);
  if (isObject(permission.not_rule)) return !evaluatePermission(permission.not_rule);
  return fail(`unsupported permission ${ruleKind(permission, 'rule')}`);
}

function compilePrincipal(principal: Record<string, unknown>, regexes: RegexCache): PrincipalCheck {
  if (principal.any !== undefined) {
    if (principal.any !== true) fail('any must be true');
    return () => true;
  }
  if (principal.authenticated !== undefined) {
    const authenticated = isObject(principal.authenticated) ? principal.authenticated : {};
    // Without principal_name, any authenticated peer; meshfed knows a peer is authenticated by its verified SPIFFE ID.
    if (authenticated.principal_name === undefined) return (peer) => peer !== undefined;
    const name = within('principal_name', () => compileStringMatcher(authenticated.principal_name, regexes));
    return (peer) => peer !== undefined && name.matches(peer);
  }
  if (isObject(principal.and_ids)) {
    const ids = objectsIn(principal.and_ids.ids).map((id) => compilePrincipal(id, regexes));
    return (peer) => ids.every((matches) => matches(peer));
  }
  if (isObject(principal.or_ids)) {
    const ids = objectsIn(principal.or_ids.ids).map((id) => compilePrincipal(id, regexes));
    return (peer) => ids.some((matches) => matches(peer));
  }
  if (isObject(principal.not_id)) {
    const id = compilePrincipal(principal.not_id, regexes);
    return (peer) => !id(peer);
  }
  return fail(`unsupported principal ${ruleKind(principal, 'identifier')}`);
}

/** The name of a rule's kind for a problem message, from the decoder's oneof marker or the first field. */
function ruleKind(rule: Record<string, unknown>, oneof: string): string {
  const marker = rule[oneof];
  if (typeof marker === 'string') return marker;
  return Object.keys(rule).find((k) => k !== oneof) ?? '(empty)';
}
