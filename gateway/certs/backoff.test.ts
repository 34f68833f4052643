import { describe, expect, it } from 'vitest';
import { CONTROL_PLANE_BACKOFF, backoffDelayMs } from './backoff.js';

describe('backoffDelayMs', () => {
  it('grows 1 s × 1.6ⁿ, caps at 30 s, and jitters ±20 %', () => {
    expect([1, 2, 3, 4].map((n) => backoffDelayMs(n, CONTROL_PLANE_BACKOFF, 0.5))).toEqual([1000, 1600, 2560, 4096]);
    expect(backoffDelayMs(50, CONTROL_PLANE_BACKOFF, 0.5)).toBe(30_000);
    expect(backoffDelayMs(1, CONTROL_PLANE_BACKOFF, 0)).toBe(800);
    expect(backoffDelayMs(1, CONTROL_PLANE_BACKOFF, 0.999999)).toBe(1200);
    expect(backoffDelayMs(50, CONTROL_PLANE_BACKOFF, 0.999999)).toBe(36_000);
    expect(backoffDelayMs(0, CONTROL_PLANE_BACKOFF, 0.5)).toBe(1000);
  });
});
