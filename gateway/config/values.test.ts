import { describe, expect, it } from 'vitest';
import { ConfigProblem } from './problems.js';
import { durationMs, numberOf, structToJson, wrappedBool, wrappedNumber } from './values.js';

describe('durationMs', () => {
  it('reads { seconds, nanos } with seconds as a string (decoded int64) or a number', () => {
    expect(durationMs({ seconds: '2', nanos: 500_000_000 }, 't')).toBe(2500);
    expect(durationMs({ seconds: 0, nanos: 25_000_000 }, 't')).toBe(25);
    expect(durationMs({ seconds: 300 }, 't')).toBe(300_000);
  });

  it('reads an empty Duration (zero dropped by the decoder) as 0 and an absent one as undefined', () => {
    expect(durationMs({}, 't')).toBe(0);
    expect(durationMs(undefined, 't')).toBeUndefined();
  });

  it('truncates to whole milliseconds, as Envoy does', () => {
    expect(durationMs({ seconds: '0', nanos: 1_999_999 }, 't')).toBe(1);
  });

  it('reads the JSON form', () => {
    expect(durationMs('1.5s', 't')).toBe(1500);
  });

  it('refuses negative and malformed durations, naming the field', () => {
    expect(() => durationMs({ seconds: '-1' }, 'timeout')).toThrow(ConfigProblem);
    expect(() => durationMs({ seconds: 'x' }, 'timeout')).toThrow('timeout: not a duration');
  });
});

describe('wrappers', () => {
  it('unwraps { value }, and reads a present but empty wrapper as the zero value', () => {
    expect(wrappedNumber({ value: 5 })).toBe(5);
    expect(wrappedNumber({ value: '4294967296000' })).toBe(4_294_967_296_000);
    expect(wrappedNumber({})).toBe(0);
    expect(wrappedNumber(undefined)).toBeUndefined();
    expect(wrappedBool({ value: true })).toBe(true);
    expect(wrappedBool({})).toBe(false);
    expect(wrappedBool(undefined)).toBeUndefined();
  });

  it('accepts bare values', () => {
    expect(wrappedNumber(7)).toBe(7);
    expect(wrappedBool(true)).toBe(true);
    expect(numberOf('12')).toBe(12);
    expect(numberOf('')).toBeUndefined();
  });
});

describe('structToJson', () => {
  it('unwraps the protobuf Struct form, the decoder\'s `kind` markers included', () => {
    const struct = {
      fields: {
        remote: { boolValue: true, kind: 'boolValue' },
        zone: { stringValue: 'zone-c', kind: 'stringValue' },
        n: { numberValue: 3 },
        nested: { structValue: { fields: { a: { nullValue: 'NULL_VALUE' } } } },
        list: { listValue: { values: [{ stringValue: 'x' }, { boolValue: false }] } },
        zero: { kind: 'numberValue' },
      },
    };
    expect(structToJson(struct)).toEqual({ remote: true, zone: 'zone-c', n: 3, nested: { a: null }, list: ['x', false], zero: 0 });
  });

  it('keeps plain JSON as it is, and reads an empty Struct as {}', () => {
    expect(structToJson({ remote: true })).toEqual({ remote: true });
    expect(structToJson({})).toEqual({});
  });
});
