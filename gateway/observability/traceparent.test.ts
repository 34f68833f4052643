import { describe, expect, it } from 'vitest';
import { childTraceparent, isSampled, parseTraceparent, type RandomBytes } from './traceparent.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';
const VALID = `00-${TRACE}-${PARENT}-01`;

/** Returns 0x11 0x11 … for the first call, 0x22 … for the second, and so on. */
function countingBytes(): RandomBytes {
  let call = 0;
  return (size) => new Uint8Array(size).fill(++call * 0x11);
}

describe('parseTraceparent', () => {
  it('parses a version 00 header into its four fields', () => {
    expect(parseTraceparent(VALID)).toEqual({ version: '00', traceId: TRACE, parentId: PARENT, flags: '01' });
    expect(parseTraceparent(`00-${TRACE}-${PARENT}-00`)?.flags).toBe('00');
  });

  it('tolerates optional whitespace around the value', () => {
    expect(parseTraceparent(` \t${VALID}\t `)?.traceId).toBe(TRACE);
  });

  it.each([
    ['absent', undefined],
    ['empty', ''],
    ['uppercase hex', `00-${TRACE.toUpperCase()}-${PARENT}-01`],
    ['uppercase flags', `00-${TRACE}-${PARENT}-0A`],
    ['version ff', `ff-${TRACE}-${PARENT}-01`],
    ['non-hex version', `0x-${TRACE}-${PARENT}-01`],
    ['all-zero trace id', `00-${'0'.repeat(32)}-${PARENT}-01`],
    ['all-zero parent id', `00-${TRACE}-${'0'.repeat(16)}-01`],
    ['short trace id', `00-${TRACE.slice(1)}-${PARENT}-01`],
    ['long trace id', `00-${TRACE}0-${PARENT}-01`],
    ['short parent id', `00-${TRACE}-${PARENT.slice(1)}-01`],
    ['long parent id', `00-${TRACE}-${PARENT}0-01`],
    ['short flags', `00-${TRACE}-${PARENT}-1`],
    ['non-hex flags', `00-${TRACE}-${PARENT}-xy`],
    ['non-hex trace id', `00-${TRACE.slice(0, -1)}g-${PARENT}-01`],
    ['wrong separator', `00_${TRACE}_${PARENT}_01`],
    ['version 00 with more fields', `${VALID}-extra`],
    ['version 00 with trailing characters', `${VALID}x`],
    ['two headers joined', `${VALID}, ${VALID}`],
    ['whitespace inside', `00- ${TRACE}-${PARENT}-01`],
    ['future version too short', `cc-${TRACE}-${PARENT}-1`],
    ['future version without dash after flags', `cc-${TRACE}-${PARENT}-01.what-the-future-will-be-like`],
    ['future version with invalid fields', `cc-${TRACE.toUpperCase()}-${PARENT}-01-future`],
  ])('rejects %s', (_case, value) => {
    expect(parseTraceparent(value)).toBeUndefined();
  });

  it('accepts a future version whose first four fields parse, ending there or continuing with "-"', () => {
    expect(parseTraceparent(`cc-${TRACE}-${PARENT}-01`)).toEqual({ version: 'cc', traceId: TRACE, parentId: PARENT, flags: '01' });
    expect(parseTraceparent(`cc-${TRACE}-${PARENT}-01-what-the-future-will-be-like`)).toEqual({ version: 'cc', traceId: TRACE, parentId: PARENT, flags: '01' });
  });

  it('reads the sampled flag', () => {
    expect(isSampled(parseTraceparent(VALID)!)).toBe(true);
    expect(isSampled(parseTraceparent(`00-${TRACE}-${PARENT}-02`)!)).toBe(false);
  });
});

describe('childTraceparent', () => {
  it('keeps the trace id and flags and puts a new span id in parent-id', () => {
    for (const flags of ['00', '01']) {
      const child = childTraceparent(`00-${TRACE}-${PARENT}-${flags}`, countingBytes());
      expect(child).toEqual({ traceparent: `00-${TRACE}-${'11'.repeat(8)}-${flags}`, traceId: TRACE, spanId: '11'.repeat(8), parentSpanId: PARENT });
    }
  });

  it('makes a different span id each time, from real randomness by default', () => {
    const a = childTraceparent(VALID);
    const b = childTraceparent(VALID);
    expect(a.spanId).not.toBe(b.spanId);
    expect(a.spanId).not.toBe(PARENT);
    expect(parseTraceparent(a.traceparent)).toEqual({ version: '00', traceId: TRACE, parentId: a.spanId, flags: '01' });
  });

  it('sends version 00 for a future version and clears reserved flag bits', () => {
    const child = childTraceparent(`cc-${TRACE}-${PARENT}-ff-future`, countingBytes());
    expect(child.traceparent).toBe(`00-${TRACE}-${'11'.repeat(8)}-03`);
    expect(childTraceparent(`00-${TRACE}-${PARENT}-09`, countingBytes()).traceparent.endsWith('-01')).toBe(true);
  });

  it.each([undefined, '', 'garbage', `00-${'0'.repeat(32)}-${PARENT}-01`, `ff-${TRACE}-${PARENT}-01`])('starts a fresh sampled trace for %j', (incoming) => {
    const child = childTraceparent(incoming, countingBytes());
    expect(child).toEqual({ traceparent: `00-${'22'.repeat(16)}-${'11'.repeat(8)}-01`, traceId: '22'.repeat(16), spanId: '11'.repeat(8) });
    expect(child).not.toHaveProperty('parentSpanId');
  });

  it('never emits an all-zero id', () => {
    const child = childTraceparent(undefined, (size) => new Uint8Array(size));
    expect(parseTraceparent(child.traceparent)).toBeDefined();
    expect(child.traceId).toBe(`${'0'.repeat(31)}1`);
    expect(child.spanId).toBe(`${'0'.repeat(15)}1`);
  });
});
