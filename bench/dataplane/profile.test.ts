import { describe, expect, it } from 'vitest';
import { summarizeProfile, type CpuProfile } from './profile.js';

const frame = (functionName: string, url = '', lineNumber = 0) => ({ functionName, url, lineNumber, columnNumber: 0 });

describe('summarizeProfile', () => {
  // (root) → handle (gateway/x.ts) → write (node:net) ; (root) → (idle) ; (root) → (garbage collector)
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: frame('(root)'), children: [2, 4, 5] },
      { id: 2, callFrame: frame('handle', 'file:///repo/gateway/x.ts', 9), children: [3] },
      { id: 3, callFrame: frame('write', 'node:net', 99) },
      { id: 4, callFrame: frame('(idle)') },
      { id: 5, callFrame: frame('(garbage collector)') },
    ],
    samples: [3, 3, 2, 4, 5, 3],
    timeDeltas: [0, 100, 100, 100, 100, 100, 100],
    startTime: 0,
    endTime: 600,
  };
  const summary = summarizeProfile(profile, {}, '/repo');

  it('leaves idle out and charges each sample the gap to the next', () => {
    expect(summary.busyMicros).toBe(500);
    expect(summary.idleMicros).toBe(100);
  });
  it('gives self, inclusive and meshfed-attributed time with file:line relative to the repo', () => {
    expect(summary.self.map((f) => [f.label, f.micros])).toEqual([
      ['write (node:net:100)', 300],
      ['handle (gateway/x.ts:10)', 100],
      ['(garbage collector)', 100],
    ]);
    expect(summary.inclusive.find((f) => f.label === 'handle (gateway/x.ts:10)')).toEqual({ label: 'handle (gateway/x.ts:10)', own: true, micros: 400 });
    expect(summary.attributed.map((f) => [f.label, f.micros])).toEqual([
      ['handle (gateway/x.ts:10)', 400],
      ['(no meshfed frame on the stack)', 100],
    ]);
  });
});
