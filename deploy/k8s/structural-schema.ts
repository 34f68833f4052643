/**
 * Turns a TypeBox (JSON Schema) definition into a Kubernetes *structural*
 * OpenAPI v3 schema, the only kind an apiextensions.k8s.io/v1 CRD accepts:
 * a `type` on every node, no `$ref`, no `patternProperties`, no
 * `additionalProperties` beside `properties`, no `uniqueItems: true`,
 * OpenAPI 3.0's boolean `exclusiveMinimum`, and junctors (`anyOf`…) that only
 * restate value constraints on fields the outer schema already declares.
 *
 * Pure: JSON in, JSON out. Whatever the CRD cannot say is reported as a
 * `SchemaLoss` (meshfed's own validation still checks it), and a keyword this
 * file does not know fails loudly instead of being dropped.
 */

export type StructuralType = 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';

/** The subset of apiextensions.k8s.io/v1 JSONSchemaProps this converter emits. */
export interface JSONSchemaProps {
  description?: string;
  type?: StructuralType;
  format?: string;
  enum?: unknown[];
  default?: unknown;
  nullable?: boolean;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  exclusiveMinimum?: boolean;
  maximum?: number;
  exclusiveMaximum?: boolean;
  multipleOf?: number;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  required?: string[];
  properties?: Record<string, JSONSchemaProps>;
  additionalProperties?: JSONSchemaProps;
  items?: JSONSchemaProps;
  anyOf?: JSONSchemaProps[];
  'x-kubernetes-preserve-unknown-fields'?: true;
  'x-kubernetes-int-or-string'?: true;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: 'atomic' | 'granular';
}

/** A constraint of the source schema that the structural schema does not enforce. */
export interface SchemaLoss {
  /** Field path in the custom resource, e.g. `.spec.rules[].split[].tags`. */
  path: string;
  lost: string;
}

export interface StructuralConversion {
  schema: JSONSchemaProps;
  losses: SchemaLoss[];
}

/** Formats the Kubernetes API server knows; any other is dropped (and reported). */
const KUBERNETES_FORMATS = new Set(['byte', 'cidr', 'date', 'date-time', 'email', 'hostname', 'ipv4', 'ipv6', 'mac', 'uri', 'uuid']);

/** Keywords a value constraint may carry inside a junctor (`anyOf`). */
const VALUE_VALIDATIONS = ['enum', 'format', 'pattern', 'minLength', 'maxLength', 'minimum', 'exclusiveMinimum', 'maximum', 'exclusiveMaximum', 'multipleOf'] as const;

/** Source keywords that carry no validation and are left out of the CRD. */
const IGNORED_KEYWORDS = new Set(['$id', '$schema', 'title', 'examples', 'readOnly', 'writeOnly', 'unevaluatedProperties']);

/** Every source keyword the converter understands; anything else is an error. */
const KNOWN_KEYWORDS = new Set([
  ...IGNORED_KEYWORDS,
  ...VALUE_VALIDATIONS,
  'type', 'description', 'default', 'const', 'nullable',
  'properties', 'required', 'additionalProperties', 'patternProperties', 'minProperties', 'maxProperties',
  'items', 'minItems', 'maxItems', 'uniqueItems',
  'anyOf', 'oneOf', 'allOf',
  'x-kubernetes-preserve-unknown-fields', 'x-kubernetes-list-type', 'x-kubernetes-list-map-keys', 'x-kubernetes-map-type',
]);

/** The canonical key order of emitted nodes, so the generated YAML is stable and readable. */
const KEY_ORDER: Array<keyof JSONSchemaProps> = [
  'description', 'type', 'format', 'enum', 'default', 'nullable',
  'pattern', 'minLength', 'maxLength',
  'minimum', 'exclusiveMinimum', 'maximum', 'exclusiveMaximum', 'multipleOf',
  'minItems', 'maxItems', 'minProperties', 'maxProperties',
  'x-kubernetes-int-or-string', 'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-list-type', 'x-kubernetes-list-map-keys', 'x-kubernetes-map-type',
  'required', 'properties', 'additionalProperties', 'items', 'anyOf',
];

/** Keys of a Record whose key schema is `Type.String()`: any key at all. */
const ANY_KEY_PATTERNS = new Set(['^(.*)$', '^.*$', '.*']);

const SCALAR_TYPES = new Set<StructuralType>(['string', 'integer', 'number', 'boolean']);

type Json = Record<string, unknown>;

export class UnsupportedSchemaError extends Error {
  constructor(path: string, message: string) {
    super(`${path || '.'}: ${message}`);
    this.name = 'UnsupportedSchemaError';
  }
}

/** Converts `schema` (a TypeBox schema or any JSON Schema) found at field `path` of the resource. */
export function toStructuralSchema(schema: unknown, path = ''): StructuralConversion {
  const losses: SchemaLoss[] = [];
  const converted = new Converter(losses).convert(asNode(schema, path), path);
  return { schema: canonical(converted), losses };
}

class Converter {
  constructor(private readonly losses: SchemaLoss[]) {}

  convert(node: Json, path: string): JSONSchemaProps {
    for (const key of Object.keys(node)) {
      if (key === 'additionalItems' || key === 'prefixItems' || (key === 'items' && Array.isArray(node.items))) {
        throw new UnsupportedSchemaError(path, 'tuples have no structural equivalent; use an array of one item schema or an object');
      }
      if (key === '$ref') throw new UnsupportedSchemaError(path, '$ref is not allowed in a CRD schema; inline the referenced schema (TypeBox: Type.Deref)');
      if (!KNOWN_KEYWORDS.has(key)) throw new UnsupportedSchemaError(path, `keyword "${key}" has no structural equivalent here; teach deploy/k8s/structural-schema.ts about it`);
    }
    const junctor = node.anyOf ?? node.oneOf;
    let result: JSONSchemaProps;
    if (junctor !== undefined) {
      const branches = asNodes(junctor, path);
      if (node.oneOf !== undefined && branches.length > 1 && !branches.every((b) => 'const' in b)) this.loss(path, 'that exactly one oneOf alternative matches (checked as anyOf)');
      result = this.union(branches, path);
    } else if (node.allOf !== undefined) result = this.intersection(asNodes(node.allOf, path), path);
    else if ('const' in node) result = { type: typeOfValue(node.const, path), enum: [node.const] };
    else result = this.typed(node, path);
    // The node's own description wins over one a union alternative brought along.
    return { ...result, ...annotations(node), ...kubernetesExtensions(node) };
  }

  private typed(node: Json, path: string): JSONSchemaProps {
    const type = node.type;
    if (type === undefined) {
      // Type.Unknown / Type.Any: any value at all.
      return { 'x-kubernetes-preserve-unknown-fields': true };
    }
    if (Array.isArray(type)) return this.union(type.map((t) => ({ ...node, type: t as unknown })), path);
    switch (type) {
      case 'object':
        return this.object(node, path);
      case 'array':
        return this.array(node, path);
      case 'string':
        return this.scalar('string', node, path);
      case 'integer':
        return this.scalar('integer', node, path);
      case 'number':
        return this.scalar('number', node, path);
      case 'boolean':
        return this.scalar('boolean', node, path);
      case 'null':
        throw new UnsupportedSchemaError(path, 'type null has no structural equivalent; use a union with another type (it becomes nullable)');
      default:
        throw new UnsupportedSchemaError(path, `unknown type ${JSON.stringify(type)}`);
    }
  }

  private scalar(type: StructuralType, node: Json, path: string): JSONSchemaProps {
    const out: JSONSchemaProps = { type };
    if (Array.isArray(node.enum)) out.enum = [...(node.enum as unknown[])];
    if (type === 'string') {
      copyNumbers(node, out, ['minLength', 'maxLength']);
      if (typeof node.pattern === 'string') out.pattern = node.pattern;
      if (typeof node.format === 'string') {
        if (KUBERNETES_FORMATS.has(node.format)) out.format = node.format;
        else this.loss(path, `format "${node.format}" (unknown to the Kubernetes API server)`);
      }
    }
    if (type === 'integer' || type === 'number') {
      copyNumbers(node, out, ['minimum', 'maximum', 'multipleOf']);
      // JSON Schema 2019 has numeric exclusive bounds; OpenAPI 3.0 (Kubernetes) has booleans beside minimum/maximum.
      if (typeof node.exclusiveMinimum === 'number') {
        if (out.minimum === undefined || node.exclusiveMinimum >= out.minimum) {
          out.minimum = node.exclusiveMinimum;
          out.exclusiveMinimum = true;
        }
      }
      if (typeof node.exclusiveMaximum === 'number') {
        if (out.maximum === undefined || node.exclusiveMaximum <= out.maximum) {
          out.maximum = node.exclusiveMaximum;
          out.exclusiveMaximum = true;
        }
      }
    }
    return out;
  }

  private array(node: Json, path: string): JSONSchemaProps {
    const items = this.convert(asNode(node.items ?? {}, `${path}[]`), `${path}[]`);
    const out: JSONSchemaProps = { type: 'array' };
    copyNumbers(node, out, ['minItems', 'maxItems']);
    if (node.uniqueItems === true) {
      // uniqueItems: true is forbidden (quadratic); a set list enforces the same for scalar items.
      if (items.type !== undefined && SCALAR_TYPES.has(items.type) && !items.nullable) out['x-kubernetes-list-type'] = 'set';
      else this.loss(path, 'uniqueItems (only lists of scalars can be sets)');
    }
    out.items = items;
    return out;
  }

  private object(node: Json, path: string): JSONSchemaProps {
    const out: JSONSchemaProps = { type: 'object' };
    copyNumbers(node, out, ['minProperties', 'maxProperties']);
    const properties = node.properties === undefined ? {} : asNode(node.properties, path);
    const patterns = node.patternProperties === undefined ? {} : asNode(node.patternProperties, path);
    const additional = node.additionalProperties;
    const hasProperties = Object.keys(properties).length > 0;
    const patternEntries = Object.entries(patterns);

    if (hasProperties) {
      out.properties = {};
      for (const [name, schema] of Object.entries(properties)) out.properties[name] = this.convert(asNode(schema, `${path}.${name}`), `${path}.${name}`);
      const required = Array.isArray(node.required) ? (node.required as string[]).filter((r) => r in properties) : [];
      if (required.length) out.required = required;
      // Closed objects (additionalProperties: false) need nothing: the API server prunes unknown fields.
      if (patternEntries.length || isSchemaNode(additional) || additional === true || additional === undefined) {
        out['x-kubernetes-preserve-unknown-fields'] = true;
        if (patternEntries.length || isSchemaNode(additional)) this.loss(path, 'the schema of fields beyond the declared properties (an object is either a struct or a map)');
      }
      return out;
    }
    if (patternEntries.length > 0) {
      // Type.Record: a map. Kubernetes has no schema for map keys, only for values.
      const [first, ...rest] = patternEntries;
      if (rest.length || isSchemaNode(additional)) {
        out['x-kubernetes-preserve-unknown-fields'] = true;
        this.loss(path, 'a map with several key patterns (values are not validated)');
        return out;
      }
      const [keyPattern, valueSchema] = first!;
      if (!ANY_KEY_PATTERNS.has(keyPattern)) this.loss(path, `map keys must match ${keyPattern} (a CRD cannot constrain map keys)`);
      out.additionalProperties = this.convert(asNode(valueSchema, `${path}.*`), `${path}.*`);
      return out;
    }
    if (isSchemaNode(additional)) {
      out.additionalProperties = this.convert(additional, `${path}.*`);
      return out;
    }
    if (additional === false) return out; // an object that must stay empty: every field is pruned
    out['x-kubernetes-preserve-unknown-fields'] = true;
    return out;
  }

  /** Type.Union: literals become an enum, objects merge into one, nullable unions become `nullable`. */
  private union(branches: Json[], path: string): JSONSchemaProps {
    const nonNull = branches.filter((b) => b.type !== 'null');
    const nullable = nonNull.length < branches.length;
    if (nonNull.length === 0) throw new UnsupportedSchemaError(path, 'a union of nothing but null');
    const merged = this.mergeAlternatives(nonNull.map((b) => this.convert(b, path)), path);
    return nullable ? { ...merged, nullable: true } : merged;
  }

  /** Merges already structural alternatives into one structural schema (anyOf semantics). */
  private mergeAlternatives(alternatives: JSONSchemaProps[], path: string): JSONSchemaProps {
    if (alternatives.length === 1) return alternatives[0]!;
    if (alternatives.every((a) => deepEqual(a, alternatives[0]))) return alternatives[0]!;
    if (alternatives.some((a) => a['x-kubernetes-preserve-unknown-fields'] && a.type === undefined)) {
      return { 'x-kubernetes-preserve-unknown-fields': true }; // one alternative is "anything": so is the union
    }
    const types = new Set(alternatives.map((a) => a.type));
    if (types.size === 1) {
      const type = alternatives[0]!.type!;
      if (SCALAR_TYPES.has(type)) return mergeScalars(type, alternatives);
      if (type === 'object') return this.mergeObjects(alternatives, path);
      // Arrays: one array of the union of the item schemas.
      this.loss(path, 'which alternative an array follows (items of different alternatives may be mixed)');
      const out: JSONSchemaProps = { type: 'array', items: this.mergeAlternatives(alternatives.map((a) => a.items ?? { 'x-kubernetes-preserve-unknown-fields': true }), `${path}[]`) };
      return out;
    }
    if (types.size === 2 && types.has('integer') && types.has('string')) {
      // IntOrString: the one case where a junctor may carry types.
      return { 'x-kubernetes-int-or-string': true, anyOf: alternatives.map((a) => ({ type: a.type, ...valueValidations(a) })) };
    }
    if (types.size === 2 && types.has('integer') && types.has('number')) {
      this.loss(path, 'the integer-only alternative of a number union');
      return mergeScalars('number', alternatives.map((a) => ({ ...a, type: 'number' })));
    }
    this.loss(path, `a union of ${[...types].join(', ')} (any value is accepted)`);
    return { 'x-kubernetes-preserve-unknown-fields': true };
  }

  /**
   * A union of objects becomes one object declaring every field of every
   * alternative. What tells the alternatives apart stays as value-only
   * constraints in anyOf: the fields each one requires and its discriminator
   * values (e.g. kind: A needs a, kind: B needs b).
   */
  private mergeObjects(alternatives: JSONSchemaProps[], path: string): JSONSchemaProps {
    if (alternatives.some((a) => a.additionalProperties || a['x-kubernetes-preserve-unknown-fields'])) {
      if (alternatives.every((a) => a.additionalProperties && !a.properties)) {
        return { type: 'object', additionalProperties: this.mergeAlternatives(alternatives.map((a) => a.additionalProperties!), `${path}.*`) };
      }
      this.loss(path, 'a union mixing structs and maps (fields are not validated)');
      return { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
    }
    const names: string[] = [];
    for (const a of alternatives) for (const name of Object.keys(a.properties ?? {})) if (!names.includes(name)) names.push(name);
    const properties: Record<string, JSONSchemaProps> = {};
    for (const name of names) {
      const schemas = alternatives.flatMap((a) => (a.properties?.[name] ? [a.properties[name]] : []));
      properties[name] = this.mergeAlternatives(schemas.map(withoutAnnotationsIfDiffering(schemas)), `${path}.${name}`);
    }
    const requiredByAll = names.filter((n) => alternatives.every((a) => a.required?.includes(n)));
    const constraints = alternatives.map((a) => {
      const constraint: JSONSchemaProps = {};
      const required = (a.required ?? []).filter((r) => !requiredByAll.includes(r));
      if (required.length) constraint.required = required;
      const discriminators: Record<string, JSONSchemaProps> = {};
      for (const [name, schema] of Object.entries(a.properties ?? {})) {
        const mergedEnum = properties[name]!.enum;
        if (schema.enum && mergedEnum && mergedEnum.length > schema.enum.length) discriminators[name] = { enum: schema.enum };
      }
      if (Object.keys(discriminators).length) constraint.properties = discriminators;
      return constraint;
    });
    const sameFields = alternatives.every((a) => sameKeys(a.properties ?? {}, alternatives[0]!.properties ?? {}));
    if (!sameFields) this.loss(path, 'that fields of different union alternatives are not combined (the alternatives become one object)');
    const out: JSONSchemaProps = { type: 'object' };
    if (requiredByAll.length) out.required = requiredByAll;
    out.properties = properties;
    // An alternative without constraints matches every object, and then so does the anyOf.
    if (constraints.every((c) => Object.keys(c).length > 0)) out.anyOf = constraints;
    return out;
  }

  /** Type.Intersect of objects: all their fields, all their required fields. */
  private intersection(parts: Json[], path: string): JSONSchemaProps {
    const converted = parts.map((p) => this.convert(p, path));
    if (!converted.every((c) => c.type === 'object' && !c.additionalProperties)) {
      throw new UnsupportedSchemaError(path, 'only intersections of objects are supported');
    }
    const out: JSONSchemaProps = { type: 'object', properties: {} };
    const required = new Set<string>();
    for (const part of converted) {
      for (const [name, schema] of Object.entries(part.properties ?? {})) {
        const existing = out.properties![name];
        if (existing && !deepEqual(existing, schema)) throw new UnsupportedSchemaError(`${path}.${name}`, 'declared differently by two parts of an intersection');
        out.properties![name] = schema;
      }
      for (const r of part.required ?? []) required.add(r);
    }
    if (required.size) out.required = [...required];
    return out;
  }

  private loss(path: string, lost: string): void {
    this.losses.push({ path: path || '.', lost });
  }
}

function mergeScalars(type: StructuralType, alternatives: JSONSchemaProps[]): JSONSchemaProps {
  const out: JSONSchemaProps = { type };
  if (alternatives.every((a) => a.enum && Object.keys(valueValidations(a)).length === 1)) {
    out.enum = [...new Set(alternatives.flatMap((a) => a.enum!))];
    return out;
  }
  const validations = alternatives.map(valueValidations);
  // An unconstrained alternative accepts every value of the type, and then so does the union.
  if (validations.every((v) => Object.keys(v).length > 0)) out.anyOf = validations;
  return out;
}

function valueValidations(schema: JSONSchemaProps): JSONSchemaProps {
  const out: JSONSchemaProps = {};
  for (const key of VALUE_VALIDATIONS) if (schema[key] !== undefined) (out as Json)[key] = schema[key];
  return out;
}

/** Descriptions of the same field in two alternatives may differ; they must not make the schemas look different. */
function withoutAnnotationsIfDiffering(schemas: JSONSchemaProps[]): (s: JSONSchemaProps) => JSONSchemaProps {
  const descriptions = new Set(schemas.map((s) => s.description));
  if (descriptions.size <= 1) return (s) => s;
  return (s) => {
    const { description: _description, ...rest } = s;
    return rest;
  };
}

function annotations(node: Json): JSONSchemaProps {
  const out: JSONSchemaProps = {};
  if (typeof node.description === 'string') out.description = node.description;
  if ('default' in node) out.default = node.default;
  if (node.nullable === true) out.nullable = true;
  return out;
}

function kubernetesExtensions(node: Json): JSONSchemaProps {
  const out: JSONSchemaProps & Json = {};
  for (const key of ['x-kubernetes-preserve-unknown-fields', 'x-kubernetes-list-type', 'x-kubernetes-list-map-keys', 'x-kubernetes-map-type']) {
    if (node[key] !== undefined) out[key] = node[key];
  }
  return out;
}

function copyNumbers(from: Json, to: JSONSchemaProps, keys: Array<keyof JSONSchemaProps>): void {
  for (const key of keys) if (typeof from[key] === 'number') (to as Json)[key] = from[key];
}

function typeOfValue(value: unknown, path: string): StructuralType {
  if (typeof value === 'string') return 'string';
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  throw new UnsupportedSchemaError(path, `a literal ${JSON.stringify(value)} has no structural type`);
}

function isSchemaNode(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asNode(value: unknown, path: string): Json {
  if (!isSchemaNode(value)) throw new UnsupportedSchemaError(path, `expected a schema object, got ${JSON.stringify(value)}`);
  return value;
}

function asNodes(value: unknown, path: string): Json[] {
  if (!Array.isArray(value)) throw new UnsupportedSchemaError(path, 'expected a list of schemas');
  return value.map((v) => asNode(v, path));
}

function sameKeys(a: object, b: object): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i]);
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonicalJson(a)) === JSON.stringify(canonicalJson(b));
}

function canonicalJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonicalJson);
  if (isSchemaNode(value)) return Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonicalJson(value[k])]));
  return value;
}

/** Orders keys the same way everywhere (recursively), so the YAML is stable and diffs stay small. */
export function canonical(schema: JSONSchemaProps): JSONSchemaProps {
  const out: Json = {};
  for (const key of KEY_ORDER) {
    const value = schema[key];
    if (value === undefined) continue;
    if (key === 'properties') out[key] = Object.fromEntries(Object.entries(value as Record<string, JSONSchemaProps>).map(([k, v]) => [k, canonical(v)]));
    else if (key === 'additionalProperties' || key === 'items') out[key] = canonical(value as JSONSchemaProps);
    else if (key === 'anyOf') out[key] = (value as JSONSchemaProps[]).map(canonical);
    else out[key] = value;
  }
  return out;
}
