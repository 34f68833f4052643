import { describe, expect, it } from 'vitest';
import { levelHealth, normalizedTotalHealth, pickPriority, priorityLoad, priorityPanic } from './priority.js';

const level = (available: number, total: number) => ({ available, total });
const F = 140;

describe('levelHealth', () => {
  it('is ⌊factor × available/total⌋ capped at 100', () => {
    expect(levelHealth(level(7, 10), F)).toBe(98);
    expect(levelHealth(level(5, 10), F)).toBe(70);
    expect(levelHealth(level(8, 10), F)).toBe(100); // 112 capped
    expect(levelHealth(level(1, 3), F)).toBe(46); // 46.67 rounded down
    expect(levelHealth(level(5, 10), 100)).toBe(50);
    expect(levelHealth(level(0, 0), F)).toBe(0);
  });

  it('sums to at most 100 across levels', () => {
    expect(normalizedTotalHealth([level(7, 10), level(10, 10)], F)).toBe(100);
    expect(normalizedTotalHealth([level(3, 10), level(4, 10)], F)).toBe(98);
  });
});

describe('priorityLoad', () => {
  it('keeps everything on P0 while it is healthy, overprovisioning included', () => {
    expect(priorityLoad([level(10, 10), level(10, 10)], F)).toEqual([100, 0]);
    expect(priorityLoad([level(8, 10), level(10, 10)], F)).toEqual([100, 0]);
  });

  it('spills what P0 lacks to P1: 70 % healthy → 98/2, 50 % → 70/30, 0 % → 0/100', () => {
    expect(priorityLoad([level(7, 10), level(10, 10)], F)).toEqual([98, 2]);
    expect(priorityLoad([level(5, 10), level(10, 10)], F)).toEqual([70, 30]);
    expect(priorityLoad([level(0, 10), level(10, 10)], F)).toEqual([0, 100]);
  });

  it('fails over gradually and back automatically as P0 recovers', () => {
    const steps = [0, 3, 5, 7, 8, 10].map((healthy) => priorityLoad([level(healthy, 10), level(10, 10)], F));
    expect(steps).toEqual([[0, 100], [42, 58], [70, 30], [98, 2], [100, 0], [100, 0]]);
  });

  it('spills through several levels, each taking up to its own health', () => {
    expect(priorityLoad([level(2, 10), level(5, 10), level(10, 10)], F)).toEqual([28, 70, 2]);
  });

  it('scales the healths up to 100 when together they fall short (normalised), rounding leftovers to the first healthy level', () => {
    // 42 + 56 = 98: 42·100/98 = 42, 56·100/98 = 57, 1 left over → P0.
    expect(priorityLoad([level(3, 10), level(4, 10)], F, 0)).toEqual([43, 57]);
    // Without overprovisioning: 60 + 30 = 90 → 66 + 33, +1 → 67/33.
    expect(priorityLoad([level(6, 10), level(3, 10)], 100)).toEqual([67, 33]);
  });

  it('in total panic (every level below the panic threshold) splits by endpoint count, health ignored', () => {
    expect(priorityLoad([level(0, 4), level(0, 6)], F)).toEqual([40, 60]);
    expect(priorityLoad([level(3, 10), level(4, 10)], F)).toEqual([50, 50]);
    expect(priorityLoad([level(1, 3), level(0, 3), level(0, 4)], F)).toEqual([30, 30, 40]);
  });

  it('with panic disabled and nothing available, nominally sends all to P0', () => {
    expect(priorityLoad([level(0, 4), level(0, 6)], F, 0)).toEqual([100, 0]);
  });

  it('is all 0 without endpoints', () => {
    expect(priorityLoad([level(0, 0)], F)).toEqual([0]);
    expect(priorityLoad([], F)).toEqual([]);
  });
});

describe('priorityPanic', () => {
  it('never panics while the levels together have capacity, however low one level is', () => {
    expect(priorityPanic([level(1, 10), level(10, 10)], F)).toEqual([false, false]);
    expect(priorityLoad([level(1, 10), level(10, 10)], F)).toEqual([14, 86]);
  });

  it('panics the levels below the threshold once capacity is short', () => {
    expect(priorityPanic([level(6, 10), level(3, 10)], 100)).toEqual([false, true]);
    expect(priorityPanic([level(6, 10), level(3, 10)], 100, 25)).toEqual([false, false]);
    expect(priorityPanic([level(0, 4), level(0, 6)], F)).toEqual([true, true]);
  });

  it('is off with a threshold of 0', () => {
    expect(priorityPanic([level(0, 4), level(0, 6)], F, 0)).toEqual([false, false]);
  });
});

describe('pickPriority', () => {
  it('maps random ∈ [0,1) onto 1–100 over the cumulative load', () => {
    expect(pickPriority([98, 2], 0)).toBe(0);
    expect(pickPriority([98, 2], 0.979)).toBe(0);
    expect(pickPriority([98, 2], 0.98)).toBe(1);
    expect(pickPriority([98, 2], 0.9999)).toBe(1);
    expect(pickPriority([0, 100], 0)).toBe(1);
    expect(pickPriority([50, 0, 50], 0.5)).toBe(2);
  });

  it('sends each level exactly its percent of 100 evenly spread tickets', () => {
    const counts = [0, 0, 0];
    for (let i = 0; i < 100; i++) counts[pickPriority([28, 70, 2], i / 100)!]!++;
    expect(counts).toEqual([28, 70, 2]);
  });

  it('is undefined when no level has load', () => {
    expect(pickPriority([0, 0], 0.5)).toBeUndefined();
    expect(pickPriority([], 0.5)).toBeUndefined();
  });
});
