import { TypeCompiler } from '@sinclair/typebox/compiler';
import { describe, expect, it } from 'vitest';
import { CircuitBreakerSpec } from './circuit-breaker.js';
import { checkPolicySemantics, type PolicyContext } from './index.js';

const ctx: PolicyContext = { tenant: 'acme', trustDomain: 'acme.mesh', knownRegions: new Set() };
const schema = TypeCompiler.Compile(CircuitBreakerSpec);
const schemaErrorPaths = (value: unknown) => [...schema.Errors(value)].map((e) => e.path);
const check = (spec: unknown) => checkPolicySemantics('CircuitBreaker', spec, ctx);

const outlierDetection = {
  consecutive5xx: 5,
  consecutiveGatewayErrors: 3,
  consecutiveConnectFailures: 2,
  interval: '10s',
  baseEjectionTime: '30s',
  maxEjectionTime: '5m',
  maxEjectionPercent: 50,
};
const valid: CircuitBreakerSpec = {
  targetRef: { kind: 'Service', name: 'web', namespace: 'shop' },
  thresholds: { maxConnections: 1024, maxPendingRequests: 128, maxRequests: 1024, maxRetries: 3 },
  outlierDetection,
};

describe('CircuitBreaker semantics', () => {
  it('accepts the valid spec, thresholds alone and outlierDetection alone', () => {
    expect(check(valid)).toEqual([]);
    expect(check({ targetRef: { kind: 'Tenant' }, thresholds: { maxRequests: 10 } })).toEqual([]);
    expect(check({ targetRef: { kind: 'Tenant' }, outlierDetection: { consecutive5xx: 3 } })).toEqual([]);
  });

  it('requires thresholds or outlierDetection', () => {
    expect(check({ targetRef: { kind: 'Tenant' } })).toEqual([{ path: '/spec', message: 'set thresholds, outlierDetection or both' }]);
  });

  it.each(['interval', 'baseEjectionTime'] as const)('requires a positive outlierDetection.%s', (field) => {
    const spec = { ...valid, outlierDetection: { ...outlierDetection, [field]: '0s' } };
    expect(check(spec)).toEqual([{ path: `/spec/outlierDetection/${field}`, message: 'must be greater than zero' }]);
  });

  it('requires a positive outlierDetection.maxEjectionTime', () => {
    expect(check({ ...valid, outlierDetection: { maxEjectionTime: '0s' } })).toEqual([
      { path: '/spec/outlierDetection/maxEjectionTime', message: 'must be greater than zero' },
    ]);
    expect(check({ ...valid, outlierDetection: { ...outlierDetection, maxEjectionTime: '0s' } })).toContainEqual({
      path: '/spec/outlierDetection/maxEjectionTime',
      message: 'must be greater than zero',
    });
  });

  it('requires maxEjectionTime not shorter than baseEjectionTime', () => {
    expect(check({ ...valid, outlierDetection: { baseEjectionTime: '30s', maxEjectionTime: '29s' } })).toEqual([
      { path: '/spec/outlierDetection/maxEjectionTime', message: 'must not be shorter than baseEjectionTime' },
    ]);
    expect(check({ ...valid, outlierDetection: { baseEjectionTime: '30s', maxEjectionTime: '30000ms' } })).toEqual([]);
    expect(check({ ...valid, outlierDetection: { baseEjectionTime: '1h', maxEjectionTime: '59m' } }).map((i) => i.path)).toEqual([
      '/spec/outlierDetection/maxEjectionTime',
    ]);
    expect(check({ ...valid, outlierDetection: { maxEjectionTime: '1s' } })).toEqual([]);
  });
});

describe('CircuitBreaker schema', () => {
  it('accepts the valid spec', () => {
    expect(schemaErrorPaths(valid)).toEqual([]);
    expect(schema.Check({ targetRef: { kind: 'Tenant' } })).toBe(true);
  });

  it('rejects unknown fields', () => {
    expect(schemaErrorPaths({ ...valid, maxConnections: 5 })).toContain('/maxConnections');
    expect(schema.Check({ ...valid, thresholds: { maxConnections: 1, maxConnectionPools: 2 } })).toBe(false);
    expect(schema.Check({ ...valid, outlierDetection: { ...outlierDetection, splitExternalLocalOriginErrors: true } })).toBe(false);
  });

  it('rejects wrong types and out-of-range values', () => {
    expect(schemaErrorPaths({ ...valid, thresholds: { maxConnections: 0 } })).toContain('/thresholds/maxConnections');
    expect(schemaErrorPaths({ ...valid, thresholds: { maxRequests: 1.5 } })).toContain('/thresholds/maxRequests');
    expect(schemaErrorPaths({ ...valid, thresholds: { maxRetries: '3' } })).toContain('/thresholds/maxRetries');
    expect(schemaErrorPaths({ ...valid, thresholds: { maxPendingRequests: 1_000_000_001 } })).toContain('/thresholds/maxPendingRequests');
    expect(schemaErrorPaths({ ...valid, outlierDetection: { maxEjectionPercent: 101 } })).toContain('/outlierDetection/maxEjectionPercent');
    expect(schemaErrorPaths({ ...valid, outlierDetection: { consecutive5xx: 0 } })).toContain('/outlierDetection/consecutive5xx');
    expect(schemaErrorPaths({ ...valid, outlierDetection: { interval: 10 } })).toContain('/outlierDetection/interval');
    expect(schemaErrorPaths({ ...valid, thresholds: [] })).toContain('/thresholds');
    expect(schema.Check({ ...valid, outlierDetection: { maxEjectionPercent: 0 } })).toBe(true);
  });
});
