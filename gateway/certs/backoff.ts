/** Exponential back-off between attempts to reach the zone CP, with jitter so many proxies coming back at once spread out. */
export interface Backoff {
  initialMs: number;
  /** Growth per failure, e.g. 1.6 (gRPC's connection back-off). */
  factor: number;
  maxMs: number;
  /** ± fraction applied to every delay, e.g. 0.2 for ±20 %. */
  jitter: number;
}

/** gRPC's connection back-off (1 s × 1.6ⁿ, ±20 %), capped at 30 s: how the gateway's ADS stream reconnects and its SVID requests retry. */
export const CONTROL_PLANE_BACKOFF: Backoff = { initialMs: 1_000, factor: 1.6, maxMs: 30_000, jitter: 0.2 };

/**
 * Delay before retry number `failures` (1 for the first retry): initialMs ×
 * factorⁿ⁻¹, capped at maxMs, then jittered by ±jitter. Pure given `random`
 * ∈ [0, 1).
 */
export function backoffDelayMs(failures: number, backoff: Backoff, random: number = Math.random()): number {
  const base = Math.min(backoff.maxMs, backoff.initialMs * backoff.factor ** Math.max(0, failures - 1));
  return Math.max(0, Math.round(base * (1 - backoff.jitter + 2 * backoff.jitter * random)));
}
