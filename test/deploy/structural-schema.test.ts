import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { Labels } from '../../core/schemas/common.js';
import { UnsupportedSchemaError, toStructuralSchema, type JSONSchemaProps } from '../../deploy/k8s/structural-schema.js';
import { crdDocumentValidator } from './crd-documents.js';
import { structuralSchemaViolations } from './structural-rules.js';

/** Wraps a converted field in a CRD root, the way policy-crds.ts does, for the checker and for ajv. */
function root(field: JSONSchemaProps): JSONSchemaProps {
  return { type: 'object', properties: { apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object' }, spec: field } };
}
const convert = (schema: unknown) => toStructuralSchema(schema, '.spec');
const accepts = (schema: JSONSchemaProps, spec: unknown) => crdDocumentValidator(root(schema))({ spec });

describe('toStructuralSchema', () => {
  it('turns a union of literals into an enum', () => {
    const { schema, losses } = convert(Type.Union([Type.Literal('Allow'), Type.Literal('Deny')], { description: 'What to do.' }));
    expect(schema).toEqual({ description: 'What to do.', type: 'string', enum: ['Allow', 'Deny'] });
    expect(losses).toEqual([]);
  });

  it('turns a lone literal into a one-value enum (CRDs have no const)', () => {
    expect(convert(Type.Literal(3)).schema).toEqual({ type: 'integer', enum: [3] });
  });

  it('makes a union of objects one object, keeping what tells the alternatives apart in value-only anyOf', () => {
    const union = Type.Union([
      Type.Object({ kind: Type.Literal('Header'), header: Type.String({ minLength: 1 }) }, { additionalProperties: false }),
      Type.Object({ kind: Type.Literal('Cookie'), cookie: Type.String(), ttl: Type.Optional(Type.Integer({ minimum: 1 })) }, { additionalProperties: false }),
    ]);
    const { schema, losses } = convert(Type.Object({ hashOn: union }));
    const hashOn = schema.properties!.hashOn!;
    expect(hashOn).toEqual({
      type: 'object',
      required: ['kind'],
      properties: {
        kind: { type: 'string', enum: ['Header', 'Cookie'] },
        header: { type: 'string', minLength: 1 },
        cookie: { type: 'string' },
        ttl: { type: 'integer', minimum: 1 },
      },
      anyOf: [
        { required: ['header'], properties: { kind: { enum: ['Header'] } } },
        { required: ['cookie'], properties: { kind: { enum: ['Cookie'] } } },
      ],
    });
    expect(structuralSchemaViolations(root(schema))).toEqual([]);
    expect(losses.map((l) => l.path)).toEqual(['.spec.hashOn']);
    expect(accepts(schema, { hashOn: { kind: 'Header', header: 'x-user' } })).toEqual([]);
    expect(accepts(schema, { hashOn: { kind: 'Cookie', cookie: 'session', ttl: 60 } })).toEqual([]);
    expect(accepts(schema, { hashOn: { kind: 'Header', cookie: 'session' } })).not.toEqual([]);
    expect(accepts(schema, { hashOn: { kind: 'Query', header: 'x' } })).not.toEqual([]);
    expect(accepts(schema, { hashOn: { kind: 'Cookie', cookie: 'session', ttl: 0 } })).not.toEqual([]);
  });

  it('drops the anyOf when an alternative constrains nothing (it would match every object)', () => {
    const { schema } = convert(Type.Union([Type.Object({ a: Type.String() }), Type.Object({ b: Type.Optional(Type.String()) })]));
    expect(schema.anyOf).toBeUndefined();
    expect(structuralSchemaViolations(root(schema))).toEqual([]);
  });

  it('makes a union with null nullable, and string | integer an int-or-string', () => {
    expect(convert(Type.Union([Type.String({ maxLength: 3 }), Type.Null()])).schema).toEqual({ type: 'string', nullable: true, maxLength: 3 });
    const intOrString = convert(Type.Object({ port: Type.Union([Type.Integer({ minimum: 1 }), Type.String({ pattern: '^[a-z]+$' })]) })).schema;
    expect(intOrString.properties!.port).toEqual({
      'x-kubernetes-int-or-string': true,
      anyOf: [
        { type: 'integer', minimum: 1 },
        { type: 'string', pattern: '^[a-z]+$' },
      ],
    });
    expect(structuralSchemaViolations(root(intOrString))).toEqual([]);
    expect(accepts(intOrString, { port: 8080 })).toEqual([]);
    expect(accepts(intOrString, { port: 'http' })).toEqual([]);
    expect(accepts(intOrString, { port: true })).not.toEqual([]);
  });

  it('checks oneOf as anyOf, and says so unless its alternatives are literals', () => {
    expect(convert({ oneOf: [{ const: 'a' }, { const: 'b' }] })).toEqual({ schema: { type: 'string', enum: ['a', 'b'] }, losses: [] });
    expect(convert({ oneOf: [{ type: 'string', pattern: '^a' }, { type: 'string', maxLength: 2 }] }).losses).toHaveLength(1);
  });

    it('keeps constraints of scalar alternatives as value-only anyOf', () => {
    const { schema } = convert(Type.Union([Type.String({ pattern: '^a' }), Type.String({ pattern: '^b' })]));
    expect(schema).toEqual({ type: 'string', anyOf: [{ pattern: '^a' }, { pattern: '^b' }] });
  });

  it('turns a Record into a map of values, reporting a key pattern it cannot keep', () => {
    const labels = convert(Labels);
    expect(labels.schema).toMatchObject({ type: 'object', additionalProperties: { type: 'string', maxLength: 63 } });
    expect(labels.losses).toEqual([{ path: '.spec', lost: expect.stringMatching(/^map keys must match/) as string }]);
    const plain = convert(Type.Record(Type.String(), Type.Integer()));
    expect(plain).toEqual({ schema: { type: 'object', additionalProperties: { type: 'integer' } }, losses: [] });
  });

  it('closed objects rely on pruning; open ones and Unknown preserve unknown fields', () => {
    expect(convert(Type.Object({ a: Type.String() }, { additionalProperties: false })).schema).toEqual({ type: 'object', required: ['a'], properties: { a: { type: 'string' } } });
    expect(convert(Type.Object({ a: Type.String() })).schema['x-kubernetes-preserve-unknown-fields']).toBe(true);
    expect(convert(Type.Unknown()).schema).toEqual({ 'x-kubernetes-preserve-unknown-fields': true });
    const withExtra = convert(Type.Object({ a: Type.String() }, { additionalProperties: Type.Integer() }));
    expect(withExtra.schema['x-kubernetes-preserve-unknown-fields']).toBe(true);
    expect(withExtra.losses).toHaveLength(1);
  });

  it('turns uniqueItems into a set list for scalars, and reports it for objects', () => {
    expect(convert(Type.Array(Type.String(), { uniqueItems: true, maxItems: 4 })).schema).toEqual({
      type: 'array',
      maxItems: 4,
      'x-kubernetes-list-type': 'set',
      items: { type: 'string' },
    });
    const objects = convert(Type.Array(Type.Object({ a: Type.String() }, { additionalProperties: false }), { uniqueItems: true }));
    expect(objects.schema['x-kubernetes-list-type']).toBeUndefined();
    expect(objects.losses.map((l) => l.lost)).toEqual(['uniqueItems (only lists of scalars can be sets)']);
  });

  it('writes exclusive bounds the OpenAPI 3.0 way', () => {
    expect(convert(Type.Number({ exclusiveMinimum: 0, maximum: 100 })).schema).toEqual({ type: 'number', minimum: 0, exclusiveMinimum: true, maximum: 100 });
    expect(convert(Type.Number({ minimum: 5, exclusiveMinimum: 0 })).schema).toEqual({ type: 'number', minimum: 5 });
    expect(convert(Type.Integer({ exclusiveMaximum: 10 })).schema).toEqual({ type: 'integer', maximum: 10, exclusiveMaximum: true });
  });

  it('merges an intersection of objects', () => {
    const { schema } = convert(
      Type.Intersect([Type.Object({ a: Type.String() }, { additionalProperties: false }), Type.Object({ b: Type.Optional(Type.Integer()) }, { additionalProperties: false })]),
    );
    expect(schema).toEqual({ type: 'object', required: ['a'], properties: { a: { type: 'string' }, b: { type: 'integer' } } });
  });

  it('refuses what it cannot express rather than dropping it', () => {
    expect(() => convert(Type.Ref('Other'))).toThrow(UnsupportedSchemaError);
    expect(() => convert(Type.Not(Type.String()))).toThrow(/keyword "not"/);
    expect(() => convert(Type.Tuple([Type.String(), Type.Integer()]))).toThrow(/tuples/);
    expect(() => convert(Type.Object({ a: Type.String({ contentEncoding: 'base64' }) }))).toThrow(/\.spec\.a: keyword "contentEncoding"/);
  });

  it('reports formats the API server does not know, keeps those it does', () => {
    expect(convert(Type.String({ format: 'date-time' })).schema).toEqual({ type: 'string', format: 'date-time' });
    expect(convert(Type.String({ format: 'regex' })).losses).toHaveLength(1);
  });
});

describe('structuralSchemaViolations (the checker itself)', () => {
  const ok: JSONSchemaProps = root({ type: 'object', properties: { a: { type: 'string' } } });
  const violations = (spec: unknown) => structuralSchemaViolations(root(spec as JSONSchemaProps));

  it('accepts a structural schema', () => {
    expect(structuralSchemaViolations(ok)).toEqual([]);
  });

  it.each([
    ['a node without type', { type: 'object', properties: { a: {} } }, /properties\.a\.type: required/],
    ['additionalProperties beside properties', { type: 'object', properties: { a: { type: 'string' } }, additionalProperties: { type: 'string' } }, /mutually exclusive/],
    ['additionalProperties: false', { type: 'object', additionalProperties: false }, /cannot be false/],
    ['$ref', { type: 'object', $ref: '#/definitions/x' }, /\$ref: not supported/],
    ['patternProperties', { type: 'object', patternProperties: { '^a': { type: 'string' } } }, /patternProperties: not supported/],
    ['const', { type: 'string', const: 'a' }, /const: not supported/],
    ['uniqueItems', { type: 'array', items: { type: 'string' }, uniqueItems: true }, /uniqueItems: cannot be true/],
    ['a numeric exclusiveMinimum', { type: 'number', exclusiveMinimum: 0 }, /must be a boolean/],
    ['type inside anyOf', { type: 'object', properties: { a: { type: 'string' } }, anyOf: [{ type: 'object' }] }, /anyOf\[0\]\.type: not allowed/],
    ['description inside oneOf', { type: 'string', oneOf: [{ description: 'x', pattern: '^a' }] }, /oneOf\[0\]\.description: not allowed/],
    ['a junctor naming an undeclared field', { type: 'object', properties: { a: { type: 'string' } }, anyOf: [{ properties: { b: { enum: ['x'] } } }] }, /properties\.b: not declared outside/],
    ['a junctor requiring an undeclared field', { type: 'object', properties: { a: { type: 'string' } }, anyOf: [{ required: ['b'] }] }, /"b" is not declared outside/],
    ['a set of objects', { type: 'array', 'x-kubernetes-list-type': 'set', items: { type: 'object', properties: { a: { type: 'string' } } } }, /set needs scalar/],
    ['a map list keyed by an optional field', { type: 'array', 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['a'], items: { type: 'object', properties: { a: { type: 'string' } } } }, /must be required or defaulted/],
    ['x-kubernetes-preserve-unknown-fields: false', { type: 'object', 'x-kubernetes-preserve-unknown-fields': false }, /must be true or absent/],
    ['a lookahead pattern (not RE2)', { type: 'string', pattern: '^(?!admin)' }, /not RE2/],
    ['an array without items', { type: 'array' }, /needs an item schema/],
    ['a field that JSONSchemaProps lacks', { type: 'string', contentEncoding: 'base64' }, /contentEncoding: not a JSONSchemaProps field/],
  ])('flags %s', (_what, spec, message) => {
    expect(violations(spec).join('\n')).toMatch(message);
  });

  it('flags root and metadata rules', () => {
    expect(structuralSchemaViolations({ ...ok, type: 'array' }).join('\n')).toMatch(/must be object at the root/);
    expect(structuralSchemaViolations({ ...ok, anyOf: [{ required: ['spec'] }] }).join('\n')).toMatch(/anyOf: not allowed at the root/);
    const metadata = { type: 'object', properties: { labels: { type: 'object', additionalProperties: { type: 'string' } } } };
    expect(structuralSchemaViolations({ ...ok, properties: { ...ok.properties, metadata } }).join('\n')).toMatch(/may only restrict name and generateName/);
  });
});
