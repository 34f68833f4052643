import { describe, expect, it } from 'vitest';
import { SmoothWeightedRoundRobin } from './round-robin.js';

const c = (key: string, weight = 1) => ({ key, weight });
const sequence = (rr: SmoothWeightedRoundRobin, candidates: ReturnType<typeof c>[], n: number) =>
  Array.from({ length: n }, () => rr.pick(candidates)?.key).join(' ');

describe('SmoothWeightedRoundRobin', () => {
  it('is plain round robin in list order with equal weights', () => {
    expect(sequence(new SmoothWeightedRoundRobin(), [c('a'), c('b'), c('c')], 7)).toBe('a b c a b c a');
  });

  it('interleaves by weight instead of bursting (nginx: 5,1,1 → a a b a c a a)', () => {
    expect(sequence(new SmoothWeightedRoundRobin(), [c('a', 5), c('b'), c('c')], 7)).toBe('a a b a c a a');
    expect(sequence(new SmoothWeightedRoundRobin(), [c('a', 3), c('b')], 8)).toBe('a a b a a a b a');
  });

  it('gives each candidate exactly its weight share over a full cycle', () => {
    const rr = new SmoothWeightedRoundRobin();
    const counts: Record<string, number> = {};
    for (let i = 0; i < 60; i++) {
      const key = rr.pick([c('a', 1), c('b', 2), c('c', 3)])!.key;
      counts[key] = (counts[key] ?? 0) + 1;
    }
    expect(counts).toEqual({ a: 10, b: 20, c: 30 });
  });

  it('skips candidates left out of a pick and resumes them when they return', () => {
    const rr = new SmoothWeightedRoundRobin();
    expect(rr.pick([c('a'), c('b'), c('c')])?.key).toBe('a');
    // a has had its turn, so c catches up first; b's place is kept while it is away.
    expect(sequence(rr, [c('a'), c('c')], 3)).toBe('c c a');
    expect(sequence(rr, [c('a'), c('b'), c('c')], 3)).toBe('b c a');
  });

  it('never picks a candidate with weight ≤ 0; undefined when none is left', () => {
    const rr = new SmoothWeightedRoundRobin();
    expect(sequence(rr, [c('a', 0), c('b'), c('x', -1)], 3)).toBe('b b b');
    expect(rr.pick([c('a', 0)])).toBeUndefined();
    expect(rr.pick([])).toBeUndefined();
  });

  it('forgets keys that are not retained', () => {
    const rr = new SmoothWeightedRoundRobin();
    sequence(rr, [c('a'), c('b'), c('c')], 2);
    expect(rr.size).toBe(3);
    rr.retain(new Set(['a']));
    expect(rr.size).toBe(1);
  });
});
