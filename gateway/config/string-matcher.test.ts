import { describe, expect, it } from 'vitest';
import { ConfigProblem } from './problems.js';
import { RegexCache } from './regex.js';
import { compileStringMatcher } from './string-matcher.js';

const compile = (matcher: unknown) => compileStringMatcher(matcher, new RegexCache());

describe('compileStringMatcher', () => {
  it('compares exact, prefix, suffix and contains', () => {
    expect(compile({ exact: 'spiffe://a/ns/x' }).matches('spiffe://a/ns/x')).toBe(true);
    expect(compile({ exact: 'spiffe://a/ns/x' }).matches('spiffe://a/ns/xy')).toBe(false);
    expect(compile({ prefix: 'spiffe://a/ns/' }).matches('spiffe://a/ns/x')).toBe(true);
    expect(compile({ prefix: 'spiffe://a/ns/' }).matches('spiffe://b/ns/x')).toBe(false);
    expect(compile({ suffix: '/sa/web' }).matches('spiffe://a/ns/x/sa/web')).toBe(true);
    expect(compile({ contains: '/ns/x/' }).matches('spiffe://a/ns/x/sa/web')).toBe(true);
    expect(compile({ contains: '/ns/x/' }).matches('spiffe://a/ns/y/sa/web')).toBe(false);
  });

  it('matches an empty exact string only when the value is empty', () => {
    expect(compile({ exact: '' }).matches('')).toBe(true);
    expect(compile({ exact: '' }).matches('a')).toBe(false);
  });

  it('ignores ASCII case when asked', () => {
    expect(compile({ prefix: 'Bearer ', ignore_case: true }).matches('bearer x')).toBe(true);
    expect(compile({ prefix: 'Bearer ' }).matches('bearer x')).toBe(false);
  });

  it('matches safe_regex in full', () => {
    const m = compile({ safe_regex: { regex: 'v[0-9]+' }, match_pattern: 'safe_regex' });
    expect(m.matches('v12')).toBe(true);
    expect(m.matches('v12-beta')).toBe(false);
    expect(m.description).toBe('regex v[0-9]+');
  });

  it('refuses what Envoy refuses or meshfed cannot evaluate', () => {
    expect(() => compile({ safe_regex: { regex: 'a' }, ignore_case: true })).toThrow('ignore_case has no effect for safe_regex');
    expect(() => compile({ prefix: '' })).toThrow(ConfigProblem);
    expect(() => compile({ custom: { name: 'x' } })).toThrow(ConfigProblem);
    expect(() => compile({})).toThrow('string matcher has no pattern');
    expect(() => compile({ safe_regex: { regex: '(?=x)' } })).toThrow(ConfigProblem);
  });

  it('describes itself for logs', () => {
    expect(compile({ exact: 'spiffe://a' }).description).toBe('exact spiffe://a');
    expect(compile({ suffix: 'X', ignore_case: true }).description).toBe('suffix X (ignoring case)');
  });
});
