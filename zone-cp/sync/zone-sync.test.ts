import { afterEach, describe, expect, it, vi } from 'vitest';
import { retryDelayMs, toTenantEntry } from './zone-sync.js';

describe('retryDelayMs', () => {
  afterEach(() => vi.restoreAllMocks());

  it.each([
    [0, 250],
    [1, 500],
    [2, 1000],
    [5, 8000],
    [6, 10_000],
    [10, 10_000],
    [1000, 10_000],
  ])('after %d failures the ceiling is %d ms (doubling from 250 ms, capped at 10 s)', (failures, ceiling) => {
    vi.spyOn(Math, 'random').mockReturnValue(1 - Number.EPSILON);
    expect(retryDelayMs(failures)).toBeCloseTo(ceiling, 6);
    expect(retryDelayMs(failures)).toBeLessThan(ceiling);
  });

  it('may be 0 (full jitter)', () => {
    vi.spyOn(Math, 'random').mockReturnValue(0);
    expect(retryDelayMs(7)).toBe(0);
  });

  it('scales the ceiling by the random draw', () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    expect(retryDelayMs(3)).toBe(1000);
  });

  it('honours a custom base and cap', () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    expect(retryDelayMs(0, 500, 30_000)).toBe(250);
    expect(retryDelayMs(4, 500, 30_000)).toBe(4000);
    expect(retryDelayMs(9, 500, 30_000)).toBe(15_000);
  });

  it('stays finite and within [0, cap) for huge failure counts with real randomness', () => {
    for (let i = 0; i < 1000; i++) {
      const delay = retryDelayMs(i);
      expect(Number.isFinite(delay)).toBe(true);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(10_000);
    }
  });
});

describe('toTenantEntry', () => {
  const entry = (operation: 'PUT' | 'DEL', text: string) => ({ key: 'policy.Timeout.web', operation, revision: 4, json: () => JSON.parse(text) as unknown });

  it('carries a PUT\'s parsed value', () => {
    expect(toTenantEntry(entry('PUT', '{"a":1}'))).toEqual({ key: 'policy.Timeout.web', operation: 'PUT', sequence: 4, value: { a: 1 } });
  });

  it('marks a PUT whose value is not JSON as such, not as an undefined value that would fail "Expected object"', () => {
    for (const text of ['{"a":', '', 'not json']) expect(toTenantEntry(entry('PUT', text))).toEqual({ key: 'policy.Timeout.web', operation: 'PUT', sequence: 4, notJson: true });
  });

  it('reads no value of a deletion', () => {
    expect(toTenantEntry(entry('DEL', ''))).toEqual({ key: 'policy.Timeout.web', operation: 'DEL', sequence: 4 });
  });
});
