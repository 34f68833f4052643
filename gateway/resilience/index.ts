/** Retries, timeouts and circuit breaking for the gateway: what other folders may use. */
export { CircuitBreaker, DEFAULT_THRESHOLDS, type Admission, type BreakerResource, type CircuitBreakerThresholds, type RetryBudget } from './circuit-breaker.js';
export {
  backoffMs,
  budgetAllows,
  DEFAULT_BACKOFF_BASE_MS,
  grpcStatusOf,
  parseRetryOn,
  retryBudgetLimit,
  shouldRetry,
  type AttemptOutcome,
  type RetryConditions,
  type RetryOn,
} from './retry.js';
export { attemptTimeoutMs, DEFAULT_ROUTE_TIMEOUT_MS, requestDeadline, retryStartsInTime, type RouteTimeouts } from './timeouts.js';
