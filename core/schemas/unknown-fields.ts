import type { TSchema } from '@sinclair/typebox';
import type { TypeCheck } from '@sinclair/typebox/compiler';
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';

/**
 * Whether `value` passes `check` but for fields the schema does not know.
 * What one meshfed process reads from another may come from a newer version
 * that added fields; during a rolling upgrade the reader ignores them, as a
 * protobuf reader would, instead of refusing the whole value. Anything else
 * wrong still fails.
 */
export function passesIgnoringUnknownFields(check: TypeCheck<TSchema>, value: unknown): boolean {
  if (check.Check(value)) return true;
  for (const error of check.Errors(value)) if (error.type !== ValueErrorType.ObjectAdditionalProperties) return false;
  return true;
}

/** The first error of `value`; unknown fields skipped unless `unknownFieldsCount`. */
export function firstError(check: TypeCheck<TSchema>, value: unknown, unknownFieldsCount = false): ValueError | undefined {
  for (const error of check.Errors(value)) {
    if (unknownFieldsCount || error.type !== ValueErrorType.ObjectAdditionalProperties) return error;
  }
  return undefined;
}
