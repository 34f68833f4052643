import { DNS1123_LABEL_PATTERN } from '../../core/schemas/common.js';
import { describe, expect, it } from 'vitest';
import { detailsFromValidation } from './errors.js';

type AjvError = Parameters<typeof detailsFromValidation>[1][number];
const err = (keyword: string, instancePath: string, params: Record<string, unknown> = {}, message?: string): AjvError => ({
  keyword,
  instancePath,
  params,
  ...(message === undefined ? {} : { message }),
});

describe('detailsFromValidation', () => {
  it('puts a missing property on its own path', () => {
    expect(detailsFromValidation('body', [err('required', '/spec', { missingProperty: 'attempts' }, "must have required property 'attempts'")])).toEqual([
      { path: '/body/spec/attempts', message: 'is required' },
    ]);
    expect(detailsFromValidation('body', [err('required', '', { missingProperty: 'spec' })])).toEqual([{ path: '/body/spec', message: 'is required' }]);
  });

  it('puts an unknown field on its own path', () => {
    expect(
      detailsFromValidation('body', [err('additionalProperties', '/spec/rules/0', { additionalProperty: 'weight' }, 'must NOT have additional properties')]),
    ).toEqual([{ path: '/body/spec/rules/0/weight', message: 'unknown field' }]);
    expect(detailsFromValidation('querystring', [err('additionalProperties', '', { additionalProperty: 'limit' })])).toEqual([
      { path: '/querystring/limit', message: 'unknown field' },
    ]);
  });

  it('says which constant was expected', () => {
    expect(detailsFromValidation('body', [err('const', '/kind', { allowedValue: 'Retry' }, 'must be equal to constant')])).toEqual([
      { path: '/body/kind', message: 'must be "Retry"' },
    ]);
    expect(detailsFromValidation('body', [err('const', '/spec/enabled', { allowedValue: true })])).toEqual([
      { path: '/body/spec/enabled', message: 'must be true' },
    ]);
  });

  it('lists enum values', () => {
    expect(detailsFromValidation('body', [err('enum', '/role', { allowedValues: ['admin', 'editor', 'viewer'] })])).toEqual([
      { path: '/body/role', message: 'must be one of admin, editor, viewer' },
    ]);
  });

  it('explains the DNS-1123 pattern wherever it fails, and keeps other pattern messages', () => {
    const [param] = detailsFromValidation('params', [err('pattern', '/tenant', { pattern: DNS1123_LABEL_PATTERN }, 'must match pattern "…"')]);
    expect(param!.path).toBe('/params/tenant');
    expect(param!.message).toMatch(/^must be a DNS-1123 label/);
    expect(detailsFromValidation('params', [err('pattern', '/id', { pattern: '^[0-9a-f]{16}$' }, 'must match pattern "^[0-9a-f]{16}$"')])).toEqual([
      { path: '/params/id', message: 'must match pattern "^[0-9a-f]{16}$"' },
    ]);
    expect(detailsFromValidation('body', [err('pattern', '/spec/connect', { pattern: 'x' }, 'must match pattern "x"')])).toEqual([
      { path: '/body/spec/connect', message: 'must match pattern "x"' },
    ]);
  });

  it("keeps Ajv's message for other keywords, else the keyword", () => {
    expect(detailsFromValidation('body', [err('type', '/spec/attempts', { type: 'integer' }, 'must be integer')])).toEqual([
      { path: '/body/spec/attempts', message: 'must be integer' },
    ]);
    expect(detailsFromValidation('headers', [err('maxLength', '/if-match', { limit: 32 })])).toEqual([{ path: '/headers/if-match', message: 'maxLength' }]);
  });

  it('removes duplicates and keeps order', () => {
    const details = detailsFromValidation('body', [
      err('const', '/kind', { allowedValue: 'Retry' }),
      err('type', '/a', {}, 'must be string'),
      err('const', '/kind', { allowedValue: 'Retry' }),
      err('const', '/kind', { allowedValue: 'Timeout' }),
    ]);
    expect(details).toEqual([
      { path: '/body/kind', message: 'must be "Retry"' },
      { path: '/body/a', message: 'must be string' },
      { path: '/body/kind', message: 'must be "Timeout"' },
    ]);
  });

  it('returns at most 50 details', () => {
    const errors = Array.from({ length: 80 }, (_, i) => err('required', '', { missingProperty: `f${i}` }));
    const details = detailsFromValidation('body', errors);
    expect(details).toHaveLength(50);
    expect(details[49]).toEqual({ path: '/body/f49', message: 'is required' });
  });

  it('returns nothing for no errors', () => {
    expect(detailsFromValidation('body', [])).toEqual([]);
  });

  // Ajv's instancePath is an RFC 6901 JSON pointer ("/" → "~1", "~" → "~0"); the appended property name must be escaped too.
  it('escapes the appended property name as a JSON pointer token', () => {
    expect(detailsFromValidation('body', [err('additionalProperties', '/metadata', { additionalProperty: 'a/b~c' })])).toEqual([
      { path: '/body/metadata/a~1b~0c', message: 'unknown field' },
    ]);
    expect(detailsFromValidation('body', [err('required', '/spec', { missingProperty: 'x/y' })])).toEqual([
      { path: '/body/spec/x~1y', message: 'is required' },
    ]);
  });
});
