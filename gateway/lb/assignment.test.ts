import { describe, expect, it } from 'vitest';
import { endpointKey, normalizeLevels } from './assignment.js';

describe('endpointKey', () => {
  it('is host:port, with IPv6 bracketed', () => {
    expect(endpointKey({ address: '10.0.0.1', port: 8080 })).toBe('10.0.0.1:8080');
    expect(endpointKey({ address: 'fd00::1', port: 8080 })).toBe('[fd00::1]:8080');
  });
});

describe('normalizeLevels', () => {
  const ep = { address: '10.0.0.1', port: 80, healthy: true };
  it('orders by priority, merges entries of one priority and drops 0-weight localities', () => {
    const levels = normalizeLevels([
      { priority: 1, localities: [{ key: 'r/b/', weight: 1, endpoints: [ep] }] },
      { priority: 0, localities: [{ key: 'r/a/', weight: 2, endpoints: [ep] }, { key: 'r/z/', weight: 0, endpoints: [ep] }] },
      { priority: 1, localities: [{ key: 'r/c/', weight: 3, endpoints: [ep] }] },
    ]);
    expect(levels.map((l) => [l.priority, l.localities.map((x) => x.key)])).toEqual([
      [0, ['r/a/']],
      [1, ['r/b/', 'r/c/']],
    ]);
  });
});
