import { describe, expect, it } from 'vitest';
import { ApiError } from '../../core/errors.js';
import type { Expect } from '../store/records.js';
import { etag, preconditionFrom } from './preconditions.js';

type Headers = Record<string, string | string[] | undefined>;
const from = (headers: Headers, body?: string, fallback: Expect = 'any') => preconditionFrom(headers, body, fallback);

/** The ApiError preconditionFrom throws for these inputs. */
function errorFor(headers: Headers, body?: string): ApiError {
  try {
    from(headers, body);
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error(`no error for ${JSON.stringify(headers)}`);
}

describe('preconditionFrom', () => {
  it('returns the fallback when nothing is stated', () => {
    expect(from({})).toBe('any');
    expect(from({}, undefined, 'create')).toBe('create');
    expect(from({}, undefined, 'exists')).toBe('exists');
    expect(from({ 'if-match': undefined, 'if-none-match': undefined }, undefined, 'exists')).toBe('exists');
  });

  it.each([
    ['quoted', '"42"'],
    ['unquoted', '42'],
    ['weak', 'W/"42"'],
    ['weak unquoted', 'W/42'],
    ['padded', '  "42"  '],
  ])('reads a %s If-Match', (_what, value) => {
    expect(from({ 'if-match': value })).toEqual({ resourceVersion: '42' });
  });

  it('accepts resourceVersions of 1 to 20 digits', () => {
    expect(from({ 'if-match': '0' })).toEqual({ resourceVersion: '0' });
    expect(from({ 'if-match': '9'.repeat(20) })).toEqual({ resourceVersion: '9'.repeat(20) });
  });

  it('reads If-Match: * as "must exist"', () => {
    expect(from({ 'if-match': '*' })).toBe('exists');
    expect(from({ 'if-match': ' * ' }, undefined, 'create')).toBe('exists');
  });

  it.each([
    ['empty', ''],
    ['empty quotes', '""'],
    ['letters', 'abc'],
    ['quoted letters', '"abc"'],
    ['negative', '-1'],
    ['decimal', '1.5'],
    ['21 digits', '1'.repeat(21)],
    ['half-quoted', '"42'],
    ['a list', '"1", "2"'],
    ['lowercase weak prefix', 'w/"42"'],
    ['double weak prefix', 'W/W/"42"'],
    ['inner spaces', '"4 2"'],
  ])('refuses the %s If-Match %j with a 400 at /headers/if-match', (_what, value) => {
    const error = errorFor({ 'if-match': value });
    expect(error.statusCode).toBe(400);
    expect(error.error).toBe('ValidationError');
    expect(error.details).toEqual([{ path: '/headers/if-match', message: 'must be a resourceVersion' }]);
  });

  it('reads If-None-Match: * as "must not exist"', () => {
    expect(from({ 'if-none-match': '*' })).toBe('create');
    expect(from({ 'if-none-match': ' * ' }, undefined, 'exists')).toBe('create');
  });

  it.each(['"42"', '42', '', 'W/"1"'])('refuses If-None-Match %j with a 400 at /headers/if-none-match', (value) => {
    const error = errorFor({ 'if-none-match': value });
    expect(error.statusCode).toBe(400);
    expect(error.details).toEqual([{ path: '/headers/if-none-match', message: 'must be *' }]);
  });

  it('refuses both headers at once, at /headers/if-match', () => {
    for (const headers of [{ 'if-match': '"1"', 'if-none-match': '*' }, { 'if-match': '*', 'if-none-match': '*' }]) {
      const error = errorFor(headers);
      expect(error.statusCode).toBe(400);
      expect(error.details).toEqual([{ path: '/headers/if-match', message: 'conflicts with If-None-Match' }]);
    }
  });

  it('falls back to the body resourceVersion', () => {
    expect(from({}, '17')).toEqual({ resourceVersion: '17' });
    expect(from({}, '17', 'create')).toEqual({ resourceVersion: '17' });
  });

  it('ignores an empty body resourceVersion', () => {
    expect(from({}, '', 'create')).toBe('create');
  });

  it('prefers the headers over the body resourceVersion', () => {
    expect(from({ 'if-match': '"5"' }, '17')).toEqual({ resourceVersion: '5' });
    expect(from({ 'if-match': '*' }, '17')).toBe('exists');
    expect(from({ 'if-none-match': '*' }, '17')).toBe('create');
  });

  it('uses the first of repeated header values', () => {
    expect(from({ 'if-match': ['"3"', '"4"'] })).toEqual({ resourceVersion: '3' });
    expect(from({ 'if-none-match': ['*'] })).toBe('create');
  });
});

describe('etag', () => {
  it('quotes the resourceVersion, and If-Match reads it back', () => {
    expect(etag('42')).toBe('"42"');
    expect(preconditionFrom({ 'if-match': etag('42') }, undefined, 'any')).toEqual({ resourceVersion: '42' });
  });
});
