/**
 * A ClusterLoadAssignment as the load balancer sees it: plain objects,
 * decoded from EDS by the xDS client, independent of protobuf.
 */

/** One upstream endpoint. */
export interface Endpoint {
  readonly address: string;
  readonly port: number;
  /**
   * EDS `health_status` HEALTHY or UNKNOWN → true; UNHEALTHY, DRAINING,
   * TIMEOUT → false. (meshfed's zone CP sends only HEALTHY and UNHEALTHY.)
   */
  readonly healthy: boolean;
  /** The endpoint's `load_balancing_weight` within its locality; 1 when absent. */
  readonly weight?: number;
  /** `metadata.filter_metadata`, e.g. `{ meshfed: { remote: true, zone } }`. */
  readonly metadata?: Readonly<Record<string, unknown>>;
}

/** One LocalityLbEndpoints entry. */
export interface LocalityEndpoints {
  /** `region/zone/subzone`. */
  readonly key: string;
  /** `load_balancing_weight`; a locality with weight 0 gets no traffic. */
  readonly weight: number;
  readonly endpoints: readonly Endpoint[];
}

/** Every locality of one priority. */
export interface PriorityLevel {
  readonly priority: number;
  readonly localities: readonly LocalityEndpoints[];
}

export interface LoadAssignment {
  readonly levels: readonly PriorityLevel[];
  /** `policy.overprovisioning_factor`, a percentage: 140 means ×1.4. */
  readonly overprovisioningFactor?: number;
}

/** Envoy's default overprovisioning factor (×1.4). */
export const DEFAULT_OVERPROVISIONING_FACTOR = 140;

/** An endpoint's identity within a cluster: `host:port`, IPv6 bracketed. */
export function endpointKey(endpoint: Pick<Endpoint, 'address' | 'port'>): string {
  return endpoint.address.includes(':') ? `[${endpoint.address}]:${endpoint.port}` : `${endpoint.address}:${endpoint.port}`;
}

/**
 * Levels in priority order, one per priority number (entries naming the same
 * priority merged), with 0-weight localities dropped as proxyless gRPC does:
 * they could never be picked, so their endpoints do not count either.
 */
export function normalizeLevels(levels: readonly PriorityLevel[]): PriorityLevel[] {
  const byPriority = new Map<number, LocalityEndpoints[]>();
  for (const level of levels) {
    const localities = byPriority.get(level.priority) ?? [];
    localities.push(...level.localities.filter((l) => l.weight > 0));
    byPriority.set(level.priority, localities);
  }
  return [...byPriority.entries()].sort(([a], [b]) => a - b).map(([priority, localities]) => ({ priority, localities }));
}
