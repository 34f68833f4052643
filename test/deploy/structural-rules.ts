import { re2SyntaxError } from '../../core/re2-syntax.js';

/**
 * An independent check of the Kubernetes structural-schema rules (and the
 * apiextensions/v1 schema restrictions) that meshfed's CRDs rely on, written
 * from the API server's validation rather than from the generator, so a bug in
 * deploy/k8s/structural-schema.ts cannot hide itself:
 *
 * 1. every node (root, properties, additionalProperties, items) has a type,
 *    unless it sets x-kubernetes-int-or-string or x-kubernetes-preserve-unknown-fields;
 * 2. no $ref, definitions, dependencies, patternProperties, additionalItems, id,
 *    const, prefixItems, type null, tuple items, uniqueItems: true;
 * 3. additionalProperties never beside properties, never false;
 * 4. inside allOf/anyOf/oneOf/not: no type, description, default, nullable,
 *    additionalProperties or x-kubernetes-* (bar int-or-string), and every
 *    property/items they mention is also declared outside (the "projection");
 * 5. at the root: type object, only the fields the API server allows there,
 *    and metadata restricting nothing but name and generateName;
 * 6. exclusiveMinimum/exclusiveMaximum are booleans (OpenAPI 3.0) next to a bound;
 * 7. x-kubernetes-preserve-unknown-fields is only ever true; list-type set has
 *    scalar items; list-type map has map keys that are required scalar properties;
 * 8. patterns are valid RE2 (what the API server compiles them with) and JavaScript.
 */
export function structuralSchemaViolations(root: unknown): string[] {
  const out: string[] = [];
  if (!isObject(root)) return ['openAPIV3Schema: not an object'];
  if (root.type !== 'object') out.push('openAPIV3Schema.type: must be object at the root');
  for (const key of Object.keys(root)) if (!ROOT_FIELDS.has(key)) out.push(`openAPIV3Schema.${key}: not allowed at the root`);
  const metadata = isObject(root.properties) ? root.properties.metadata : undefined;
  if (isObject(metadata)) {
    for (const key of Object.keys(metadata)) if (key !== 'type' && key !== 'properties' && key !== 'description') out.push(`openAPIV3Schema.properties.metadata.${key}: metadata may only restrict name and generateName`);
    for (const name of Object.keys(isObject(metadata.properties) ? metadata.properties : {})) {
      if (name !== 'name' && name !== 'generateName') out.push(`openAPIV3Schema.properties.metadata.properties.${name}: metadata may only restrict name and generateName`);
    }
  }
  checkNode(root, 'openAPIV3Schema', out);
  return out;
}

const ROOT_FIELDS = new Set([
  'description', 'type', 'format', 'title', 'maximum', 'exclusiveMaximum', 'minimum', 'exclusiveMinimum',
  'maxLength', 'minLength', 'pattern', 'maxItems', 'minItems', 'multipleOf', 'required', 'items', 'properties',
  'externalDocs', 'example', 'x-kubernetes-preserve-unknown-fields', 'x-kubernetes-validations',
]);

/** Fields of apiextensions.k8s.io/v1 JSONSchemaProps that a schema node may carry. */
const NODE_FIELDS = new Set([
  'description', 'type', 'format', 'title', 'default', 'enum', 'nullable', 'example', 'externalDocs',
  'maximum', 'exclusiveMaximum', 'minimum', 'exclusiveMinimum', 'multipleOf',
  'maxLength', 'minLength', 'pattern', 'maxItems', 'minItems', 'maxProperties', 'minProperties',
  'required', 'items', 'properties', 'additionalProperties', 'allOf', 'anyOf', 'oneOf', 'not',
  'x-kubernetes-preserve-unknown-fields', 'x-kubernetes-int-or-string', 'x-kubernetes-embedded-resource',
  'x-kubernetes-list-type', 'x-kubernetes-list-map-keys', 'x-kubernetes-map-type', 'x-kubernetes-validations',
]);

const FORBIDDEN = ['$ref', '$schema', 'id', '$id', 'definitions', 'dependencies', 'patternProperties', 'additionalItems', 'const', 'prefixItems'];
const TYPES = new Set(['object', 'array', 'string', 'integer', 'number', 'boolean']);
const SCALARS = new Set(['string', 'integer', 'number', 'boolean']);
const JUNCTORS = ['allOf', 'anyOf', 'oneOf'] as const;
/** Not allowed anywhere inside a junctor (x-kubernetes-* checked separately). */
const NOT_IN_JUNCTORS = ['type', 'description', 'default', 'nullable', 'additionalProperties', 'title'];

function checkNode(node: Record<string, unknown>, at: string, out: string[]): void {
  checkKeywords(node, at, out);
  const escapes = node['x-kubernetes-int-or-string'] === true || node['x-kubernetes-preserve-unknown-fields'] === true;
  if (node.type === undefined && !escapes) out.push(`${at}.type: required (or x-kubernetes-preserve-unknown-fields / x-kubernetes-int-or-string)`);
  if (node.type !== undefined && !TYPES.has(node.type as string)) out.push(`${at}.type: ${JSON.stringify(node.type)} is not one of ${[...TYPES].join(', ')}`);

  const properties = isObject(node.properties) ? node.properties : undefined;
  if (node.additionalProperties !== undefined) {
    if (node.additionalProperties === false) out.push(`${at}.additionalProperties: cannot be false (unknown fields are pruned instead)`);
    if (properties && Object.keys(properties).length) out.push(`${at}: additionalProperties and properties are mutually exclusive`);
    if (isObject(node.additionalProperties)) checkNode(node.additionalProperties, `${at}.additionalProperties`, out);
  }
  if (properties) for (const [name, child] of Object.entries(properties)) {
    if (isObject(child)) checkNode(child, `${at}.properties.${name}`, out);
    else out.push(`${at}.properties.${name}: not a schema`);
  }
  if (node.items !== undefined) {
    if (isObject(node.items)) checkNode(node.items, `${at}.items`, out);
    else out.push(`${at}.items: must be one schema, not a list`);
  }
  if (node.type === 'array' && node.items === undefined) out.push(`${at}.items: an array needs an item schema`);
  checkListType(node, at, out);

  for (const junctor of JUNCTORS) {
    const list = node[junctor];
    if (list === undefined) continue;
    if (!Array.isArray(list)) {
      out.push(`${at}.${junctor}: must be a list`);
      continue;
    }
    list.forEach((branch, i) => checkJunctorBranch(branch, node, `${at}.${junctor}[${i}]`, escapes && node['x-kubernetes-int-or-string'] === true, out));
  }
  if (node.not !== undefined) checkJunctorBranch(node.not, node, `${at}.not`, false, out);
}

function checkKeywords(node: Record<string, unknown>, at: string, out: string[]): void {
  for (const key of Object.keys(node)) {
    if (FORBIDDEN.includes(key)) out.push(`${at}.${key}: not supported in a CRD schema`);
    else if (!NODE_FIELDS.has(key)) out.push(`${at}.${key}: not a JSONSchemaProps field`);
  }
  if (node.uniqueItems === true) out.push(`${at}.uniqueItems: cannot be true (use x-kubernetes-list-type: set)`);
  for (const bound of ['exclusiveMinimum', 'exclusiveMaximum'] as const) {
    if (node[bound] === undefined) continue;
    if (typeof node[bound] !== 'boolean') out.push(`${at}.${bound}: must be a boolean in OpenAPI v3.0`);
    const pair = bound === 'exclusiveMinimum' ? 'minimum' : 'maximum';
    if (node[bound] === true && typeof node[pair] !== 'number') out.push(`${at}.${bound}: needs ${pair}`);
  }
  if (node['x-kubernetes-preserve-unknown-fields'] !== undefined && node['x-kubernetes-preserve-unknown-fields'] !== true) {
    out.push(`${at}.x-kubernetes-preserve-unknown-fields: must be true or absent`);
  }
  if (node.pattern !== undefined) {
    if (typeof node.pattern !== 'string') out.push(`${at}.pattern: not a string`);
    else {
      const re2 = re2SyntaxError(node.pattern);
      if (re2) out.push(`${at}.pattern: not RE2: ${re2}`);
      try {
        new RegExp(node.pattern, 'u');
      } catch (error) {
        out.push(`${at}.pattern: not a JavaScript (unicode) regular expression: ${(error as Error).message}`);
      }
    }
  }
  if (node.required !== undefined) {
    const properties = isObject(node.properties) ? node.properties : {};
    if (!Array.isArray(node.required)) out.push(`${at}.required: must be a list`);
    else for (const r of node.required) if (typeof r !== 'string' || (node.type === 'object' && !(r in properties))) out.push(`${at}.required: "${String(r)}" is not a declared property`);
  }
}

function checkListType(node: Record<string, unknown>, at: string, out: string[]): void {
  const listType = node['x-kubernetes-list-type'];
  if (listType === undefined) {
    if (node['x-kubernetes-list-map-keys'] !== undefined) out.push(`${at}.x-kubernetes-list-map-keys: needs x-kubernetes-list-type: map`);
    return;
  }
  if (node.type !== 'array') out.push(`${at}.x-kubernetes-list-type: only on arrays`);
  const items = isObject(node.items) ? node.items : {};
  if (listType === 'set' && !(SCALARS.has(items.type as string) || items['x-kubernetes-map-type'] === 'atomic')) {
    out.push(`${at}.x-kubernetes-list-type: a set needs scalar (or atomic) items`);
  }
  if (listType === 'set' && items.nullable === true) out.push(`${at}.items.nullable: set items cannot be nullable`);
  if (listType === 'map') {
    const keys = node['x-kubernetes-list-map-keys'];
    const itemProperties = isObject(items.properties) ? items.properties : {};
    const required = Array.isArray(items.required) ? items.required : [];
    if (!Array.isArray(keys) || keys.length === 0) out.push(`${at}.x-kubernetes-list-map-keys: required for a map list`);
    else for (const key of keys as string[]) {
      const property = itemProperties[key];
      if (!isObject(property) || !SCALARS.has(property.type as string)) out.push(`${at}.x-kubernetes-list-map-keys: "${key}" must be a scalar property of the items`);
      else if (!required.includes(key) && property.default === undefined) out.push(`${at}.x-kubernetes-list-map-keys: "${key}" must be required or defaulted`);
    }
  }
  if (!['atomic', 'set', 'map'].includes(listType as string)) out.push(`${at}.x-kubernetes-list-type: ${JSON.stringify(listType)} is not atomic, set or map`);
}

/** A junctor branch holds value validations only, on fields its outer schema declares. */
function checkJunctorBranch(branch: unknown, outer: Record<string, unknown>, at: string, intOrString: boolean, out: string[]): void {
  if (!isObject(branch)) {
    out.push(`${at}: not a schema`);
    return;
  }
  for (const key of Object.keys(branch)) {
    if (FORBIDDEN.includes(key)) out.push(`${at}.${key}: not supported in a CRD schema`);
    else if (!NODE_FIELDS.has(key)) out.push(`${at}.${key}: not a JSONSchemaProps field`);
    // The one exception: {x-kubernetes-int-or-string: true, anyOf: [{type: integer}, {type: string}]}.
    if (key === 'type' && intOrString && (branch.type === 'integer' || branch.type === 'string')) continue;
    if (NOT_IN_JUNCTORS.includes(key)) out.push(`${at}.${key}: not allowed inside allOf/anyOf/oneOf/not`);
    if (key.startsWith('x-kubernetes-')) out.push(`${at}.${key}: not allowed inside allOf/anyOf/oneOf/not`);
  }
  const outerProperties = isObject(outer.properties) ? outer.properties : {};
  if (isObject(branch.properties)) {
    for (const [name, sub] of Object.entries(branch.properties)) {
      const declared = outerProperties[name];
      if (!isObject(declared)) out.push(`${at}.properties.${name}: not declared outside the junctor`);
      else checkJunctorBranch(sub, declared, `${at}.properties.${name}`, false, out);
    }
  }
  if (Array.isArray(branch.required)) {
    for (const name of branch.required) if (!isObject(outerProperties[name as string])) out.push(`${at}.required: "${String(name)}" is not declared outside the junctor`);
  }
  if (branch.items !== undefined) {
    if (!isObject(outer.items)) out.push(`${at}.items: not declared outside the junctor`);
    else checkJunctorBranch(branch.items, outer.items, `${at}.items`, false, out);
  }
  for (const junctor of JUNCTORS) {
    const list = branch[junctor];
    if (Array.isArray(list)) list.forEach((nested, i) => checkJunctorBranch(nested, outer, `${at}.${junctor}[${i}]`, false, out));
  }
  if (branch.not !== undefined) checkJunctorBranch(branch.not, outer, `${at}.not`, false, out);
  if (branch.pattern !== undefined) checkKeywords({ pattern: branch.pattern }, at, out);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
