/**
 * Locality weighted load balancing within one priority (Envoy's
 * "effective weight"): a locality's configured weight scaled by its
 * availability, available/total × overprovisioning factor, capped at 1 —
 * so a locality loses traffic only once it is short of capacity, and in
 * proportion to what it lacks.
 */
import { SmoothWeightedRoundRobin } from './round-robin.js';

export interface LocalityCandidate {
  readonly key: string;
  /** `load_balancing_weight` from EDS. */
  readonly weight: number;
  /** Endpoints that may take traffic (in panic: all of them). */
  readonly available: number;
  readonly total: number;
}

/** weight × min(1, factor/100 × available/total); 0 for an empty locality. Pure. */
export function effectiveLocalityWeight(locality: LocalityCandidate, overprovisioningFactor: number): number {
  if (locality.total <= 0 || locality.weight <= 0) return 0;
  const availability = Math.min(1, ((overprovisioningFactor / 100) * locality.available) / locality.total);
  return locality.weight * availability;
}

/** Each locality's share of its priority's traffic, 0–1 (all 0 when none can take any). Pure. */
export function localityShares(localities: readonly LocalityCandidate[], overprovisioningFactor: number): number[] {
  const weights = localities.map((l) => effectiveLocalityWeight(l, overprovisioningFactor));
  const total = weights.reduce((a, b) => a + b, 0);
  return weights.map((w) => (total > 0 ? w / total : 0));
}

/**
 * Picks localities in proportion to their effective weights, smoothly
 * (deterministic, like Envoy's EDF locality scheduler). One per priority
 * level; the caller offers only localities that have a usable endpoint.
 */
export class LocalityPicker {
  private readonly rr = new SmoothWeightedRoundRobin();

  pick<T extends LocalityCandidate>(localities: readonly T[], overprovisioningFactor: number): T | undefined {
    const weighted = localities.map((locality) => ({ key: locality.key, weight: effectiveLocalityWeight(locality, overprovisioningFactor), locality }));
    return this.rr.pick(weighted)?.locality;
  }

  /** Forgets localities that left the assignment. */
  retain(keys: ReadonlySet<string>): void {
    this.rr.retain(keys);
  }
}
