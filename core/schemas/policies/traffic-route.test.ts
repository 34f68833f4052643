import { TypeCompiler } from '@sinclair/typebox/compiler';
import { describe, expect, it } from 'vitest';
import { checkPolicySemantics, type PolicyContext } from './index.js';
import { TrafficRouteSpec } from './traffic-route.js';

const ctx: PolicyContext = { tenant: 'acme', trustDomain: 'acme.mesh', knownRegions: new Set(['eu-west']) };
const schema = TypeCompiler.Compile(TrafficRouteSpec);
const schemaErrorPaths = (value: unknown) => [...schema.Errors(value)].map((e) => e.path);
const check = (spec: unknown) => checkPolicySemantics('TrafficRoute', spec, ctx);

const valid: TrafficRouteSpec = {
  targetRef: { kind: 'Service', name: 'web', namespace: 'shop' },
  rules: [
    {
      matches: [
        { path: { prefix: '/api' }, method: 'GET', headers: [{ name: 'x-canary', exact: '1' }, { name: 'x-debug', present: true, invert: true }] },
        { path: { regex: '^/v[0-9]+/items$' }, headers: [{ name: 'user-agent', regex: '.*Mobile.*' }] },
      ],
      split: [
        { weight: 90, tags: { version: 'v1' } },
        { weight: 10, tags: { version: 'v2', 'app.kubernetes.io/part-of': 'shop' } },
      ],
    },
    { split: [{ weight: 100 }] },
  ],
};

/** A deep copy of the valid spec, changed by `edit`. */
function variant(edit: (spec: TrafficRouteSpec) => void): TrafficRouteSpec {
  const spec = structuredClone(valid);
  edit(spec);
  return spec;
}

describe('TrafficRoute semantics', () => {
  it('accepts the valid spec', () => {
    expect(check(valid)).toEqual([]);
  });

  it('accepts a 0-weight entry when the weights still sum to 100', () => {
    expect(check({ targetRef: { kind: 'Tenant' }, rules: [{ split: [{ weight: 100 }, { weight: 0, tags: { version: 'v2' } }] }] })).toEqual([]);
  });

  it('reports split weights that do not sum to 100, per rule', () => {
    expect(check(variant((s) => (s.rules[0]!.split[1]!.weight = 5)))).toEqual([
      { path: '/spec/rules/0/split', message: 'weights must sum to 100, got 95' },
    ]);
    expect(check(variant((s) => (s.rules[1]!.split = [{ weight: 60 }, { weight: 60 }])))).toEqual([
      { path: '/spec/rules/1/split', message: 'weights must sum to 100, got 120' },
    ]);
  });

  it('requires exactly one path matcher', () => {
    const none = check(variant((s) => (s.rules[0]!.matches![0]!.path = {})));
    expect(none).toEqual([{ path: '/spec/rules/0/matches/0/path', message: 'set exactly one of exact, prefix, regex' }]);
    const two = check(variant((s) => (s.rules[0]!.matches![1]!.path = { exact: '/a', prefix: '/b' })));
    expect(two).toEqual([{ path: '/spec/rules/0/matches/1/path', message: 'set exactly one of exact, prefix, regex (got exact, prefix)' }]);
  });

  it('requires exactly one header matcher', () => {
    const none = check(variant((s) => (s.rules[0]!.matches![0]!.headers![1] = { name: 'x-debug', invert: true })));
    expect(none).toEqual([{ path: '/spec/rules/0/matches/0/headers/1', message: 'set exactly one of exact, prefix, regex, present' }]);
    const two = check(variant((s) => (s.rules[0]!.matches![0]!.headers![0] = { name: 'x-canary', exact: '1', present: true })));
    expect(two.map((i) => i.path)).toEqual(['/spec/rules/0/matches/0/headers/0']);
  });

  it('counts present: false as a matcher', () => {
    expect(check(variant((s) => (s.rules[0]!.matches![0]!.headers![1] = { name: 'x-debug', present: false })))).toEqual([]);
  });

  it('reports an invalid path regex at path/regex', () => {
    expect(check(variant((s) => (s.rules[0]!.matches![1]!.path = { regex: '(' })))).toEqual([
      { path: '/spec/rules/0/matches/1/path/regex', message: expect.stringMatching(/^invalid RE2 regular expression "\(": .*Unterminated group/) as string },
    ]);
  });

  it('reports an invalid header regex at headers/<i>/regex', () => {
    const issues = check(variant((s) => (s.rules[0]!.matches![1]!.headers![0]!.regex = '[a-')));
    expect(issues).toEqual([{ path: '/spec/rules/0/matches/1/headers/0/regex', message: 'invalid RE2 regular expression "[a-": missing closing ]' }]);
  });

  it('reports every problem, in document order', () => {
    const spec = variant((s) => {
      s.rules[0]!.split[0]!.weight = 1;
      s.rules[0]!.matches![0]!.path = {};
      s.rules[1]!.split[0]!.weight = 99;
    });
    expect(check(spec).map((i) => i.path)).toEqual(['/spec/rules/0/split', '/spec/rules/0/matches/0/path', '/spec/rules/1/split']);
  });

  // The schema documents regexes as RE2 (what Envoy compiles); the check should accept RE2 and refuse what RE2 refuses.
  it('accepts RE2 syntax that JavaScript lacks (inline flags, named groups)', () => {
    expect(check(variant((s) => (s.rules[0]!.matches![1]!.path = { regex: '(?i)^/api/' })))).toEqual([]);
    expect(check(variant((s) => (s.rules[0]!.matches![1]!.path = { regex: '^/items/(?P<id>[0-9]+)$' })))).toEqual([]);
  });

  it('rejects what RE2 cannot compile (lookaround, backreferences)', () => {
    expect(check(variant((s) => (s.rules[0]!.matches![1]!.path = { regex: '^/(?!admin)' }))).map((i) => i.path)).toEqual([
      '/spec/rules/0/matches/1/path/regex',
    ]);
    expect(check(variant((s) => (s.rules[0]!.matches![1]!.headers![0]!.regex = '(a)\\1'))).map((i) => i.path)).toEqual([
      '/spec/rules/0/matches/1/headers/0/regex',
    ]);
  });
});

describe('TrafficRoute schema', () => {
  it('accepts the valid spec and a minimal Tenant-wide one', () => {
    expect(schemaErrorPaths(valid)).toEqual([]);
    expect(schema.Check({ targetRef: { kind: 'Tenant' }, rules: [{ split: [{ weight: 100 }] }] })).toBe(true);
  });

  it('rejects unknown fields at every level', () => {
    expect(schemaErrorPaths({ ...valid, extra: 1 })).toContain('/extra');
    expect(schema.Check(variant((s) => Object.assign(s.rules[0]!, { weight: 1 })))).toBe(false);
    expect(schema.Check(variant((s) => Object.assign(s.rules[0]!.split[0]!, { subset: 'v1' })))).toBe(false);
    expect(schema.Check(variant((s) => Object.assign(s.rules[0]!.matches![0]!, { query: 'x' })))).toBe(false);
    expect(schema.Check(variant((s) => Object.assign(s.rules[0]!.matches![0]!.path!, { suffix: 'x' })))).toBe(false);
    expect(schema.Check(variant((s) => Object.assign(s.targetRef, { zone: 'z1' })))).toBe(false);
  });

  it('rejects wrong types and out-of-range values', () => {
    expect(schemaErrorPaths({ ...valid, rules: 'all' })).toContain('/rules');
    expect(schemaErrorPaths({ ...valid, rules: [] })).toContain('/rules');
    expect(schemaErrorPaths({ ...valid, rules: [{ split: [] }] })).toContain('/rules/0/split');
    expect(schemaErrorPaths({ ...valid, rules: [{ split: [{ weight: '100' }] }] })).toContain('/rules/0/split/0/weight');
    expect(schemaErrorPaths({ ...valid, rules: [{ split: [{ weight: 101 }] }] })).toContain('/rules/0/split/0/weight');
    expect(schemaErrorPaths({ ...valid, rules: [{ split: [{ weight: 50.5 }, { weight: 49.5 }] }] })).toContain('/rules/0/split/0/weight');
    expect(schemaErrorPaths({ ...valid, rules: [{ split: [{ weight: -1 }] }] })).toContain('/rules/0/split/0/weight');
    expect(schema.Check(variant((s) => Object.assign(s.rules[0]!.matches![0]!, { method: 'FETCH' })))).toBe(false);
    expect(schema.Check(variant((s) => Object.assign(s.rules[0]!.matches![0]!, { method: 'get' })))).toBe(false);
    expect(schema.Check(variant((s) => (s.rules[0]!.matches![0]!.headers![0]!.name = 'x canary')))).toBe(false);
    expect(schema.Check(variant((s) => (s.rules[0]!.matches![0]!.path = { prefix: '' })))).toBe(false);
    expect(schemaErrorPaths({ ...valid, targetRef: { kind: 'Mesh' } })).toContain('/targetRef/kind');
    expect(schemaErrorPaths({ ...valid, targetRef: { kind: 'Service', name: 'Web', namespace: 'shop' } })).toContain('/targetRef/name');
    expect(schemaErrorPaths({ rules: valid.rules })).toContain('/targetRef');
  });

  it('rejects tag values that are not label values', () => {
    expect(schema.Check(variant((s) => (s.rules[0]!.split[0]!.tags = { version: 'not a label value' })))).toBe(false);
    expect(schema.Check({ ...valid, rules: [{ split: [{ weight: 100, tags: { version: 1 } }] }] })).toBe(false);
  });

  // Labels is a Record whose key pattern becomes patternProperties without additionalProperties: false,
  // so keys that do not match the pattern are not validated at all.
  it('rejects tag keys that are not label keys', () => {
    expect(schema.Check({ ...valid, rules: [{ split: [{ weight: 100, tags: { 'not a key!': 'v1' } }] }] })).toBe(false);
    expect(schema.Check({ ...valid, rules: [{ split: [{ weight: 100, tags: { 'Not/A/Key': { nested: [1] } } }] }] })).toBe(false);
  });
});
