/**
 * Request and per-try timeouts as Envoy's router applies them: the route
 * `timeout` bounds the whole request, retries and back-offs included;
 * `per_try_timeout` bounds each attempt, and never past the request's
 * deadline. Pure; times in ms on one monotonic clock.
 */

/** Envoy's route timeout when the route sets none. */
export const DEFAULT_ROUTE_TIMEOUT_MS = 15_000;

export interface RouteTimeouts {
  /** Route `timeout`: undefined → 15 s (Envoy's default); 0 → no deadline. */
  readonly timeoutMs?: number;
  /** Retry policy `per_try_timeout`: undefined or 0 → attempts run until the deadline. */
  readonly perTryTimeoutMs?: number;
}

/** When the request must be done; Infinity when it has no deadline. */
export function requestDeadline(startedAtMs: number, timeouts: RouteTimeouts): number {
  const timeout = timeouts.timeoutMs ?? DEFAULT_ROUTE_TIMEOUT_MS;
  return timeout > 0 ? startedAtMs + timeout : Infinity;
}

/**
 * How long the attempt starting at `nowMs` may run: the per-try timeout cut
 * to what is left before the deadline. 0 when the deadline has passed (no
 * attempt should start); Infinity when nothing bounds it.
 */
export function attemptTimeoutMs(deadlineMs: number, nowMs: number, timeouts: RouteTimeouts): number {
  const left = Math.max(0, deadlineMs - nowMs);
  const perTry = timeouts.perTryTimeoutMs !== undefined && timeouts.perTryTimeoutMs > 0 ? timeouts.perTryTimeoutMs : Infinity;
  return Math.min(left, perTry);
}

/** Whether a retry after `backoffMs` would still start before the deadline. */
export function retryStartsInTime(deadlineMs: number, nowMs: number, backoffMs: number): boolean {
  return nowMs + backoffMs < deadlineMs;
}
