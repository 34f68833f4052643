import { Type, type Static } from '@sinclair/typebox';
import { Duration, Strict, TargetRef } from '../common.js';
import { requirePositiveDuration, type ValidationIssue } from './issues.js';

const Count = (description: string) => Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000_000, description }));

export const CircuitBreakerSpec = Strict({
  targetRef: TargetRef,
  thresholds: Type.Optional(
    Strict(
      {
        maxConnections: Count('Open connections to the service (bulkhead).'),
        maxPendingRequests: Count('Requests waiting for a connection.'),
        maxRequests: Count('Concurrent requests.'),
        maxRetries: Count('Concurrent retries.'),
      },
      'Excess is rejected fast with 503.',
    ),
  ),
  outlierDetection: Type.Optional(
    Strict(
      {
        consecutive5xx: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
        consecutiveGatewayErrors: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
        consecutiveConnectFailures: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
        interval: Type.Optional(Duration('How often ejections are evaluated.')),
        baseEjectionTime: Type.Optional(Duration('Ejection time; grows with each ejection of the same endpoint.')),
        maxEjectionTime: Type.Optional(Duration('Cap on the growing ejection time.')),
        maxEjectionPercent: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
      },
      'Ejects endpoints that keep failing.',
    ),
  ),
});
export type CircuitBreakerSpec = Static<typeof CircuitBreakerSpec>;

export function checkCircuitBreaker(spec: CircuitBreakerSpec): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  if (!spec.thresholds && !spec.outlierDetection) {
    issues.push({ path: '/spec', message: 'set thresholds, outlierDetection or both' });
  }
  if (spec.thresholds && Object.keys(spec.thresholds).length === 0) {
    issues.push({ path: '/spec/thresholds', message: 'set at least one of maxConnections, maxPendingRequests, maxRequests, maxRetries' });
  }
  const od = spec.outlierDetection;
  requirePositiveDuration(issues, '/spec/outlierDetection/interval', od?.interval);
  const base = requirePositiveDuration(issues, '/spec/outlierDetection/baseEjectionTime', od?.baseEjectionTime);
  const max = requirePositiveDuration(issues, '/spec/outlierDetection/maxEjectionTime', od?.maxEjectionTime);
  if (base !== undefined && max !== undefined && base > 0 && max > 0 && max < base) {
    issues.push({ path: '/spec/outlierDetection/maxEjectionTime', message: 'must not be shorter than baseEjectionTime' });
  }
  return issues;
}
