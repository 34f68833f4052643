/**
 * Protobuf well-known values as `decodeResource` hands them over (protobufjs
 * `toObject` with `longs: String`, `defaults: false`, `oneofs: true`) and as
 * the zone CP's generators write them: wrappers as `{ value }`, Durations as
 * `{ seconds, nanos }` with seconds a string or a number, Structs as
 * `{ fields: { k: { boolValue | stringValue | … } } }`. Pure.
 *
 * `defaults: false` drops zero values, also inside wrappers: a UInt32Value
 * of 0 decodes as `{}` and a BoolValue of false as `{}`. A wrapper that is
 * present but empty therefore means the zero value, not "unset".
 */
import { isObject } from '../xds/resources.js';
import { fail } from './problems.js';

/** A number, or a decimal string (int64/uint64 fields arrive as strings). */
export function numberOf(value: unknown): number | undefined {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
}

/** A UInt32Value/UInt64Value/DoubleValue/Percent: undefined when absent, 0 when present but empty. A bare number is accepted too. */
export function wrappedNumber(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (isObject(value)) return value.value === undefined ? 0 : numberOf(value.value);
  return numberOf(value);
}

/** A BoolValue: undefined when absent, false when present but empty. A bare boolean is accepted too. */
export function wrappedBool(value: unknown): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (isObject(value)) return value.value === true;
  return typeof value === 'boolean' ? value : undefined;
}

/**
 * A google.protobuf.Duration in whole milliseconds (truncated, as Envoy's
 * DurationUtil does), or undefined when absent. Accepts the JSON form
 * `"1.5s"` too. A malformed or negative duration is a problem: Envoy's
 * validation rejects negative durations wherever meshfed reads one.
 */
export function durationMs(value: unknown, field: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  let ms: number | undefined;
  if (typeof value === 'string') {
    const match = /^(-?\d+(?:\.\d+)?)s$/.exec(value.trim());
    ms = match ? Math.trunc(Number(match[1]) * 1000) : undefined;
  } else if (isObject(value)) {
    const seconds = numberOf(value.seconds ?? 0);
    const nanos = numberOf(value.nanos ?? 0);
    ms = seconds === undefined || nanos === undefined ? undefined : seconds * 1000 + Math.trunc(nanos / 1e6);
  }
  if (ms === undefined || Number.isNaN(ms)) fail(`${field}: not a duration`);
  if (ms < 0) fail(`${field}: negative duration`);
  return ms;
}

/**
 * A google.protobuf.Struct as plain JSON. protobufjs leaves Structs in
 * their message form (`{ fields: { k: { stringValue, kind } } }`); the
 * runtime wants `{ k: 'v' }`. An object that is not in Struct form is
 * taken to be plain JSON already.
 */
export function structToJson(struct: unknown): Record<string, unknown> {
  if (!isObject(struct)) return {};
  if (!('fields' in struct) && Object.keys(struct).length > 0) return struct;
  const fields = isObject(struct.fields) ? struct.fields : {};
  return Object.fromEntries(Object.entries(fields).map(([key, value]) => [key, valueToJson(value)]));
}

/** A google.protobuf.Value as plain JSON (its `kind` oneof marker ignored). */
export function valueToJson(value: unknown): unknown {
  if (!isObject(value)) return value;
  if ('nullValue' in value) return null;
  if ('numberValue' in value) return numberOf(value.numberValue) ?? null;
  if ('stringValue' in value) return value.stringValue;
  if ('boolValue' in value) return value.boolValue === true;
  if ('structValue' in value) return structToJson(value.structValue);
  if ('listValue' in value) {
    const list = isObject(value.listValue) && Array.isArray(value.listValue.values) ? value.listValue.values : [];
    return list.map(valueToJson);
  }
  // An empty Value: `kind` unset, or a zero value that `defaults: false` dropped.
  return typeof value.kind === 'string' ? zeroOfKind(value.kind) : null;
}

function zeroOfKind(kind: string): unknown {
  switch (kind) {
    case 'numberValue':
      return 0;
    case 'stringValue':
      return '';
    case 'boolValue':
      return false;
    case 'structValue':
      return {};
    case 'listValue':
      return [];
    default:
      return null;
  }
}

/** The `@type` of an Any (a `typed_config`), or '' when there is none. */
export function typeUrlOf(any: unknown): string {
  return isObject(any) && typeof any['@type'] === 'string' ? any['@type'] : '';
}

/**
 * Whether a field is set: a message counts even when empty (`auto_config: {}`
 * chooses something), a list only when it has items, a scalar unless it is
 * its zero value (the decoder drops zero values; generators may not).
 */
export function isSet(value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === '' || value === 0) return false;
  if (Array.isArray(value)) return value.length > 0;
  return true;
}

/** Whether a map field has entries (`typed_per_filter_config`). */
export function hasEntries(value: unknown): boolean {
  return isObject(value) && Object.keys(value).length > 0;
}

/** The fields among `names` that are set, for "unsupported X" problems. */
export function setFields(object: Record<string, unknown>, names: readonly string[]): string[] {
  return names.filter((name) => isSet(object[name]));
}
