import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson, sha256Hex } from './canonical-json.js';

describe('canonicalJson', () => {
  it('sorts object keys', () => {
    expect(canonicalJson({ b: 1, a: 2, c: 3 })).toBe('{"a":2,"b":1,"c":3}');
  });

  it('does not depend on key insertion order, at any depth', () => {
    const one = { z: { y: 1, x: [{ q: 1, p: 2 }] }, a: 'v' };
    const two = { a: 'v', z: { x: [{ p: 2, q: 1 }], y: 1 } };
    expect(canonicalJson(one)).toBe(canonicalJson(two));
    expect(canonicalJson(one)).toBe('{"a":"v","z":{"x":[{"p":2,"q":1}],"y":1}}');
  });

  it('keeps array order', () => {
    expect(canonicalJson([3, 1, 2])).toBe('[3,1,2]');
    expect(canonicalJson({ list: ['b', 'a'] })).not.toBe(canonicalJson({ list: ['a', 'b'] }));
  });

  it('drops undefined object members, at any depth', () => {
    expect(canonicalJson({ a: 1, b: undefined })).toBe('{"a":1}');
    expect(canonicalJson({ a: 1, b: undefined })).toBe(canonicalJson({ a: 1 }));
    expect(canonicalJson({ n: { x: undefined, y: 2 } })).toBe('{"n":{"y":2}}');
  });

  it('keeps null members and serializes primitives like JSON.stringify', () => {
    expect(canonicalJson({ a: null })).toBe('{"a":null}');
    expect(canonicalJson('x')).toBe('"x"');
    expect(canonicalJson(42)).toBe('42');
    expect(canonicalJson(true)).toBe('true');
    expect(canonicalJson(null)).toBe('null');
  });

  it('distinguishes different values', () => {
    expect(canonicalJson({ a: 1 })).not.toBe(canonicalJson({ a: '1' }));
    expect(canonicalJson({ a: { b: 1 } })).not.toBe(canonicalJson({ a: { b: 2 } }));
  });
});

describe('sha256Hex', () => {
  it('is the lowercase hex SHA-256 of the text', () => {
    expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(sha256Hex('abc')).toBe(createHash('sha256').update('abc').digest('hex'));
  });
});
