import { describe, expect, it } from 'vitest';
import { ConfigProblem } from './problems.js';
import { bothAllow, compileRbac, compileRbacFilter } from './rbac.js';

const authenticated = (matcher: unknown) => ({ authenticated: { principal_name: matcher } });
const policy = (...principals: unknown[]) => ({ permissions: [{ any: true }], principals });

describe('compileRbac', () => {
  // The shape meshfed's zone CP sends for a TrafficPermission with allowed and denied sources.
  const rules = {
    action: 'ALLOW',
    policies: {
      'TrafficPermission/web-callers': policy({
        and_ids: {
          ids: [
            { or_ids: { ids: [authenticated({ exact: 'spiffe://acme.mesh/ns/shop/sa/frontend' }), authenticated({ prefix: 'spiffe://acme.mesh/ns/ops/sa/' })] } },
            { not_id: authenticated({ exact: 'spiffe://acme.mesh/ns/ops/sa/intruder' }) },
          ],
        },
      }),
    },
  };

  it('ALLOW: allowed iff a policy matches', () => {
    const access = compileRbac(rules);
    expect(access.allows('spiffe://acme.mesh/ns/shop/sa/frontend')).toBe(true);
    expect(access.allows('spiffe://acme.mesh/ns/ops/sa/anyone')).toBe(true);
    expect(access.allows('spiffe://acme.mesh/ns/ops/sa/intruder')).toBe(false);
    expect(access.allows('spiffe://acme.mesh/ns/shop/sa/other')).toBe(false);
    expect(access.allows(undefined)).toBe(false);
  });

  it('reads an absent action as ALLOW (enum value 0, dropped by the decoder)', () => {
    const { action: _action, ...withoutAction } = rules;
    expect(compileRbac(withoutAction).allows('spiffe://acme.mesh/ns/shop/sa/frontend')).toBe(true);
    expect(compileRbac(withoutAction).allows('spiffe://acme.mesh/ns/shop/sa/x')).toBe(false);
  });

  it('an ALLOW with no policies denies everyone', () => {
    expect(compileRbac({ action: 'ALLOW', policies: {} }).allows('spiffe://a/ns/x/sa/y')).toBe(false);
    expect(compileRbac({}).allows('spiffe://a/ns/x/sa/y')).toBe(false);
  });

  it('DENY: allowed iff no policy matches; LOG allows all', () => {
    const deny = compileRbac({ action: 'DENY', policies: { p: policy(authenticated({ suffix: '/sa/bad' })) } });
    expect(deny.allows('spiffe://a/ns/x/sa/bad')).toBe(false);
    expect(deny.allows('spiffe://a/ns/x/sa/good')).toBe(true);
    expect(deny.allows(undefined)).toBe(true);
    expect(compileRbac({ action: 'LOG', policies: { p: policy({ any: true }) } }).allows(undefined)).toBe(true);
  });

  it('any matches even an unauthenticated peer; authenticated without a name needs a peer identity', () => {
    expect(compileRbac({ policies: { p: policy({ any: true }) } }).allows(undefined)).toBe(true);
    const anyAuthenticated = compileRbac({ policies: { p: policy({ authenticated: {} }) } });
    expect(anyAuthenticated.allows('spiffe://a/ns/x/sa/y')).toBe(true);
    expect(anyAuthenticated.allows(undefined)).toBe(false);
  });

  it('a policy matches only if a permission matches too', () => {
    const never = compileRbac({ policies: { p: { permissions: [{ not_rule: { any: true } }], principals: [{ any: true }] } } });
    expect(never.allows('spiffe://a/ns/x/sa/y')).toBe(false);
    const either = compileRbac({ policies: { p: { permissions: [{ or_rules: { rules: [{ not_rule: { any: true } }, { any: true }] } }], principals: [{ any: true }] } } });
    expect(either.allows('spiffe://a/ns/x/sa/y')).toBe(true);
  });

  it('refuses what depends on more than the principal, naming the policy', () => {
    expect(() => compileRbac({ policies: { p: { permissions: [{ url_path: { path: { prefix: '/' } } }], principals: [{ any: true }] } } })).toThrow(
      'policy p: permission #0: unsupported permission url_path',
    );
    expect(() => compileRbac({ policies: { p: policy({ source_ip: { address_prefix: '10.0.0.0' }, identifier: 'source_ip' }) } })).toThrow(
      'policy p: principal #0: unsupported principal source_ip',
    );
    expect(() => compileRbac({ policies: { p: { ...policy({ any: true }), condition: { call_expr: {} } } } })).toThrow(ConfigProblem);
    expect(() => compileRbac({ action: 'SHADOW' })).toThrow(ConfigProblem);
    expect(() => compileRbac({ policies: { p: policy(authenticated({ safe_regex: { regex: '(' } })) } })).toThrow(/invalid regex/);
  });
});

describe('compileRbacFilter', () => {
  it('a filter without rules enforces nothing; an empty rules object denies all', () => {
    expect(compileRbacFilter({ '@type': 'x', shadow_rules: { policies: {} } })).toBeUndefined();
    expect(compileRbacFilter({ '@type': 'x', rules: {} })?.allows('spiffe://a')).toBe(false);
  });

  it('refuses the matcher form', () => {
    expect(() => compileRbacFilter({ matcher: { matcher_list: {} } })).toThrow(ConfigProblem);
  });
});

describe('bothAllow', () => {
  it('requires both policies; an undefined one enforces nothing', () => {
    const onlyA = { allows: (p: string | undefined) => p === 'a' };
    const notB = { allows: (p: string | undefined) => p !== 'b' };
    expect(bothAllow(undefined, undefined)).toBeUndefined();
    expect(bothAllow(onlyA, undefined)).toBe(onlyA);
    const both = bothAllow({ allows: (p) => p !== undefined }, notB)!;
    expect([both.allows('a'), both.allows('b'), both.allows(undefined)]).toEqual([true, false, false]);
  });
});
