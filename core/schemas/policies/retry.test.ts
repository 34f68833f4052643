import { TypeCompiler } from '@sinclair/typebox/compiler';
import { describe, expect, it } from 'vitest';
import { checkPolicySemantics, type PolicyContext } from './index.js';
import { RETRY_ON, RetrySpec } from './retry.js';

const ctx: PolicyContext = { tenant: 'acme', trustDomain: 'acme.mesh', knownRegions: new Set() };
const schema = TypeCompiler.Compile(RetrySpec);
const schemaErrorPaths = (value: unknown) => [...schema.Errors(value)].map((e) => e.path);
const check = (spec: unknown) => checkPolicySemantics('Retry', spec, ctx);

const valid: RetrySpec = {
  targetRef: { kind: 'Tenant' },
  attempts: 3,
  perTryTimeout: '2s',
  retryOn: ['5xx', 'retriable-status-codes', 'unavailable'],
  retriableStatusCodes: [503, 429],
  backoff: { baseInterval: '25ms', maxInterval: '250ms' },
  budget: { percent: 20, minRetryConcurrency: 3 },
};
const minimal: RetrySpec = { targetRef: { kind: 'Service', name: 'web', namespace: 'shop' }, attempts: 1, retryOn: ['connect-failure'] };

describe('Retry semantics', () => {
  it('accepts the valid and the minimal spec', () => {
    expect(check(valid)).toEqual([]);
    expect(check(minimal)).toEqual([]);
  });

  it('requires a positive perTryTimeout', () => {
    expect(check({ ...valid, perTryTimeout: '0s' })).toEqual([{ path: '/spec/perTryTimeout', message: 'must be greater than zero' }]);
    expect(check({ ...valid, perTryTimeout: '0ms0s' })).toEqual([{ path: '/spec/perTryTimeout', message: 'must be greater than zero' }]);
  });

  it('reports a malformed duration that got past the schema', () => {
    expect(check({ ...valid, perTryTimeout: 'soon' })).toEqual([
      { path: '/spec/perTryTimeout', message: '"soon" is not a duration like 250ms, 5s or 1m30s' },
    ]);
  });

  it('requires a positive backoff.baseInterval and maxInterval', () => {
    expect(check({ ...valid, backoff: { baseInterval: '0s' } })).toEqual([{ path: '/spec/backoff/baseInterval', message: 'must be greater than zero' }]);
    expect(check({ ...valid, backoff: { baseInterval: '1s', maxInterval: '0ms' } }).map((i) => i.path)).toContain('/spec/backoff/maxInterval');
  });

  it('requires maxInterval not shorter than baseInterval', () => {
    expect(check({ ...valid, backoff: { baseInterval: '1s', maxInterval: '999ms' } })).toEqual([
      { path: '/spec/backoff/maxInterval', message: 'must not be shorter than baseInterval' },
    ]);
    expect(check({ ...valid, backoff: { baseInterval: '1s', maxInterval: '1000ms' } })).toEqual([]);
    expect(check({ ...valid, backoff: { baseInterval: '1m', maxInterval: '59s' } }).map((i) => i.path)).toEqual(['/spec/backoff/maxInterval']);
    expect(check({ ...valid, backoff: { baseInterval: '100ms' } })).toEqual([]);
  });

  it('requires retriableStatusCodes when retryOn has retriable-status-codes', () => {
    const { retriableStatusCodes: _omit, ...noCodes } = valid;
    expect(check(noCodes)).toEqual([{ path: '/spec/retriableStatusCodes', message: 'required when retryOn has retriable-status-codes' }]);
    expect(check({ ...valid, retriableStatusCodes: [] })).toEqual([
      { path: '/spec/retriableStatusCodes', message: 'required when retryOn has retriable-status-codes' },
    ]);
  });

  it('refuses retriableStatusCodes without retriable-status-codes in retryOn', () => {
    expect(check({ ...valid, retryOn: ['5xx'] })).toEqual([
      { path: '/spec/retriableStatusCodes', message: 'only used when retryOn has retriable-status-codes' },
    ]);
    expect(check({ ...valid, retryOn: ['5xx'], retriableStatusCodes: [] })).toEqual([]);
  });
});

describe('Retry schema', () => {
  it('accepts the valid and minimal specs and every retryOn condition', () => {
    expect(schemaErrorPaths(valid)).toEqual([]);
    expect(schema.Check(minimal)).toBe(true);
    expect(schema.Check({ ...minimal, retryOn: [...RETRY_ON] })).toBe(true);
  });

  it('rejects unknown fields', () => {
    expect(schemaErrorPaths({ ...valid, maxRetries: 3 })).toContain('/maxRetries');
    expect(schema.Check({ ...valid, backoff: { baseInterval: '1s', jitter: true } })).toBe(false);
    expect(schema.Check({ ...valid, budget: { percent: 10, ttl: '1s' } })).toBe(false);
  });

  it('rejects missing required fields', () => {
    const { attempts: _a, ...noAttempts } = valid;
    expect(schemaErrorPaths(noAttempts)).toContain('/attempts');
    const { retryOn: _r, ...noRetryOn } = valid;
    expect(schemaErrorPaths(noRetryOn)).toContain('/retryOn');
    expect(schema.Check({ ...valid, backoff: { maxInterval: '1s' } })).toBe(false);
    expect(schema.Check({ ...valid, budget: {} })).toBe(false);
  });

  it('rejects wrong types and out-of-range values', () => {
    for (const attempts of [0, 11, 1.5, '3', null]) expect(schemaErrorPaths({ ...valid, attempts })).toContain('/attempts');
    expect(schemaErrorPaths({ ...valid, retryOn: [] })).toContain('/retryOn');
    expect(schemaErrorPaths({ ...valid, retryOn: ['5xx', '5xx'] })).toContain('/retryOn');
    expect(schema.Check({ ...valid, retryOn: ['bogus'] })).toBe(false);
    expect(schema.Check({ ...valid, retryOn: '5xx' })).toBe(false);
    expect(schema.Check({ ...valid, retriableStatusCodes: [99] })).toBe(false);
    expect(schema.Check({ ...valid, retriableStatusCodes: [600] })).toBe(false);
    expect(schema.Check({ ...valid, retriableStatusCodes: [503, 503] })).toBe(false);
    expect(schema.Check({ ...valid, perTryTimeout: '5' })).toBe(false);
    expect(schema.Check({ ...valid, perTryTimeout: 5 })).toBe(false);
    expect(schema.Check({ ...valid, budget: { percent: 0 } })).toBe(false);
    expect(schema.Check({ ...valid, budget: { percent: 100.5 } })).toBe(false);
    expect(schema.Check({ ...valid, budget: { percent: 0.5 } })).toBe(true);
  });
});
