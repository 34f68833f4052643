import { describe, expect, it } from 'vitest';
import { backoffMs, budgetAllows, grpcStatusOf, parseRetryOn, retryBudgetLimit, shouldRetry, type AttemptOutcome } from './retry.js';

const response = (status: number, grpcStatus?: number): AttemptOutcome => ({ kind: 'response', status, ...(grpcStatus !== undefined ? { grpcStatus } : {}) });
const NO_RESPONSE: AttemptOutcome[] = [{ kind: 'connect-failure' }, { kind: 'refused-stream' }, { kind: 'reset' }, { kind: 'per-try-timeout' }];
const retries = (retryOn: string, outcome: AttemptOutcome, codes?: number[]) => shouldRetry(parseRetryOn(retryOn, codes), outcome);

describe('parseRetryOn', () => {
  it('reads Envoy\'s comma list or an array; unknown values are set aside', () => {
    const parsed = parseRetryOn(' 5xx, gateway-error,,bogus', [418]);
    expect([...parsed.on]).toEqual(['5xx', 'gateway-error']);
    expect(parsed.unknown).toEqual(['bogus']);
    expect([...parsed.statusCodes]).toEqual([418]);
    expect([...parseRetryOn(['unavailable', 'reset']).on]).toEqual(['unavailable', 'reset']);
  });
});

describe('shouldRetry', () => {
  it('5xx: any 5xx response, or no response at all', () => {
    for (const status of [500, 502, 503, 504, 599]) expect(retries('5xx', response(status))).toBe(true);
    for (const status of [200, 409, 429, 499]) expect(retries('5xx', response(status))).toBe(false);
    for (const outcome of NO_RESPONSE) expect(retries('5xx', outcome)).toBe(true);
  });

  it('gateway-error: 502, 503, 504, or no response at all', () => {
    expect([500, 501, 502, 503, 504, 505].map((s) => retries('gateway-error', response(s)))).toEqual([false, false, true, true, true, false]);
    for (const outcome of NO_RESPONSE) expect(retries('gateway-error', outcome)).toBe(true);
  });

  it('reset: no response at all, never a response', () => {
    for (const outcome of NO_RESPONSE) expect(retries('reset', outcome)).toBe(true);
    expect(retries('reset', response(503))).toBe(false);
  });

  it('connect-failure and refused-stream: only that', () => {
    expect(NO_RESPONSE.map((o) => retries('connect-failure', o))).toEqual([true, false, false, false]);
    expect(NO_RESPONSE.map((o) => retries('refused-stream', o))).toEqual([false, true, false, false]);
    expect(retries('connect-failure', response(503))).toBe(false);
  });

  it('retriable-4xx: 409 only', () => {
    expect([400, 404, 409, 429].map((s) => retries('retriable-4xx', response(s)))).toEqual([false, false, true, false]);
  });

  it('retriable-status-codes: the listed codes', () => {
    expect(retries('retriable-status-codes', response(429), [429, 418])).toBe(true);
    expect(retries('retriable-status-codes', response(503), [429])).toBe(false);
    expect(retries('5xx', response(429), [429])).toBe(false);
  });

  it('gRPC names: the grpc-status they name', () => {
    const cases: [string, number][] = [['cancelled', 1], ['deadline-exceeded', 4], ['resource-exhausted', 8], ['internal', 13], ['unavailable', 14]];
    for (const [name, code] of cases) {
      expect(retries(name, response(200, code))).toBe(true);
      expect(retries(name, response(200, 0))).toBe(false);
      expect(retries(name, response(200))).toBe(false);
    }
    expect(retries('unavailable', response(200, 13))).toBe(false);
    expect(retries('unavailable', { kind: 'reset' })).toBe(false);
  });

  it('combines conditions', () => {
    expect(retries('retriable-4xx,unavailable', response(200, 14))).toBe(true);
    expect(retries('retriable-4xx,unavailable', response(409))).toBe(true);
    expect(retries('', response(503))).toBe(false);
  });
});

describe('grpcStatusOf', () => {
  it('parses a grpc-status header', () => {
    expect(grpcStatusOf('14')).toBe(14);
    expect(grpcStatusOf(['4', '0'])).toBe(4);
    expect(grpcStatusOf(' 0 ')).toBe(0);
    expect(grpcStatusOf(undefined)).toBeUndefined();
    expect(grpcStatusOf('UNAVAILABLE')).toBeUndefined();
    expect(grpcStatusOf('99')).toBeUndefined();
  });
});

describe('backoffMs', () => {
  const ALMOST_1 = 0.999999;

  it('draws from [0, base × 2^attempt), capped at max', () => {
    expect([0, 1, 2, 3, 4, 5, 10].map((a) => backoffMs(a, 25, 250, ALMOST_1))).toEqual([24, 49, 99, 199, 249, 249, 249]);
    expect([0, 1, 2, 3].map((a) => backoffMs(a, 25, 250, 0))).toEqual([0, 0, 0, 0]);
    expect(backoffMs(2, 25, 250, 0.5)).toBe(50);
  });

  it('defaults to Envoy\'s 25 ms base and max 10 × base', () => {
    expect(backoffMs(0, undefined, undefined, ALMOST_1)).toBe(24);
    expect(backoffMs(9, 100, undefined, ALMOST_1)).toBe(999);
  });

  it('stays inside its bounds for any random value', () => {
    for (let attempt = 0; attempt < 8; attempt++) {
      for (const r of [0, 0.1, 0.5, 0.9, ALMOST_1, 1]) {
        const ms = backoffMs(attempt, 10, 300, r);
        expect(ms).toBeGreaterThanOrEqual(0);
        expect(ms).toBeLessThan(Math.min(10 * 2 ** attempt, 300));
        expect(Number.isInteger(ms)).toBe(true);
      }
    }
  });
});

describe('retry budget', () => {
  it('allows percent of the active requests, rounded down, at least minRetryConcurrency', () => {
    expect(retryBudgetLimit(100, 25, 3)).toBe(25);
    expect(retryBudgetLimit(10, 20, 3)).toBe(3); // 2 < 3
    expect(retryBudgetLimit(19, 50, 0)).toBe(9);
    expect(retryBudgetLimit(100, 29, 0)).toBe(29); // exact, no 28.999…
    expect(retryBudgetLimit(0, 20, 0)).toBe(0);
    expect(retryBudgetLimit(100)).toBe(20); // Envoy's defaults 20 %, 3
    expect(retryBudgetLimit(5)).toBe(3);
  });

  it('admits a retry while active retries stay below the limit', () => {
    expect(budgetAllows(100, 24, 25, 3)).toBe(true);
    expect(budgetAllows(100, 25, 25, 3)).toBe(false);
    expect(budgetAllows(0, 2, 20, 3)).toBe(true);
    expect(budgetAllows(0, 3, 20, 3)).toBe(false);
    expect(budgetAllows(0, 0, 20, 0)).toBe(false);
  });
});
