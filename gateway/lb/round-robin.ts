/**
 * Smooth weighted round robin (nginx's algorithm): each pick adds every
 * candidate's weight to its running score, takes the highest score (the
 * first one on a tie) and takes the total weight off the winner. Weights
 * 3:1 give a a b a, not a a a b; equal weights give plain round robin in
 * list order. Over any window a candidate's share is its weight's share,
 * like Envoy's EDF scheduler, without randomness.
 *
 * The candidate list may change between picks (ejections, exclusions,
 * EDS updates): scores are kept per key, so a candidate that leaves and
 * comes back resumes where it was.
 */

export interface WeightedCandidate {
  readonly key: string;
  /** Relative weight; candidates with weight ≤ 0 are never picked. */
  readonly weight: number;
}

export class SmoothWeightedRoundRobin {
  private readonly scores = new Map<string, number>();

  /** The next candidate, or undefined when none has a positive weight. */
  pick<T extends WeightedCandidate>(candidates: readonly T[]): T | undefined {
    let best: T | undefined;
    let bestScore = -Infinity;
    let total = 0;
    for (const candidate of candidates) {
      if (!(candidate.weight > 0) || !Number.isFinite(candidate.weight)) continue;
      const score = (this.scores.get(candidate.key) ?? 0) + candidate.weight;
      this.scores.set(candidate.key, score);
      total += candidate.weight;
      if (score > bestScore) {
        best = candidate;
        bestScore = score;
      }
    }
    if (best) this.scores.set(best.key, bestScore - total);
    return best;
  }

  /** Forgets the scores of keys not in `keys` (endpoints or localities that left the assignment). */
  retain(keys: ReadonlySet<string>): void {
    for (const key of this.scores.keys()) if (!keys.has(key)) this.scores.delete(key);
  }

  /** Number of keys with a score; for tests and metrics. */
  get size(): number {
    return this.scores.size;
  }
}
