/**
 * Retry decisions, as Envoy's router makes them: whether an attempt's
 * outcome is retriable under a route's `retry_on`, how long to back off
 * before the next attempt, and whether the cluster's retry budget has room.
 * Pure; randomness is passed in.
 */

/** Envoy `retry_on` values the gateway honours: HTTP conditions and gRPC status names. */
export const RETRY_ON = [
  '5xx', 'gateway-error', 'reset', 'connect-failure', 'retriable-4xx', 'refused-stream', 'retriable-status-codes',
  'cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable',
] as const;
export type RetryOn = (typeof RETRY_ON)[number];

/** gRPC status codes of the retriable gRPC status names. */
export const GRPC_RETRY_STATUS: Readonly<Record<'cancelled' | 'deadline-exceeded' | 'internal' | 'resource-exhausted' | 'unavailable', number>> = {
  cancelled: 1,
  'deadline-exceeded': 4,
  'resource-exhausted': 8,
  internal: 13,
  unavailable: 14,
};

export interface RetryConditions {
  readonly on: ReadonlySet<RetryOn>;
  /** `retriable_status_codes`; used only with `retriable-status-codes`. */
  readonly statusCodes: ReadonlySet<number>;
  /** Values that are not conditions the gateway knows; ignored (Envoy ignores them too), returned to be logged. */
  readonly unknown: readonly string[];
}

/** `retry_on` as Envoy gets it (comma separated) or as a list, plus `retriable_status_codes`. */
export function parseRetryOn(retryOn: string | readonly string[], retriableStatusCodes: readonly number[] = []): RetryConditions {
  const values = (typeof retryOn === 'string' ? retryOn.split(',') : retryOn).map((v) => v.trim()).filter((v) => v.length > 0);
  const known = new Set<string>(RETRY_ON);
  return {
    on: new Set(values.filter((v): v is RetryOn => known.has(v))),
    statusCodes: new Set(retriableStatusCodes),
    unknown: values.filter((v) => !known.has(v)),
  };
}

/** How an attempt ended. */
export type AttemptOutcome =
  /** Response headers arrived. `grpcStatus` from a `grpc-status` header (trailers-only responses). */
  | { readonly kind: 'response'; readonly status: number; readonly grpcStatus?: number }
  /** No connection: refused, connect timeout, TLS handshake failure. */
  | { readonly kind: 'connect-failure' }
  /** The upstream reset the stream with REFUSED_STREAM: it did not process the request. */
  | { readonly kind: 'refused-stream' }
  /** Disconnect or reset before response headers. */
  | { readonly kind: 'reset' }
  /** No response headers within per_try_timeout. */
  | { readonly kind: 'per-try-timeout' };

/**
 * Whether the outcome is retriable under `conditions` (Envoy's
 * RetryStateImpl): 5xx = any 5xx response or no response at all (connect
 * failure, refused stream, reset, per-try timeout); gateway-error = 502,
 * 503, 504 or no response at all; reset = no response; connect-failure,
 * refused-stream = just those; retriable-4xx = 409;
 * retriable-status-codes = the listed codes; gRPC names = that grpc-status.
 */
export function shouldRetry(conditions: RetryConditions, outcome: AttemptOutcome): boolean {
  const on = conditions.on;
  if (outcome.kind !== 'response') {
    if (on.has('5xx') || on.has('gateway-error') || on.has('reset')) return true;
    if (outcome.kind === 'connect-failure') return on.has('connect-failure');
    if (outcome.kind === 'refused-stream') return on.has('refused-stream');
    return false;
  }
  const { status, grpcStatus } = outcome;
  if (on.has('5xx') && status >= 500 && status <= 599) return true;
  if (on.has('gateway-error') && (status === 502 || status === 503 || status === 504)) return true;
  if (on.has('retriable-4xx') && status === 409) return true;
  if (on.has('retriable-status-codes') && conditions.statusCodes.has(status)) return true;
  if (grpcStatus !== undefined) {
    for (const [name, code] of Object.entries(GRPC_RETRY_STATUS)) {
      if (code === grpcStatus && on.has(name as RetryOn)) return true;
    }
  }
  return false;
}

/** A `grpc-status` header value as a number; undefined when absent or not a status. */
export function grpcStatusOf(header: string | readonly string[] | undefined): number | undefined {
  const value: string | undefined = typeof header === 'string' || header === undefined ? header : header[0];
  if (typeof value !== 'string' || !/^\d{1,2}$/.test(value.trim())) return undefined;
  const code = Number(value.trim());
  return code <= 16 ? code : undefined;
}

/** Envoy's default retry back-off base interval. */
export const DEFAULT_BACKOFF_BASE_MS = 25;

/**
 * Full-jitter exponential back-off before retry number `attempt` (0 for
 * the first retry): uniform in [0, min(base × 2^attempt, max)), whole ms —
 * Envoy's JitteredExponentialBackOffStrategy (first retry [0, base), then
 * [0, 2·base), …). `max` defaults to 10 × base, as in Envoy. `random` ∈ [0, 1).
 */
export function backoffMs(attempt: number, baseMs = DEFAULT_BACKOFF_BASE_MS, maxMs = 10 * baseMs, random: number = Math.random()): number {
  const base = Math.max(1, baseMs);
  const max = Math.max(base, maxMs);
  const ceiling = Math.min(base * 2 ** Math.max(0, Math.floor(attempt)), max);
  return Math.min(ceiling - 1, Math.floor(random * ceiling));
}

/** Envoy's retry budget defaults. */
export const DEFAULT_RETRY_BUDGET_PERCENT = 20;
export const DEFAULT_MIN_RETRY_CONCURRENCY = 3;

/**
 * Concurrent retries a retry budget allows: `percent` of the active
 * requests (Envoy counts active plus pending requests), rounded down, but
 * never fewer than `minRetryConcurrency`.
 */
export function retryBudgetLimit(activeRequests: number, percent = DEFAULT_RETRY_BUDGET_PERCENT, minRetryConcurrency = DEFAULT_MIN_RETRY_CONCURRENCY): number {
  return Math.max(Math.floor((percent * Math.max(0, activeRequests)) / 100), minRetryConcurrency);
}

/** Whether one more retry fits the budget: active retries stay below the limit. */
export function budgetAllows(activeRequests: number, activeRetries: number, percent = DEFAULT_RETRY_BUDGET_PERCENT, minRetryConcurrency = DEFAULT_MIN_RETRY_CONCURRENCY): boolean {
  return activeRetries < retryBudgetLimit(activeRequests, percent, minRetryConcurrency);
}
