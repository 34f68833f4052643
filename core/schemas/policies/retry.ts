import { Type, type Static } from '@sinclair/typebox';
import { Duration, Strict, TargetRef } from '../common.js';
import { requirePositiveDuration, type ValidationIssue } from './issues.js';

// Envoy's HTTP retry conditions plus gRPC status names (the ones proxyless gRPC honours).
export const RETRY_ON = [
  '5xx', 'gateway-error', 'reset', 'connect-failure', 'retriable-4xx', 'refused-stream', 'retriable-status-codes',
  'cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable',
] as const;

export const RetrySpec = Strict({
  targetRef: TargetRef,
  attempts: Type.Integer({ minimum: 1, maximum: 10, description: 'Retries after the first try.' }),
  perTryTimeout: Type.Optional(Duration('Timeout of each try.')),
  retryOn: Type.Array(Type.Union(RETRY_ON.map((c) => Type.Literal(c))), { minItems: 1, uniqueItems: true }),
  retriableStatusCodes: Type.Optional(Type.Array(Type.Integer({ minimum: 100, maximum: 599 }), { uniqueItems: true, maxItems: 64 })),
  backoff: Type.Optional(
    Strict(
      { baseInterval: Duration('First back-off interval.'), maxInterval: Type.Optional(Duration('Cap; default 10 × baseInterval.')) },
      'Exponential back-off with full jitter between tries.',
    ),
  ),
  budget: Type.Optional(
    Strict(
      {
        percent: Type.Number({ exclusiveMinimum: 0, maximum: 100, description: 'Active retries as a percent of active requests.' }),
        minRetryConcurrency: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000 })),
      },
      'Caps concurrent retries so retries cannot amplify an overload.',
    ),
  ),
});
export type RetrySpec = Static<typeof RetrySpec>;

export function checkRetry(spec: RetrySpec): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  requirePositiveDuration(issues, '/spec/perTryTimeout', spec.perTryTimeout);
  const base = requirePositiveDuration(issues, '/spec/backoff/baseInterval', spec.backoff?.baseInterval);
  const max = requirePositiveDuration(issues, '/spec/backoff/maxInterval', spec.backoff?.maxInterval);
  if (base !== undefined && max !== undefined && base > 0 && max > 0 && max < base) {
    issues.push({ path: '/spec/backoff/maxInterval', message: 'must not be shorter than baseInterval' });
  }
  const wantsCodes = spec.retryOn.includes('retriable-status-codes');
  if (wantsCodes && !spec.retriableStatusCodes?.length) {
    issues.push({ path: '/spec/retriableStatusCodes', message: 'required when retryOn has retriable-status-codes' });
  }
  if (!wantsCodes && spec.retriableStatusCodes?.length) {
    issues.push({ path: '/spec/retriableStatusCodes', message: 'only used when retryOn has retriable-status-codes' });
  }
  return issues;
}
