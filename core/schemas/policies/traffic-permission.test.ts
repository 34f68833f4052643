import { TypeCompiler } from '@sinclair/typebox/compiler';
import { describe, expect, it } from 'vitest';
import { checkPolicySemantics, type PolicyContext } from './index.js';
import { TrafficPermissionSpec } from './traffic-permission.js';

const ctx: PolicyContext = { tenant: 'acme', trustDomain: 'acme.mesh', knownRegions: new Set() };
const schema = TypeCompiler.Compile(TrafficPermissionSpec);
const schemaErrorPaths = (value: unknown) => [...schema.Errors(value)].map((e) => e.path);
const check = (spec: unknown) => checkPolicySemantics('TrafficPermission', spec, ctx);

const valid: TrafficPermissionSpec = {
  targetRef: { kind: 'Service', name: 'payments', namespace: 'shop' },
  rules: [
    { action: 'Allow', sources: [{ namespace: 'shop', serviceAccount: 'web' }, { namespace: 'ops' }, { spiffeId: 'spiffe://acme.mesh/ns/shop/sa/api' }] },
    { action: 'Deny', sources: [{ namespace: 'shop', serviceAccount: '*' }] },
  ],
};

/** The valid spec with its second rule's only source replaced. */
const withSource = (source: Record<string, string>) => ({ ...valid, rules: [valid.rules[0]!, { action: 'Deny', sources: [source] }] });

describe('TrafficPermission semantics', () => {
  it('accepts the valid spec', () => {
    expect(check(valid)).toEqual([]);
  });

  it('requires exactly one of spiffeId and namespace', () => {
    expect(check(withSource({}))).toEqual([{ path: '/spec/rules/1/sources/0', message: 'set exactly one of spiffeId, namespace' }]);
    expect(check(withSource({ spiffeId: 'spiffe://acme.mesh/x', namespace: 'shop' }))).toEqual([
      { path: '/spec/rules/1/sources/0', message: 'set exactly one of spiffeId, namespace' },
    ]);
    expect(check(withSource({ serviceAccount: 'web' }))).toEqual([{ path: '/spec/rules/1/sources/0', message: 'set exactly one of spiffeId, namespace' }]);
  });

  it('refuses serviceAccount with spiffeId', () => {
    expect(check(withSource({ spiffeId: 'spiffe://acme.mesh/ns/shop/sa/web', serviceAccount: 'web' }))).toEqual([
      { path: '/spec/rules/1/sources/0/serviceAccount', message: 'goes with namespace, not spiffeId' },
    ]);
  });

  it.each(['https://acme.mesh/x', 'spiffe://Acme.mesh/x', 'spiffe://a@acme.mesh/x', 'spiffe://acme.mesh:443/x', 'spiffe://acme.mesh/x?y', 'spiffe://acme.mesh/../x'])(
    'reports the malformed spiffeId %s at its path',
    (spiffeId) => {
      const issues = check(withSource({ spiffeId }));
      expect(issues.map((i) => i.path)).toEqual(['/spec/rules/1/sources/0/spiffeId']);
    },
  );

  it("refuses another tenant's trust domain, including the userinfo trick", () => {
    expect(check(withSource({ spiffeId: 'spiffe://other.mesh/ns/shop/sa/web' }))).toEqual([
      { path: '/spec/rules/1/sources/0/spiffeId', message: 'must be in this tenant\'s trust domain "acme.mesh"' },
    ]);
    expect(check(withSource({ spiffeId: 'spiffe://acme.mesh:x@other.mesh/ns/a' })).map((i) => i.path)).toEqual(['/spec/rules/1/sources/0/spiffeId']);
    expect(check(withSource({ spiffeId: 'spiffe://acme.mesh.evil/ns/a' })).map((i) => i.path)).toEqual(['/spec/rules/1/sources/0/spiffeId']);
  });

  it('accepts the bare trust domain as a spiffeId', () => {
    expect(check(withSource({ spiffeId: 'spiffe://acme.mesh' }))).toEqual([]);
  });

  it('indexes rules and sources', () => {
    const spec = { ...valid, rules: [valid.rules[0]!, { action: 'Allow', sources: [{ namespace: 'a' }, { namespace: 'b' }, {}] }] };
    expect(check(spec).map((i) => i.path)).toEqual(['/spec/rules/1/sources/2']);
  });
});

describe('TrafficPermission schema', () => {
  it('accepts the valid spec', () => {
    expect(schemaErrorPaths(valid)).toEqual([]);
  });

  it('rejects unknown fields', () => {
    expect(schemaErrorPaths({ ...valid, default: 'Deny' })).toContain('/default');
    expect(schema.Check(withSource({ namespace: 'shop', ip: '10.0.0.1' }))).toBe(false);
    expect(schema.Check({ ...valid, rules: [{ action: 'Allow', sources: [{ namespace: 'a' }], priority: 1 }] })).toBe(false);
  });

  it('rejects wrong types and out-of-range values', () => {
    expect(schemaErrorPaths({ ...valid, rules: [] })).toContain('/rules');
    expect(schemaErrorPaths({ ...valid, rules: [{ action: 'Allow', sources: [] }] })).toContain('/rules/0/sources');
    expect(schemaErrorPaths({ ...valid, rules: [{ action: 'allow', sources: [{ namespace: 'a' }] }] })).toContain('/rules/0/action');
    expect(schemaErrorPaths({ ...valid, rules: [{ sources: [{ namespace: 'a' }] }] })).toContain('/rules/0/action');
    expect(schema.Check(withSource({ namespace: 'Shop' }))).toBe(false);
    expect(schema.Check(withSource({ namespace: 'shop', serviceAccount: 'Web' }))).toBe(false);
    expect(schema.Check(withSource({ namespace: 'shop', serviceAccount: '**' }))).toBe(false);
    expect(schema.Check(withSource({ spiffeId: `spiffe://acme.mesh/${'a'.repeat(2048)}` }))).toBe(false);
    expect(schema.Check({ ...valid, rules: [{ action: 'Allow', sources: [{ namespace: 1 }] }] })).toBe(false);
  });
});
