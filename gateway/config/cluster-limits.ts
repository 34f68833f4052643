/**
 * A cluster's circuit breakers and outlier detection, decoded for the
 * runtime: wrappers unwrapped, durations in ms, absent fields left absent
 * so the runtime applies Envoy's defaults (DEFAULT_THRESHOLDS,
 * OUTLIER_DEFAULTS). Pure.
 */
import type { OutlierDetectionInput } from '../lb/index.js';
import type { CircuitBreakerThresholds, RetryBudget } from '../resilience/index.js';
import { isObject, objectsIn } from '../xds/resources.js';
import { durationMs, wrappedBool, wrappedNumber } from './values.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function put<T, K extends keyof T>(target: Mutable<T>, key: K, value: T[K] | undefined): void {
  if (value !== undefined) target[key] = value;
}

/**
 * `circuit_breakers.thresholds`: the DEFAULT-priority entry (priority is
 * enum value 0, so absent means DEFAULT). The runtime has no HIGH-priority
 * traffic, so HIGH thresholds are not used.
 */
export function compileCircuitBreakers(circuitBreakers: unknown): CircuitBreakerThresholds {
  const thresholds = isObject(circuitBreakers) ? objectsIn(circuitBreakers.thresholds) : [];
  const entry = thresholds.find((t) => t.priority === undefined || t.priority === 'DEFAULT');
  if (!entry) return {};
  const out: Mutable<CircuitBreakerThresholds> = {};
  put(out, 'maxConnections', wrappedNumber(entry.max_connections));
  put(out, 'maxPendingRequests', wrappedNumber(entry.max_pending_requests));
  put(out, 'maxRequests', wrappedNumber(entry.max_requests));
  put(out, 'maxRetries', wrappedNumber(entry.max_retries));
  if (isObject(entry.retry_budget)) {
    // Set at all, even empty, a retry budget replaces max_retries (Envoy).
    const budget: Mutable<RetryBudget> = {};
    put(budget, 'budgetPercent', wrappedNumber(entry.retry_budget.budget_percent));
    put(budget, 'minRetryConcurrency', wrappedNumber(entry.retry_budget.min_retry_concurrency));
    out.retryBudget = budget;
  }
  return out;
}

/**
 * `outlier_detection`, or undefined when the cluster has none (Envoy then
 * detects nothing). The success-rate and failure-percentage detectors are
 * not implemented by the runtime and are not carried over. Throws a
 * ConfigProblem for a malformed duration.
 */
export function compileOutlierDetection(outlier: unknown): OutlierDetectionInput | undefined {
  if (!isObject(outlier)) return undefined;
  const out: Mutable<OutlierDetectionInput> = {};
  put(out, 'consecutive5xx', wrappedNumber(outlier.consecutive_5xx));
  put(out, 'enforcingConsecutive5xx', wrappedNumber(outlier.enforcing_consecutive_5xx));
  put(out, 'consecutiveGatewayFailure', wrappedNumber(outlier.consecutive_gateway_failure));
  put(out, 'enforcingConsecutiveGatewayFailure', wrappedNumber(outlier.enforcing_consecutive_gateway_failure));
  put(out, 'splitExternalLocalOriginErrors', typeof outlier.split_external_local_origin_errors === 'boolean' ? outlier.split_external_local_origin_errors : undefined);
  put(out, 'consecutiveLocalOriginFailure', wrappedNumber(outlier.consecutive_local_origin_failure));
  put(out, 'enforcingConsecutiveLocalOriginFailure', wrappedNumber(outlier.enforcing_consecutive_local_origin_failure));
  put(out, 'intervalMs', durationMs(outlier.interval, 'outlier_detection.interval'));
  put(out, 'baseEjectionTimeMs', durationMs(outlier.base_ejection_time, 'outlier_detection.base_ejection_time'));
  put(out, 'maxEjectionTimeMs', durationMs(outlier.max_ejection_time, 'outlier_detection.max_ejection_time'));
  put(out, 'maxEjectionPercent', wrappedNumber(outlier.max_ejection_percent));
  put(out, 'alwaysEjectOneHost', wrappedBool(outlier.always_eject_one_host));
  return out;
}
