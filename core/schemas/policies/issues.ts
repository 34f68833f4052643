import { parseDurationMs } from '../../duration.js';

/** One semantic problem found in a document, at a JSON pointer. */
export interface ValidationIssue {
  path: string;
  message: string;
}

/** What semantic checks may consult beyond the document itself. */
export interface PolicyContext {
  tenant: string;
  trustDomain: string;
  /** Regions of the zones registered in the federation. */
  knownRegions: ReadonlySet<string>;
}

/** Adds an issue unless the duration at `path` is present and strictly positive. */
export function requirePositiveDuration(issues: ValidationIssue[], path: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseDurationMs(value);
  if (ms === undefined) issues.push({ path, message: `"${value}" is not a duration like 250ms, 5s or 1m30s` });
  else if (ms <= 0) issues.push({ path, message: 'must be greater than zero' });
  return ms;
}

/** targetRef: a Service needs its name and namespace; the whole Tenant takes neither. */
export function checkTargetRef(targetRef: { kind: string; name?: string; namespace?: string }): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  if (targetRef.kind === 'Service') {
    if (targetRef.name === undefined) issues.push({ path: '/spec/targetRef/name', message: 'is required when kind is Service' });
    if (targetRef.namespace === undefined) issues.push({ path: '/spec/targetRef/namespace', message: 'is required when kind is Service' });
  } else {
    if (targetRef.name !== undefined) issues.push({ path: '/spec/targetRef/name', message: 'must be absent when kind is Tenant' });
    if (targetRef.namespace !== undefined) issues.push({ path: '/spec/targetRef/namespace', message: 'must be absent when kind is Tenant' });
  }
  return issues;
}

/** Adds an issue unless exactly one of `keys` is set on `value`. */
export function requireExactlyOne(issues: ValidationIssue[], path: string, value: object, keys: readonly string[]): void {
  const set = keys.filter((k) => (value as Record<string, unknown>)[k] !== undefined);
  if (set.length !== 1) issues.push({ path, message: `set exactly one of ${keys.join(', ')}${set.length ? ` (got ${set.join(', ')})` : ''}` });
}
