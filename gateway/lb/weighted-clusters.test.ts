import { describe, expect, it } from 'vitest';
import { pickWeightedCluster } from './weighted-clusters.js';

describe('pickWeightedCluster', () => {
  const split = [{ name: 'v1', weight: 90 }, { name: 'v2', weight: 10 }];

  it('walks the clusters in order over random × total weight', () => {
    expect(pickWeightedCluster(split, 0)).toBe('v1');
    expect(pickWeightedCluster(split, 0.899)).toBe('v1');
    expect(pickWeightedCluster(split, 0.9)).toBe('v2');
    expect(pickWeightedCluster(split, 0.9999)).toBe('v2');
  });

  it('gives each cluster exactly its weight over evenly spread tickets', () => {
    const counts: Record<string, number> = {};
    for (let i = 0; i < 100; i++) {
      const name = pickWeightedCluster([{ name: 'a', weight: 1 }, { name: 'b', weight: 3 }], i / 100)!;
      counts[name] = (counts[name] ?? 0) + 1;
    }
    expect(counts).toEqual({ a: 25, b: 75 });
  });

  it('skips zero weights; undefined when nothing has weight', () => {
    expect(pickWeightedCluster([{ name: 'off', weight: 0 }, { name: 'on', weight: 1 }], 0)).toBe('on');
    expect(pickWeightedCluster([{ name: 'off', weight: 0 }], 0.5)).toBeUndefined();
    expect(pickWeightedCluster([], 0.5)).toBeUndefined();
  });
});
