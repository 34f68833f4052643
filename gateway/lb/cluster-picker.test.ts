import { describe, expect, it } from 'vitest';
import type { LoadAssignment, LocalityEndpoints } from './assignment.js';
import { ClusterPicker } from './cluster-picker.js';
import { OutlierDetector, outlierConfig } from './outlier.js';

/** A locality of `total` endpoints 10.<n>.0.<i>, the first `healthy` of them healthy. */
function locality(n: number, total: number, healthy = total, weight = 1): LocalityEndpoints {
  return {
    key: `region/zone-${n}/`,
    weight,
    endpoints: Array.from({ length: total }, (_, i) => ({ address: `10.${n}.0.${i}`, port: 8080, healthy: i < healthy })),
  };
}

const assignment = (...levels: LocalityEndpoints[][]): LoadAssignment => ({
  overprovisioningFactor: 140,
  levels: levels.map((localities, priority) => ({ priority, localities })),
});

/** Random numbers 0, 0.01, …, 0.99, 0, …: 100 picks give each level exactly its load. */
function tickets() {
  let i = 0;
  return () => (i++ % 100) / 100;
}

function tally(picker: ClusterPicker, n: number, by: 'priority' | 'locality' | 'key', excluded?: ReadonlySet<string>) {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const host = picker.pick(excluded);
    const key = host ? String(host[by]) : 'none';
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

describe('ClusterPicker: priorities', () => {
  it('sends everything to P0 while it is healthy', () => {
    const picker = new ClusterPicker(assignment([locality(0, 10)], [locality(1, 10)]), { random: tickets() });
    expect(tally(picker, 100, 'priority')).toEqual({ 0: 100 });
  });

  it('spills to P1 in proportion as P0 loses endpoints (70 % → 98/2, 50 % → 70/30)', () => {
    const picker = new ClusterPicker(assignment([locality(0, 10, 7)], [locality(1, 10)]), { random: tickets() });
    expect(tally(picker, 100, 'priority')).toEqual({ 0: 98, 1: 2 });
    picker.update(assignment([locality(0, 10, 5)], [locality(1, 10)]));
    expect(tally(picker, 100, 'priority')).toEqual({ 0: 70, 1: 30 });
    expect(picker.state()).toMatchObject({ priorities: [0, 1], load: [70, 30], panic: [false, false], available: [5, 10], total: [10, 10] });
  });

  it('fails back on its own when P0 recovers', () => {
    const picker = new ClusterPicker(assignment([locality(0, 10, 0)], [locality(1, 10)]), { random: tickets() });
    expect(tally(picker, 100, 'priority')).toEqual({ 1: 100 });
    picker.update(assignment([locality(0, 10, 8)], [locality(1, 10)]));
    expect(tally(picker, 100, 'priority')).toEqual({ 0: 100 });
  });

  it('fails over on outlier ejections and back when the ejection ends', () => {
    const clock = { now: 0 };
    const outlier = new OutlierDetector(outlierConfig({ maxEjectionPercent: 100, baseEjectionTimeMs: 30_000 }), { now: () => clock.now });
    const picker = new ClusterPicker(assignment([locality(0, 1)], [locality(1, 1)]), { random: tickets(), outlier });
    const local = picker.pick()!;
    expect(local.priority).toBe(0);
    for (let i = 0; i < 5; i++) outlier.record(local.key, { kind: 'connect-failure' });
    expect(tally(picker, 100, 'priority')).toEqual({ 1: 100 });
    clock.now = 30_000;
    expect(tally(picker, 100, 'priority')).toEqual({ 0: 100 });
  });

  it('panics when no level has enough: balances over all endpoints, healthy or not', () => {
    const picker = new ClusterPicker(assignment([locality(0, 2, 0)], [locality(1, 2, 0)]), { random: tickets() });
    expect(picker.state().panic).toEqual([true, true]);
    expect(tally(picker, 100, 'key')).toEqual({ '10.0.0.0:8080': 25, '10.0.0.1:8080': 25, '10.1.0.0:8080': 25, '10.1.0.1:8080': 25 });
  });

  it('finds nothing when panic is disabled and nothing is healthy, or when the cluster is empty', () => {
    const picker = new ClusterPicker(assignment([locality(0, 2, 0)]), { panicThreshold: 0 });
    expect(picker.pick()).toBeUndefined();
    expect(new ClusterPicker({ levels: [] }).pick()).toBeUndefined();
    expect(new ClusterPicker(assignment([])).pick()).toBeUndefined();
  });
});

describe('ClusterPicker: localities and endpoints', () => {
  it('splits a priority between localities by weight, and round-robins inside each over healthy endpoints only', () => {
    const picker = new ClusterPicker(assignment([locality(0, 4, 2, 1), locality(1, 4, 4, 3)]));
    // zone-0 is at 50 % → effective weight 0.7 against 3.
    const byLocality = tally(picker, 370, 'locality');
    expect(byLocality['region/zone-0/']).toBeGreaterThanOrEqual(69);
    expect(byLocality['region/zone-0/']).toBeLessThanOrEqual(71);
    const byKey = tally(new ClusterPicker(assignment([locality(0, 4, 2)])), 10, 'key');
    expect(byKey).toEqual({ '10.0.0.0:8080': 5, '10.0.0.1:8080': 5 });
  });

  it('honours endpoint weights', () => {
    const weighted: LocalityEndpoints = { key: 'r/z/', weight: 1, endpoints: [{ address: '10.0.0.1', port: 80, healthy: true, weight: 3 }, { address: '10.0.0.2', port: 80, healthy: true }] };
    expect(tally(new ClusterPicker(assignment([weighted])), 8, 'key')).toEqual({ '10.0.0.1:80': 6, '10.0.0.2:80': 2 });
  });

  it('skips ejected endpoints', () => {
    const outlier = new OutlierDetector(outlierConfig({ maxEjectionPercent: 100 }), { now: () => 0 });
    const picker = new ClusterPicker(assignment([locality(0, 3)]), { outlier });
    for (let i = 0; i < 5; i++) outlier.record('10.0.0.1:8080', { kind: 'response', status: 500 });
    expect(tally(picker, 4, 'key')).toEqual({ '10.0.0.0:8080': 2, '10.0.0.2:8080': 2 });
  });

  it('keeps the outlier detector\'s endpoint list in step with the assignment', () => {
    const outlier = new OutlierDetector(outlierConfig({ maxEjectionPercent: 100 }), { now: () => 0 });
    const picker = new ClusterPicker(assignment([locality(0, 2)]), { outlier });
    for (let i = 0; i < 5; i++) outlier.record('10.0.0.1:8080', { kind: 'response', status: 500 });
    expect(outlier.ejectedCount()).toBe(1);
    picker.update(assignment([locality(0, 1)]));
    expect(outlier.ejectedCount()).toBe(0);
  });
});

describe('ClusterPicker: retries avoid endpoints already tried', () => {
  it('takes another endpoint of the chosen priority', () => {
    const picker = new ClusterPicker(assignment([locality(0, 2), locality(1, 2)], [locality(2, 2)]), { random: tickets() });
    const tried = new Set(['10.0.0.0:8080']);
    for (let i = 0; i < 10; i++) expect(picker.pick(tried)?.key).not.toBe('10.0.0.0:8080');
  });

  it('leaves a locality whose endpoints were all tried, then the priority', () => {
    const picker = new ClusterPicker(assignment([locality(0, 1), locality(1, 1)], [locality(2, 1)]), { random: tickets() });
    expect(tally(picker, 10, 'key', new Set(['10.0.0.0:8080']))).toEqual({ '10.1.0.0:8080': 10 });
    expect(tally(picker, 10, 'key', new Set(['10.0.0.0:8080', '10.1.0.0:8080']))).toEqual({ '10.2.0.0:8080': 10 });
  });

  it('tries an endpoint again only when every usable one has been tried', () => {
    const picker = new ClusterPicker(assignment([locality(0, 1)], [locality(1, 1, 0)]), { random: tickets() });
    expect(picker.pick(new Set(['10.0.0.0:8080']))?.key).toBe('10.0.0.0:8080');
  });
});
