import { describe, expect, it } from 'vitest';
import { needsRenewal } from './intermediates.js';

describe('needsRenewal', () => {
  const start = '2026-01-01T00:00:00.000Z';
  const end = '2026-01-31T00:00:00.000Z'; // 30 days
  const at = (days: number) => Date.parse(start) + days * 86_400_000;

  it('keeps a certificate until two thirds of its life have passed', () => {
    expect(needsRenewal(start, end, at(0))).toBe(false);
    expect(needsRenewal(start, end, at(19.99))).toBe(false);
    expect(needsRenewal(start, end, at(20))).toBe(true);
    expect(needsRenewal(start, end, at(40))).toBe(true);
  });
});
