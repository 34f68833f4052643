import { Ajv, type ValidateFunction } from 'ajv';

/**
 * Validates custom resources against a CRD's openAPIV3Schema the way the API
 * server does, as far as JSON Schema can: ajv on the schema translated from
 * OpenAPI 3.0 (boolean exclusive bounds, nullable, list-type set = unique
 * items), plus the fields the API server would prune because the schema
 * does not declare them.
 */
export function crdDocumentValidator(openAPIV3Schema: unknown): (doc: unknown) => string[] {
  const validate: ValidateFunction = ajv.compile(toJsonSchema(openAPIV3Schema) as object);
  return (doc) => {
    if (validate(doc)) return [];
    return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? e.keyword}`);
  };
}

const ajv = new Ajv({
  allErrors: true,
  strict: true,
  strictTypes: false,
  // anyOf branches name required fields declared outside them: structural schemas are written that way.
  strictRequired: false,
  // The one format meshfed's CRDs use (status conditions): RFC 3339.
  formats: { 'date-time': /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i },
});

/** OpenAPI 3.0 + Kubernetes extensions → JSON Schema draft 7, for ajv. */
function toJsonSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (!isObject(node)) return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'properties' && isObject(value)) out.properties = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJsonSchema(v)]));
    else if (key === 'exclusiveMinimum' || key === 'exclusiveMaximum' || key === 'nullable') continue;
    else if (key.startsWith('x-kubernetes-')) continue;
    else out[key] = toJsonSchema(value);
  }
  if (node.exclusiveMinimum === true) {
    out.exclusiveMinimum = node.minimum;
    delete out.minimum;
  }
  if (node.exclusiveMaximum === true) {
    out.exclusiveMaximum = node.maximum;
    delete out.maximum;
  }
  if (node.nullable === true && typeof node.type === 'string') out.type = [node.type, 'null'];
  if (node['x-kubernetes-list-type'] === 'set') out.uniqueItems = true;
  return out;
}

/**
 * Paths of the fields in `value` that the schema does not declare: the API
 * server drops them (or, under strict field validation, refuses the object).
 */
export function undeclaredFields(schema: unknown, value: unknown, path = ''): string[] {
  if (!isObject(schema) || schema['x-kubernetes-preserve-unknown-fields'] === true) return [];
  if (Array.isArray(value)) return value.flatMap((item, i) => undeclaredFields(schema.items, item, `${path}/${i}`));
  if (!isObject(value)) return [];
  const properties = isObject(schema.properties) ? schema.properties : undefined;
  return Object.entries(value).flatMap(([key, child]) => {
    if (properties) return key in properties ? undeclaredFields(properties[key], child, `${path}/${key}`) : [`${path}/${key}`];
    if (isObject(schema.additionalProperties)) return undeclaredFields(schema.additionalProperties, child, `${path}/${key}`);
    return schema.type === 'object' ? [`${path}/${key}`] : [];
  });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
