/**
 * A route's `weighted_clusters` split (TrafficRoute versions/subsets): which
 * cluster a request goes to. Like Envoy, a random number is reduced modulo
 * the total weight and the clusters are walked in order. Pure.
 */

export interface ClusterWeight {
  readonly name: string;
  readonly weight: number;
}

/** The cluster for `random` ∈ [0, 1); undefined when no cluster has a positive weight. */
export function pickWeightedCluster(clusters: readonly ClusterWeight[], random: number): string | undefined {
  const total = clusters.reduce((sum, c) => sum + (c.weight > 0 ? c.weight : 0), 0);
  if (total <= 0) return undefined;
  const ticket = Math.min(total - 1, Math.floor(random * total));
  let cumulative = 0;
  for (const cluster of clusters) {
    if (!(cluster.weight > 0)) continue;
    cumulative += cluster.weight;
    if (ticket < cumulative) return cluster.name;
  }
  return undefined;
}
