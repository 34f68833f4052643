import { describe, expect, it } from 'vitest';
import { effectiveLocalityWeight, LocalityPicker, localityShares } from './locality.js';

const loc = (key: string, weight: number, available: number, total: number) => ({ key, weight, available, total });

describe('effectiveLocalityWeight', () => {
  it('is weight × min(1, factor × available/total)', () => {
    expect(effectiveLocalityWeight(loc('x', 10, 10, 10), 140)).toBe(10);
    expect(effectiveLocalityWeight(loc('x', 10, 8, 10), 140)).toBe(10); // 1.12 capped
    expect(effectiveLocalityWeight(loc('x', 10, 5, 10), 140)).toBeCloseTo(7);
    expect(effectiveLocalityWeight(loc('x', 10, 5, 10), 100)).toBeCloseTo(5);
    expect(effectiveLocalityWeight(loc('x', 10, 0, 10), 140)).toBe(0);
    expect(effectiveLocalityWeight(loc('x', 10, 0, 0), 140)).toBe(0);
    expect(effectiveLocalityWeight(loc('x', 0, 5, 5), 140)).toBe(0);
  });
});

describe('localityShares (Envoy\'s table: X weight 1, Y weight 2 fully available, factor 1.4)', () => {
  const shareOfX = (available: number, total: number) => localityShares([loc('X', 1, available, total), loc('Y', 2, 10, 10)], 140)[0]!;

  it('X keeps its third while ≥ 1/1.4 of it is available', () => {
    expect(shareOfX(10, 10)).toBeCloseTo(1 / 3);
    expect(shareOfX(72, 100)).toBeCloseTo(1 / 3);
  });

  it('then loses traffic in proportion: 70 % → 0.98/2.98, 50 % → 0.7/2.7 (26 %), 25 % → 0.35/2.35 (15 %), 0 % → 0', () => {
    expect(shareOfX(7, 10)).toBeCloseTo(0.98 / 2.98, 10);
    expect(shareOfX(5, 10)).toBeCloseTo(0.7 / 2.7, 10);
    expect(Math.round(100 * shareOfX(5, 10))).toBe(26);
    expect(Math.round(100 * shareOfX(1, 4))).toBe(15);
    expect(shareOfX(0, 10)).toBe(0);
  });

  it('is all 0 when no locality can take traffic', () => {
    expect(localityShares([loc('X', 1, 0, 3)], 140)).toEqual([0]);
  });
});

describe('LocalityPicker', () => {
  const count = (picker: LocalityPicker, localities: ReturnType<typeof loc>[], n: number) => {
    const counts: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const key = picker.pick(localities, 140)!.key;
      counts[key] = (counts[key] ?? 0) + 1;
    }
    return counts;
  };

  it('picks by configured weight when fully available', () => {
    expect(count(new LocalityPicker(), [loc('X', 1, 4, 4), loc('Y', 2, 4, 4)], 300)).toEqual({ X: 100, Y: 200 });
  });

  it('picks by effective weight when a locality is short: X 50 % available → 7 of every 27', () => {
    const counts = count(new LocalityPicker(), [loc('X', 1, 5, 10), loc('Y', 2, 10, 10)], 270);
    expect(counts.X).toBeGreaterThanOrEqual(69);
    expect(counts.X).toBeLessThanOrEqual(71);
    expect(counts.X! + counts.Y!).toBe(270);
  });

  it('never picks a locality without available endpoints', () => {
    expect(count(new LocalityPicker(), [loc('X', 5, 0, 3), loc('Y', 1, 1, 1)], 5)).toEqual({ Y: 5 });
    expect(new LocalityPicker().pick([loc('X', 5, 0, 3)], 140)).toBeUndefined();
  });
});
