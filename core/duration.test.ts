import { describe, expect, it } from 'vitest';
import { parseDurationMs } from './duration.js';

describe('parseDurationMs', () => {
  it.each([
    ['250ms', 250],
    ['0ms', 0],
    ['1s', 1000],
    ['5s', 5000],
    ['2m', 120_000],
    ['3h', 10_800_000],
    ['0s', 0],
  ])('parses the single unit %s as %d ms', (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });

  it('reads "m" as minutes and "ms" as milliseconds', () => {
    expect(parseDurationMs('1m')).toBe(60_000);
    expect(parseDurationMs('1ms')).toBe(1);
  });

  it.each([
    ['1m30s', 90_000],
    ['1h30m', 5_400_000],
    ['1h1m1s1ms', 3_661_001],
    ['2s500ms', 2500],
    ['1m1ms', 60_001],
    ['1s1s', 2000],
  ])('adds up the parts of the compound %s', (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });

  it.each([
    ['1.5s', 1500],
    ['0.5s', 500],
    ['1.5h', 5_400_000],
    ['0.25m', 15_000],
    ['2.5ms', 2.5],
    ['1.5m30s', 120_000],
  ])('accepts the decimal %s', (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });

  it.each([
    '',
    '5',
    '5x',
    '-1s',
    '+1s',
    '1s ',
    ' 1s',
    '1 s',
    '1s\n',
    '1S',
    '1d',
    '1us',
    '.5s',
    '1.s',
    '1e3s',
    's',
    'ms',
    '1s-',
    '1m30',
    'one second',
  ])('returns undefined for the malformed %j', (text) => {
    expect(parseDurationMs(text)).toBeUndefined();
  });
});
