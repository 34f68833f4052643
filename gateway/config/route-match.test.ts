import { describe, expect, it } from 'vitest';
import type { RequestFacts } from './model.js';
import { ConfigProblem } from './problems.js';
import { RegexCache } from './regex.js';
import { compileHeaderMatcher, compileRouteMatch } from './route-match.js';

function facts(path: string, headers: Record<string, string> = {}, method = 'GET'): RequestFacts {
  return { authority: 'svc.mesh', path, method, header: (name) => headers[name] };
}

const match = (m: unknown) => compileRouteMatch(m, new RegexCache());
const header = (h: Record<string, unknown>) => compileHeaderMatcher(h, new RegexCache());

describe('path specifiers', () => {
  it('prefix compares the whole :path, query included', () => {
    const m = match({ prefix: '/api' });
    expect(m(facts('/api/x'))).toBe(true);
    expect(m(facts('/apix?q=1'))).toBe(true);
    expect(m(facts('/ap'))).toBe(false);
    expect(match({ prefix: '/a?x' })(facts('/a?x=1'))).toBe(true);
  });

  it('path compares the path without query string or fragment', () => {
    const m = match({ path: '/health' });
    expect(m(facts('/health'))).toBe(true);
    expect(m(facts('/health?verbose=1'))).toBe(true);
    expect(m(facts('/health/x'))).toBe(false);
  });

  it('case_sensitive: false applies to prefix and path', () => {
    expect(match({ prefix: '/API', case_sensitive: { value: false } })(facts('/api/x'))).toBe(true);
    expect(match({ path: '/API', case_sensitive: {} })(facts('/api'))).toBe(true);
    expect(match({ prefix: '/API', case_sensitive: { value: true } })(facts('/api/x'))).toBe(false);
    expect(match({ prefix: '/API' })(facts('/api/x'))).toBe(false);
  });

  it('safe_regex must match the whole path, query excluded', () => {
    const m = match({ safe_regex: { regex: '/v[0-9]+/items' } });
    expect(m(facts('/v1/items?page=2'))).toBe(true);
    expect(m(facts('/v1/items/3'))).toBe(false);
    expect(m(facts('/x/v1/items'))).toBe(false);
  });

  it('path_separated_prefix matches the prefix alone or followed by /', () => {
    const m = match({ path_separated_prefix: '/api' });
    expect(m(facts('/api'))).toBe(true);
    expect(m(facts('/api/x'))).toBe(true);
    expect(m(facts('/api?x'))).toBe(true);
    expect(m(facts('/apix'))).toBe(false);
  });

  it('grpc matches gRPC content types only', () => {
    const m = match({ prefix: '/', grpc: {} });
    expect(m(facts('/', { 'content-type': 'application/grpc' }))).toBe(true);
    expect(m(facts('/', { 'content-type': 'application/grpc+proto' }))).toBe(true);
    expect(m(facts('/', { 'content-type': 'application/grpcx' }))).toBe(false);
    expect(m(facts('/', { 'content-type': 'application/json' }))).toBe(false);
    expect(m(facts('/'))).toBe(false);
  });

  it('refuses a match without path specifier and criteria it cannot evaluate', () => {
    expect(() => match({ headers: [] })).toThrow('route match has no path specifier');
    expect(() => match({ prefix: '/', query_parameters: [{ name: 'a', present_match: true }] })).toThrow('unsupported match query_parameters');
    expect(() => match({ prefix: '/', runtime_fraction: { default_value: { numerator: 50 } } })).toThrow(ConfigProblem);
    expect(() => match({ safe_regex: { regex: '(' } })).toThrow(/safe_regex: invalid regex/);
  });
});

describe('header matchers (Envoy HeaderUtility::matchHeaders)', () => {
  it('string_match, with the decoder\'s oneof markers present', () => {
    const m = header({ name: 'x-user', string_match: { exact: 'a', match_pattern: 'exact' }, header_match_specifier: 'string_match' });
    expect(m(facts('/', { 'x-user': 'a' }))).toBe(true);
    expect(m(facts('/', { 'x-user': 'b' }))).toBe(false);
    expect(m(facts('/'))).toBe(false);
  });

  it('inverts a present header\'s result, but an absent header fails an inverted value matcher', () => {
    const m = header({ name: 'x-debug', string_match: { exact: '1' }, invert_match: true });
    expect(m(facts('/', { 'x-debug': '0' }))).toBe(true);
    expect(m(facts('/', { 'x-debug': '1' }))).toBe(false);
    expect(m(facts('/'))).toBe(false);
  });

  it('treat_missing_header_as_empty lets an absent header be matched (or inverted) as ""', () => {
    const m = header({ name: 'x-debug', string_match: { exact: '1' }, invert_match: true, treat_missing_header_as_empty: true });
    expect(m(facts('/'))).toBe(true);
    expect(header({ name: 'x', string_match: { exact: '' }, treat_missing_header_as_empty: true })(facts('/'))).toBe(true);
  });

  it('present_match true/false, inverted or not', () => {
    const present = header({ name: 'x-canary', present_match: true });
    const absent = header({ name: 'x-canary', present_match: false });
    const notPresent = header({ name: 'x-canary', present_match: true, invert_match: true });
    expect([present(facts('/', { 'x-canary': '' })), present(facts('/'))]).toEqual([true, false]);
    expect([absent(facts('/', { 'x-canary': '1' })), absent(facts('/'))]).toEqual([false, true]);
    expect([notPresent(facts('/', { 'x-canary': '1' })), notPresent(facts('/'))]).toEqual([false, true]);
  });

  it('no specifier means presence', () => {
    const m = header({ name: 'x-a' });
    expect(m(facts('/', { 'x-a': 'v' }))).toBe(true);
    expect(m(facts('/'))).toBe(false);
  });

  it('reads the legacy fields; an empty exact_match accepts any value', () => {
    expect(header({ name: 'x', exact_match: 'v' })(facts('/', { x: 'v' }))).toBe(true);
    expect(header({ name: 'x', exact_match: '' })(facts('/', { x: 'anything' }))).toBe(true);
    expect(header({ name: 'x', exact_match: '' })(facts('/'))).toBe(false);
    expect(header({ name: 'x', prefix_match: 'ab' })(facts('/', { x: 'abc' }))).toBe(true);
    expect(header({ name: 'x', suffix_match: 'bc' })(facts('/', { x: 'abc' }))).toBe(true);
    expect(header({ name: 'x', contains_match: 'b' })(facts('/', { x: 'abc' }))).toBe(true);
    expect(header({ name: 'x', safe_regex_match: { regex: 'a.c' } })(facts('/', { x: 'abc' }))).toBe(true);
    expect(header({ name: 'x', safe_regex_match: { regex: 'a.c' } })(facts('/', { x: 'abcd' }))).toBe(false);
  });

  it('range_match is [start, end) on whole numbers (int64 bounds as strings)', () => {
    const m = header({ name: 'x-n', range_match: { start: '-10', end: '0' } });
    expect(m(facts('/', { 'x-n': '-1' }))).toBe(true);
    expect(m(facts('/', { 'x-n': '0' }))).toBe(false);
    expect(m(facts('/', { 'x-n': '-1.5' }))).toBe(false);
  });

  it('sees pseudo-headers the runtime may not list, and lowercases the configured name', () => {
    const post = header({ name: ':method', string_match: { exact: 'POST' } });
    expect(post(facts('/', {}, 'POST'))).toBe(true);
    expect(post(facts('/', {}, 'GET'))).toBe(false);
    expect(header({ name: 'X-User', string_match: { exact: 'a' } })(facts('/', { 'x-user': 'a' }))).toBe(true);
  });

  it('refuses a nameless matcher and bad patterns', () => {
    expect(() => header({ string_match: { exact: 'a' } })).toThrow('header matcher has no name');
    expect(() => header({ name: 'x', prefix_match: '' })).toThrow(ConfigProblem);
    expect(() => header({ name: 'x', string_match: { safe_regex: { regex: '\\1' } } })).toThrow(ConfigProblem);
  });
});
