import { describe, expect, it } from 'vitest';
import { attemptTimeoutMs, requestDeadline, retryStartsInTime } from './timeouts.js';

describe('requestDeadline', () => {
  it('is start + route timeout; 15 s when unset (Envoy), none when 0', () => {
    expect(requestDeadline(1000, { timeoutMs: 2000 })).toBe(3000);
    expect(requestDeadline(1000, {})).toBe(16_000);
    expect(requestDeadline(1000, { timeoutMs: 0 })).toBe(Infinity);
  });
});

describe('attemptTimeoutMs', () => {
  it('is the per-try timeout, cut to what is left of the request', () => {
    expect(attemptTimeoutMs(16_000, 1000, { perTryTimeoutMs: 2000 })).toBe(2000);
    expect(attemptTimeoutMs(16_000, 15_000, { perTryTimeoutMs: 2000 })).toBe(1000);
  });

  it('without a per-try timeout, is what is left of the request', () => {
    expect(attemptTimeoutMs(16_000, 1000, {})).toBe(15_000);
    expect(attemptTimeoutMs(16_000, 1000, { perTryTimeoutMs: 0 })).toBe(15_000);
    expect(attemptTimeoutMs(Infinity, 1000, {})).toBe(Infinity);
    expect(attemptTimeoutMs(Infinity, 1000, { perTryTimeoutMs: 500 })).toBe(500);
  });

  it('is 0 once the deadline has passed', () => {
    expect(attemptTimeoutMs(16_000, 16_000, { perTryTimeoutMs: 2000 })).toBe(0);
    expect(attemptTimeoutMs(16_000, 20_000, {})).toBe(0);
  });
});

describe('retryStartsInTime', () => {
  it('is whether the back-off ends before the deadline', () => {
    expect(retryStartsInTime(16_000, 15_000, 999)).toBe(true);
    expect(retryStartsInTime(16_000, 15_000, 1000)).toBe(false);
    expect(retryStartsInTime(Infinity, 15_000, 1e9)).toBe(true);
  });
});
