import { Type, type Static } from '@sinclair/typebox';
import { Duration, Strict, TargetRef } from '../common.js';
import { requirePositiveDuration, type ValidationIssue } from './issues.js';

export const TimeoutSpec = Strict({
  targetRef: TargetRef,
  connect: Type.Optional(Duration('TCP + TLS connection establishment.')),
  request: Type.Optional(Duration('Whole request, including retries.')),
  idle: Type.Optional(Duration('Connection or stream with no activity.')),
});
export type TimeoutSpec = Static<typeof TimeoutSpec>;

export function checkTimeout(spec: TimeoutSpec): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  if (spec.connect === undefined && spec.request === undefined && spec.idle === undefined) {
    issues.push({ path: '/spec', message: 'set at least one of connect, request, idle' });
  }
  requirePositiveDuration(issues, '/spec/connect', spec.connect);
  requirePositiveDuration(issues, '/spec/request', spec.request);
  requirePositiveDuration(issues, '/spec/idle', spec.idle);
  return issues;
}
