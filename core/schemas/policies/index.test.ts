import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { API_VERSION } from '../common.js';
import { POLICY_KINDS, POLICY_KIND_NAMES, PolicyDocument, checkPolicySemantics, isPolicyKind, policyInputSchema, type PolicyContext, type PolicyKind } from './index.js';

const ctx: PolicyContext = { tenant: 'acme', trustDomain: 'acme.mesh', knownRegions: new Set(['eu-west', 'us-east']) };

/** One valid spec per kind, without its targetRef. */
const BODIES: Record<PolicyKind, Record<string, unknown>> = {
  TrafficRoute: { rules: [{ split: [{ weight: 80, tags: { version: 'v1' } }, { weight: 20, tags: { version: 'v2' } }] }] },
  Retry: { attempts: 2, retryOn: ['5xx'], perTryTimeout: '1s' },
  Timeout: { request: '15s' },
  CircuitBreaker: { thresholds: { maxRequests: 100 } },
  LocalityFailover: { crossRegion: [{ from: 'eu-west', to: ['us-east'] }] },
  TrafficPermission: { rules: [{ action: 'Allow', sources: [{ namespace: 'shop' }] }] },
};
const SERVICE = { kind: 'Service', name: 'web', namespace: 'shop' };
const TENANT = { kind: 'Tenant' };

describe('POLICY_KINDS', () => {
  it('has exactly the six kinds', () => {
    expect(POLICY_KIND_NAMES).toEqual(['TrafficRoute', 'Retry', 'Timeout', 'CircuitBreaker', 'LocalityFailover', 'TrafficPermission']);
  });

  it('isPolicyKind knows only those, not inherited names or other casing', () => {
    for (const kind of POLICY_KIND_NAMES) expect(isPolicyKind(kind)).toBe(true);
    for (const kind of ['trafficroute', 'Zone', 'Tenant', '', 'toString', 'constructor', '__proto__']) expect(isPolicyKind(kind)).toBe(false);
  });
});

describe.each(POLICY_KIND_NAMES)('%s targetRef', (kind) => {
  const check = (targetRef: Record<string, string>) => checkPolicySemantics(kind, { targetRef, ...BODIES[kind] }, ctx);
  const schema = TypeCompiler.Compile(POLICY_KINDS[kind].spec);

  it('accepts a Service with name and namespace, and a bare Tenant', () => {
    expect(check(SERVICE)).toEqual([]);
    expect(check(TENANT)).toEqual([]);
    expect(schema.Check({ targetRef: SERVICE, ...BODIES[kind] })).toBe(true);
    expect(schema.Check({ targetRef: TENANT, ...BODIES[kind] })).toBe(true);
  });

  it('requires name and namespace for a Service', () => {
    expect(check({ kind: 'Service', namespace: 'shop' })).toEqual([{ path: '/spec/targetRef/name', message: 'is required when kind is Service' }]);
    expect(check({ kind: 'Service', name: 'web' })).toEqual([{ path: '/spec/targetRef/namespace', message: 'is required when kind is Service' }]);
    expect(check({ kind: 'Service' })).toEqual([
      { path: '/spec/targetRef/name', message: 'is required when kind is Service' },
      { path: '/spec/targetRef/namespace', message: 'is required when kind is Service' },
    ]);
  });

  it('refuses name and namespace for a Tenant', () => {
    expect(check({ kind: 'Tenant', name: 'web' })).toEqual([{ path: '/spec/targetRef/name', message: 'must be absent when kind is Tenant' }]);
    expect(check({ kind: 'Tenant', namespace: 'shop' })).toEqual([{ path: '/spec/targetRef/namespace', message: 'must be absent when kind is Tenant' }]);
    expect(check({ kind: 'Tenant', name: 'web', namespace: 'shop' }).map((i) => i.path)).toEqual(['/spec/targetRef/name', '/spec/targetRef/namespace']);
  });

  it('schema rejects unknown targetRef fields, other kinds and non-DNS names', () => {
    expect(schema.Check({ targetRef: { ...SERVICE, port: 80 }, ...BODIES[kind] })).toBe(false);
    expect(schema.Check({ targetRef: { kind: 'Mesh' }, ...BODIES[kind] })).toBe(false);
    expect(schema.Check({ targetRef: { kind: 'service', name: 'web', namespace: 'shop' }, ...BODIES[kind] })).toBe(false);
    expect(schema.Check({ targetRef: { ...SERVICE, name: 'Web' }, ...BODIES[kind] })).toBe(false);
    expect(schema.Check({ targetRef: { ...SERVICE, namespace: 'a'.repeat(64) }, ...BODIES[kind] })).toBe(false);
    expect(schema.Check({ targetRef: { ...SERVICE, name: '-web' }, ...BODIES[kind] })).toBe(false);
    expect(schema.Check(BODIES[kind])).toBe(false);
    expect(schema.Check({ targetRef: SERVICE, ...BODIES[kind], unknown: true })).toBe(false);
  });
});

describe('checkPolicySemantics', () => {
  it('lists targetRef issues before the kind\'s own', () => {
    const issues = checkPolicySemantics('Timeout', { targetRef: { kind: 'Service' } }, ctx);
    expect(issues.map((i) => i.path)).toEqual(['/spec/targetRef/name', '/spec/targetRef/namespace', '/spec']);
  });

  it('passes the context to the kind\'s check', () => {
    const spec = { targetRef: TENANT, ...BODIES.LocalityFailover };
    expect(checkPolicySemantics('LocalityFailover', spec, ctx)).toEqual([]);
    expect(checkPolicySemantics('LocalityFailover', spec, { ...ctx, knownRegions: new Set(['eu-west']) }).map((i) => i.path)).toEqual([
      '/spec/crossRegion/0/to/0',
    ]);
  });
});

describe('policyInputSchema', () => {
  it.each(POLICY_KIND_NAMES)('%s: accepts a bare spec and a full document, rejects the rest', (kind) => {
    const schema = TypeCompiler.Compile(policyInputSchema(kind));
    const spec = { targetRef: TENANT, ...BODIES[kind] };
    expect(schema.Check({ spec })).toBe(true);
    expect(
      schema.Check({ apiVersion: API_VERSION, kind, metadata: { name: 'p1', tenant: 'acme', labels: { team: 'a' }, resourceVersion: '7', generation: 2, creationTimestamp: '2025-01-01T00:00:00Z' }, spec }),
    ).toBe(true);
    expect(schema.Check({})).toBe(false);
    expect(schema.Check({ spec, status: {} })).toBe(false);
    expect(schema.Check({ apiVersion: 'meshfed.io/v1', spec })).toBe(false);
    expect(schema.Check({ kind: kind === 'Retry' ? 'Timeout' : 'Retry', spec })).toBe(false);
    expect(schema.Check({ metadata: { name: 'P1' }, spec })).toBe(false);
    expect(schema.Check({ metadata: { owner: 'x' }, spec })).toBe(false);
    expect(schema.Check({ spec: { ...spec, extra: 1 } })).toBe(false);
  });
});

describe('PolicyDocument', () => {
  it('accepts a stored document of a known kind only', () => {
    const doc = {
      apiVersion: API_VERSION,
      kind: 'Retry',
      metadata: { name: 'r', tenant: 'acme', labels: {}, resourceVersion: '1', generation: 1, creationTimestamp: '2025-01-01T00:00:00.000Z' },
      spec: { targetRef: TENANT, ...BODIES.Retry },
    };
    expect(Value.Check(PolicyDocument, doc)).toBe(true);
    expect(Value.Check(PolicyDocument, { ...doc, kind: 'Zone' })).toBe(false);
    expect(Value.Check(PolicyDocument, { ...doc, metadata: { ...doc.metadata, generation: '1' } })).toBe(false);
  });
});
