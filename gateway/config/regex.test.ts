import { describe, expect, it } from 'vitest';
import { ConfigProblem } from './problems.js';
import { RegexCache, translateRe2 } from './regex.js';

const full = (pattern: string) => {
  const { source, flags } = translateRe2(pattern);
  return new RegExp(source, flags);
};

describe('translateRe2', () => {
  it('matches whole strings only, as Envoy\'s RE2 FullMatch', () => {
    expect(full('abc').test('abc')).toBe(true);
    expect(full('abc').test('xabcx')).toBe(false);
    // A leading ^ does not make it a prefix match.
    expect(full('^beta-').test('beta-1')).toBe(false);
    expect(full('^beta-').test('beta-')).toBe(true);
    expect(full('^/payments\\.v1\\.Payments/(Get|List).*').test('/payments.v1.Payments/GetX')).toBe(true);
  });

  it('keeps alternation inside the anchors', () => {
    expect(full('a|b').test('a')).toBe(true);
    expect(full('a|b').test('ab')).toBe(false);
    expect(full('a|b').test('xb')).toBe(false);
  });

  it('rewrites RE2-only syntax', () => {
    expect(full('(?P<v>v\\d+)').test('v12')).toBe(true);
    expect(full('\\Aabc\\z').test('abc')).toBe(true);
    expect(full('[[:digit:]]+-[[:alpha:]]').test('123-x')).toBe(true);
    expect(full('[[:digit:]]+').test('12a')).toBe(false);
    expect(full('[]a]+').test(']a]')).toBe(true);
    expect(full('\\Qa.b*\\E').test('a.b*')).toBe(true);
    expect(full('\\Qa.b*\\E').test('axbb')).toBe(false);
    expect(full('\\101\\x42\\x{43}').test('ABC')).toBe(true);
  });

  it('takes leading flags as JavaScript flags', () => {
    expect(full('(?i)abc').test('ABC')).toBe(true);
    expect(full('a.c').test('a\nc')).toBe(false);
    expect(full('(?s)a.c').test('a\nc')).toBe(true);
    // With (?m), a full match is still the whole text.
    expect(full('(?m)^a$').test('a\nb')).toBe(false);
  });

  it('gives . and \\s RE2\'s meaning, not JavaScript\'s', () => {
    expect(full('a.c').test('a\rc')).toBe(true);
    expect(full('\\s').test('\v')).toBe(false);
    expect(full('[\\s]').test('\t')).toBe(true);
  });

  it('refuses what RE2 refuses, and what JavaScript cannot express', () => {
    for (const pattern of ['(?=a)a', 'a(?<!b)', '(a)\\1', 'a++', 'a)|(b', '(a', '', 'a{1001}', '\\pL', '(?U)a', 'a(?i)b', '(?i:a)', '\\C', '[a', '\\e']) {
      expect(() => translateRe2(pattern), pattern).toThrow(ConfigProblem);
    }
  });
});

describe('RegexCache', () => {
  it('compiles a pattern once', () => {
    const cache = new RegexCache();
    expect(cache.fullMatch('a+')).toBe(cache.fullMatch('a+'));
  });

  it('reports an invalid pattern as a problem naming it, every time it is asked', () => {
    const cache = new RegexCache();
    expect(() => cache.fullMatch('a(')).toThrow(/invalid regex "a\(": missing \)/);
    expect(() => cache.fullMatch('a(')).toThrow(ConfigProblem);
    expect(() => cache.fullMatch('[z-a]')).toThrow(/invalid regex "\[z-a\]"/);
  });
});
