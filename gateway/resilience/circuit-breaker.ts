/**
 * A cluster's circuit breaker (Envoy's DEFAULT-priority thresholds): caps
 * on open connections, requests waiting for a connection, concurrent
 * requests and concurrent retries. Excess is refused at once — the caller
 * answers 503 — instead of queueing. Counters only; no I/O.
 */
import { DEFAULT_MIN_RETRY_CONCURRENCY, DEFAULT_RETRY_BUDGET_PERCENT, retryBudgetLimit } from './retry.js';

export type BreakerResource = 'connections' | 'pending-requests' | 'requests' | 'retries';

export interface RetryBudget {
  /** Percent of active + pending requests; Envoy's default 20. */
  readonly budgetPercent?: number;
  /** Retries always allowed; Envoy's default 3. */
  readonly minRetryConcurrency?: number;
}

/** `circuit_breakers.thresholds[DEFAULT]`, decoded; absent fields take Envoy's defaults. */
export interface CircuitBreakerThresholds {
  readonly maxConnections?: number;
  readonly maxPendingRequests?: number;
  readonly maxRequests?: number;
  readonly maxRetries?: number;
  /** When set, replaces maxRetries with a limit that follows the load. */
  readonly retryBudget?: RetryBudget;
}

export const DEFAULT_THRESHOLDS = { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3 } as const;

export type Admission =
  | { readonly admitted: true; /** Gives the slot back; calling it again does nothing. */ readonly release: () => void }
  | { readonly admitted: false; readonly resource: BreakerResource; readonly limit: number; readonly active: number };

export class CircuitBreaker {
  private readonly active: Record<BreakerResource, number> = { connections: 0, 'pending-requests': 0, requests: 0, retries: 0 };

  constructor(private readonly thresholds: CircuitBreakerThresholds = {}) {}

  /** Takes a slot of `resource` if one is free. */
  tryAcquire(resource: BreakerResource): Admission {
    const limit = this.limit(resource);
    const active = this.active[resource];
    if (active >= limit) return { admitted: false, resource, limit, active };
    this.active[resource] = active + 1;
    let released = false;
    return {
      admitted: true,
      release: () => {
        if (released) return;
        released = true;
        this.active[resource]--;
      },
    };
  }

  /** Slots of `resource` in use. */
  inUse(resource: BreakerResource): number {
    return this.active[resource];
  }

  /** The current cap on `resource`; for retries under a budget it moves with the active + pending requests. */
  limit(resource: BreakerResource): number {
    const t = this.thresholds;
    switch (resource) {
      case 'connections':
        return t.maxConnections ?? DEFAULT_THRESHOLDS.maxConnections;
      case 'pending-requests':
        return t.maxPendingRequests ?? DEFAULT_THRESHOLDS.maxPendingRequests;
      case 'requests':
        return t.maxRequests ?? DEFAULT_THRESHOLDS.maxRequests;
      case 'retries':
        if (!t.retryBudget) return t.maxRetries ?? DEFAULT_THRESHOLDS.maxRetries;
        return retryBudgetLimit(
          this.active.requests + this.active['pending-requests'],
          t.retryBudget.budgetPercent ?? DEFAULT_RETRY_BUDGET_PERCENT,
          t.retryBudget.minRetryConcurrency ?? DEFAULT_MIN_RETRY_CONCURRENCY,
        );
    }
  }
}
