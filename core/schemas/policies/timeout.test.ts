import { TypeCompiler } from '@sinclair/typebox/compiler';
import { describe, expect, it } from 'vitest';
import { checkPolicySemantics, type PolicyContext } from './index.js';
import { TimeoutSpec } from './timeout.js';

const ctx: PolicyContext = { tenant: 'acme', trustDomain: 'acme.mesh', knownRegions: new Set() };
const schema = TypeCompiler.Compile(TimeoutSpec);
const schemaErrorPaths = (value: unknown) => [...schema.Errors(value)].map((e) => e.path);
const check = (spec: unknown) => checkPolicySemantics('Timeout', spec, ctx);

const valid: TimeoutSpec = { targetRef: { kind: 'Service', name: 'web', namespace: 'shop' }, connect: '1s', request: '1m30s', idle: '5m' };

describe('Timeout semantics', () => {
  it('accepts the valid spec and each field alone', () => {
    expect(check(valid)).toEqual([]);
    expect(check({ targetRef: { kind: 'Tenant' }, connect: '250ms' })).toEqual([]);
    expect(check({ targetRef: { kind: 'Tenant' }, request: '30s' })).toEqual([]);
    expect(check({ targetRef: { kind: 'Tenant' }, idle: '1h' })).toEqual([]);
  });

  it('requires at least one timeout', () => {
    expect(check({ targetRef: { kind: 'Tenant' } })).toEqual([{ path: '/spec', message: 'set at least one of connect, request, idle' }]);
  });

  it.each(['connect', 'request', 'idle'] as const)('requires a positive %s', (field) => {
    expect(check({ ...valid, [field]: '0s' })).toEqual([{ path: `/spec/${field}`, message: 'must be greater than zero' }]);
    expect(check({ ...valid, [field]: '0.0ms' })).toEqual([{ path: `/spec/${field}`, message: 'must be greater than zero' }]);
  });

  it('reports every zero timeout', () => {
    expect(check({ ...valid, connect: '0s', request: '0m', idle: '0h' }).map((i) => i.path)).toEqual(['/spec/connect', '/spec/request', '/spec/idle']);
  });
});

describe('Timeout schema', () => {
  it('accepts the valid spec', () => {
    expect(schemaErrorPaths(valid)).toEqual([]);
    expect(schema.Check({ targetRef: { kind: 'Tenant' } })).toBe(true);
  });

  it('rejects unknown fields and wrong types', () => {
    expect(schemaErrorPaths({ ...valid, total: '1s' })).toContain('/total');
    expect(schemaErrorPaths({ ...valid, connect: 1000 })).toContain('/connect');
    expect(schemaErrorPaths({ ...valid, request: '1 s' })).toContain('/request');
    expect(schemaErrorPaths({ ...valid, idle: '-1s' })).toContain('/idle');
    expect(schemaErrorPaths({ ...valid, idle: '1d' })).toContain('/idle');
    expect(schemaErrorPaths({ ...valid, idle: `${'1'.repeat(32)}s` })).toContain('/idle');
    expect(schemaErrorPaths({ connect: '1s' })).toContain('/targetRef');
  });
});
