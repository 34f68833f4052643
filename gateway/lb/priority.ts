/**
 * Envoy's priority load: how much of the traffic each priority level gets,
 * from how many of its endpoints are available. Integer percentages, as in
 * Envoy (`LoadBalancerBase::recalculatePerPriorityState`). Pure.
 *
 * A level's health is available/total × overprovisioning factor, capped at
 * 100. Traffic fills P0 up to its health and spills the rest downwards; when
 * the healths add up to less than 100 they are scaled up to 100 (normalised).
 * Recomputed on every change, so failover is gradual and failback automatic.
 */

export interface LevelHealth {
  /** Endpoints that may take traffic: healthy and not ejected. */
  readonly available: number;
  readonly total: number;
}

/** Envoy's default `healthy_panic_threshold`, a percentage. */
export const DEFAULT_PANIC_THRESHOLD = 50;

/** A level's health, 0–100: ⌊factor × available / total⌋ capped at 100 (factor a percentage, 140 = ×1.4). */
export function levelHealth(level: LevelHealth, overprovisioningFactor: number): number {
  if (level.total <= 0) return 0;
  return Math.min(100, Math.floor((overprovisioningFactor * level.available) / level.total));
}

/** Sum of the levels' health, capped at 100. */
export function normalizedTotalHealth(levels: readonly LevelHealth[], overprovisioningFactor: number): number {
  return Math.min(100, levels.reduce((sum, level) => sum + levelHealth(level, overprovisioningFactor), 0));
}

/**
 * Which levels are in panic: a level balances over all its endpoints,
 * available or not, when its available share is below the threshold — but
 * only while the levels together are short of capacity (normalised total
 * health < 100); while lower levels can absorb the spill nobody panics.
 * A threshold of 0 disables panic.
 */
export function priorityPanic(levels: readonly LevelHealth[], overprovisioningFactor: number, panicThreshold = DEFAULT_PANIC_THRESHOLD): boolean[] {
  const total = normalizedTotalHealth(levels, overprovisioningFactor);
  return levels.map((level) => {
    if (total === 100 || panicThreshold <= 0) return false;
    const availablePercent = level.total > 0 ? (100 * level.available) / level.total : 0;
    return availablePercent < panicThreshold;
  });
}

/**
 * Percent of traffic per level; sums to 100, or is all 0 when no level has
 * an endpoint. When every level is in panic (total panic) the load follows
 * each level's share of all endpoints, whatever their health. With panic
 * disabled and nothing available, P0 nominally gets 100 (and finds nothing).
 */
export function priorityLoad(levels: readonly LevelHealth[], overprovisioningFactor: number, panicThreshold = DEFAULT_PANIC_THRESHOLD): number[] {
  const load = levels.map(() => 0);
  const panic = priorityPanic(levels, overprovisioningFactor, panicThreshold);
  if (levels.length > 0 && panic.every(Boolean)) return loadInTotalPanic(levels);

  const health = levels.map((level) => levelHealth(level, overprovisioningFactor));
  const total = Math.min(100, health.reduce((a, b) => a + b, 0));
  if (total === 0) {
    if (levels.length > 0) load[0] = 100;
    return load;
  }
  let remaining = 100;
  health.forEach((h, i) => {
    const share = Math.min(remaining, Math.floor((h * 100) / total));
    load[i] = share;
    remaining -= share;
  });
  // Rounding leftovers go to the first level with any health.
  const first = health.findIndex((h) => h > 0);
  load[first] = load[first]! + remaining;
  return load;
}

function loadInTotalPanic(levels: readonly LevelHealth[]): number[] {
  const hosts = levels.reduce((sum, level) => sum + level.total, 0);
  if (hosts === 0) return levels.map(() => 0);
  const load = levels.map((level) => Math.floor((100 * level.total) / hosts));
  const first = levels.findIndex((level) => level.total > 0);
  load[first] = load[first]! + 100 - load.reduce((a, b) => a + b, 0);
  return load;
}

/**
 * The level a request goes to: `random` ∈ [0, 1) is mapped to 1–100 and
 * the first level whose cumulative load reaches it wins (Envoy's
 * `choosePriority`). Undefined when the load is all 0 (no endpoints).
 */
export function pickPriority(load: readonly number[], random: number): number | undefined {
  const ticket = Math.min(99, Math.floor(random * 100)) + 1;
  let cumulative = 0;
  for (let i = 0; i < load.length; i++) {
    cumulative += load[i]!;
    if (load[i]! > 0 && ticket <= cumulative) return i;
  }
  return undefined;
}
