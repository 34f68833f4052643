import protobuf from 'protobufjs';
import { decodeResource, encodeResource, envoyRoot, type ResourceObject } from '../../../core/xds/protos.js';

/**
 * What encodeResource cannot see: protobufjs' fromObject silently drops
 * unknown or misspelt fields and unknown enum names, keeps two members of a
 * oneof (the receiver then sees only one), and ignores the
 * protoc-gen-validate rules Envoy enforces (a NACK at the proxy). Returns
 * every problem found, as `path: problem`; empty when the resource is sound.
 * For tests and debugging: it walks the whole object.
 */
export function protoProblems(typeUrl: string, object: ResourceObject): string[] {
  const type = envoyRoot().lookupType(typeUrl.slice(typeUrl.lastIndexOf('/') + 1));
  const problems: string[] = [];
  let decoded: unknown;
  try {
    decoded = decodeResource(encodeResource(typeUrl, object));
  } catch (error) {
    return [`(root): does not encode: ${(error as Error).message}`];
  }
  checkMessage(type, object, decoded, '', problems);
  return problems;
}

type Rules = Record<string, Record<string, unknown>>;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkMessage(type: protobuf.Type, value: unknown, decoded: unknown, path: string, problems: string[]): void {
  if (!isObject(value)) {
    problems.push(`${path || '(root)'}: expected a ${type.name} object`);
    return;
  }
  const got = isObject(decoded) ? decoded : {};
  if (type.fullName === '.google.protobuf.Any') {
    const inner = typeof value['@type'] === 'string' ? lookupAny(value['@type']) : undefined;
    if (!inner) problems.push(`${path}: Any with unknown @type ${String(value['@type'])}`);
    else if (got['@type'] !== value['@type']) problems.push(`${path}: @type lost`);
    else checkMessage(inner, withoutType(value), withoutType(got), path, problems);
    return;
  }
  for (const [key, fieldValue] of Object.entries(value)) {
    if (fieldValue === undefined) continue;
    const field = type.fields[key];
    if (!field) problems.push(`${path}/${key}: ${type.name} has no field "${key}"`);
    else checkField(field, fieldValue, got[key], `${path}/${key}`, problems);
  }
  for (const oneof of type.oneofsArray) {
    const set = oneof.fieldsArray.filter((f) => value[f.name] !== undefined);
    if (set.length > 1) problems.push(`${path}: oneof ${oneof.name} has ${set.map((f) => f.name).join(' and ')}`);
    if (set.length === 0 && optionsOf(oneof)['(validate.required)'] === true) problems.push(`${path}: oneof ${oneof.name} is required`);
  }
  for (const field of type.fieldsArray) {
    const rules = optionsOf(field)['(validate.rules)'] as Rules | undefined;
    if (rules) checkRules(field, rules, value[field.name], `${path}/${field.name}`, problems);
  }
}

function checkField(field: protobuf.Field, value: unknown, decoded: unknown, path: string, problems: string[]): void {
  if (field.map) {
    if (!isObject(value)) return void problems.push(`${path}: expected a map`);
    if (Object.keys(value).length && !isObject(decoded)) return void problems.push(`${path}: dropped`);
    for (const [k, v] of Object.entries(value)) checkSingle(field, v, (decoded as Record<string, unknown> | undefined)?.[k], `${path}/${k}`, problems);
    return;
  }
  if (field.repeated) {
    if (!Array.isArray(value)) return void problems.push(`${path}: expected a list`);
    const got = Array.isArray(decoded) ? decoded : [];
    if (got.length !== value.length) problems.push(`${path}: ${value.length} items set, ${got.length} survive`);
    value.forEach((v, i) => checkSingle(field, v, got[i], `${path}/${i}`, problems));
    return;
  }
  checkSingle(field, value, decoded, path, problems);
}

function checkSingle(field: protobuf.Field, value: unknown, decoded: unknown, path: string, problems: string[]): void {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) {
    if (decoded === undefined) problems.push(`${path}: dropped`);
    checkMessage(resolved, value, decoded, path, problems);
  } else if (resolved instanceof protobuf.Enum) {
    if (typeof value !== 'string' || !(value in resolved.values)) problems.push(`${path}: "${String(value)}" is not a ${resolved.name}`);
    else if (decoded !== value && !(decoded === undefined && resolved.values[value] === 0)) problems.push(`${path}: "${value}" came back as ${String(decoded)}`);
  } else if (field.type !== 'bytes' && String(value) !== String(decoded)) {
    problems.push(`${path}: ${JSON.stringify(value)} came back as ${JSON.stringify(decoded)}`);
  }
}

/** The subset of protoc-gen-validate Envoy's resources use that generation could break. */
function checkRules(field: protobuf.Field, rules: Rules, value: unknown, path: string, problems: string[]): void {
  const fail = (what: string) => problems.push(`${path}: violates ${what}`);
  const rule = (group: string, name: string) => rules[group]?.[name];
  if (value === undefined) {
    // A oneof member's rules apply only when it is the member set.
    if (field.partOf) return;
    if (rule('message', 'required') === true || rule('duration', 'required') === true) fail('required');
    if (typeof rule('repeated', 'min_items') === 'number' && (rule('repeated', 'min_items') as number) > 0) fail('repeated.min_items');
    if (typeof rule('map', 'min_pairs') === 'number' && (rule('map', 'min_pairs') as number) > 0) fail('map.min_pairs');
    return;
  }
  if (rules.repeated) {
    const items = value as unknown[];
    if (typeof rules.repeated.min_items === 'number' && items.length < rules.repeated.min_items) fail('repeated.min_items');
    if (typeof rules.repeated.max_items === 'number' && items.length > rules.repeated.max_items) fail('repeated.max_items');
    const itemRules = rules.repeated.items as Rules | undefined;
    if (itemRules) items.forEach((item, i) => checkRules(field, itemRules, item, `${path}/${i}`, problems));
    return;
  }
  if (rules.map) {
    if (typeof rules.map.min_pairs === 'number' && Object.keys(value as object).length < rules.map.min_pairs) fail('map.min_pairs');
    return;
  }
  if (rules.string && typeof value === 'string') {
    const bytes = Buffer.byteLength(value);
    const s = rules.string;
    if (typeof s.min_len === 'number' && [...value].length < s.min_len) fail('string.min_len');
    if (typeof s.max_len === 'number' && [...value].length > s.max_len) fail('string.max_len');
    if (typeof s.min_bytes === 'number' && bytes < s.min_bytes) fail('string.min_bytes');
    if (typeof s.max_bytes === 'number' && bytes > s.max_bytes) fail('string.max_bytes');
    if (s.well_known_regex !== undefined && /[\0\r\n]/.test(value)) fail('string.well_known_regex');
  }
  if (rules.duration && isObject(value)) {
    const ns = durationNs(value)!;
    const [gt, gte, lt, lte] = ['gt', 'gte', 'lt', 'lte'].map((bound) => durationNs(rules.duration![bound]));
    if ((gt !== undefined && !(ns > gt)) || (gte !== undefined && !(ns >= gte)) || (lt !== undefined && !(ns < lt)) || (lte !== undefined && !(ns <= lte))) fail('duration bounds');
  }
  if (rules.enum && typeof value === 'string' && field.resolvedType instanceof protobuf.Enum) {
    const number = field.resolvedType.values[value];
    if (Array.isArray(rules.enum.not_in) && (rules.enum.not_in as number[]).includes(number!)) fail('enum.not_in');
  }
  for (const numeric of ['uint32', 'int32', 'uint64', 'int64', 'double', 'float']) {
    const bounds = rules[numeric];
    if (!bounds) continue;
    // On a wrapper (UInt32Value, …) PGV checks the wrapped value.
    const n = Number(isObject(value) ? value.value ?? 0 : value);
    if ((bounds.gt !== undefined && !(n > Number(bounds.gt))) || (bounds.gte !== undefined && !(n >= Number(bounds.gte))) || (bounds.lt !== undefined && !(n < Number(bounds.lt))) || (bounds.lte !== undefined && !(n <= Number(bounds.lte)))) {
      fail(`${numeric} bounds ${JSON.stringify(bounds)}`);
    }
  }
}

/** protobufjs keeps options both flat and parsed; the parsed form holds nested rule objects. */
function optionsOf(reflection: protobuf.ReflectionObject): Record<string, unknown> {
  const merged: Record<string, unknown> = {};
  for (const parsed of (reflection.parsedOptions as Record<string, unknown>[] | undefined) ?? []) Object.assign(merged, parsed);
  return merged;
}

function lookupAny(typeUrl: string): protobuf.Type | undefined {
  try {
    return envoyRoot().lookupType(typeUrl.slice(typeUrl.lastIndexOf('/') + 1));
  } catch {
    return undefined;
  }
}

const durationNs = (d: unknown) => (isObject(d) ? Number(d.seconds ?? 0) * 1e9 + Number(d.nanos ?? 0) : undefined);

const withoutType = (v: Record<string, unknown>) => Object.fromEntries(Object.entries(v).filter(([k]) => k !== '@type'));
