import type { Locality } from '../../../core/schemas/dataplane.js';
import type { LocalityFailoverSpec } from '../../../core/schemas/policies/index.js';

type FailoverPolicy = Pick<LocalityFailoverSpec, 'crossRegion' | 'allowCrossRegion' | 'spilloverThreshold'>;

/** A locality as one string: `region/zone/subzone`. */
export const localityKey = (l: Locality) => `${l.region}/${l.zone}/${l.subzone ?? ''}`;

/**
 * How far a locality is from the proxy, before gaps are closed: 0 its own
 * zone, 1 the rest of its region, 2+ other regions; undefined when traffic
 * must never go there. Other regions follow the crossRegion entry for the
 * proxy's region, in its order, and only the regions it lists: an explicit
 * list is how a tenant keeps failover inside a jurisdiction. A proxy region
 * without an entry fails over to every other region at one level, as the
 * schema says.
 */
export function localityRank(proxy: Locality, locality: Locality, policy?: FailoverPolicy): number | undefined {
  if (locality.region === proxy.region) return locality.zone === proxy.zone ? 0 : 1;
  if (policy?.allowCrossRegion === false) return undefined;
  const entry = policy?.crossRegion?.find((e) => e.from === proxy.region);
  if (!entry) return 2;
  const position = entry.to.indexOf(locality.region);
  return position === -1 ? undefined : 2 + position;
}

/**
 * Priority of each locality (by localityKey) for a proxy; localities traffic
 * must not reach are absent. Priorities are contiguous from 0 over the
 * localities given, since a gap makes proxyless gRPC reject the whole
 * assignment: pass only localities that have endpoints.
 */
export function localityPriorities(proxy: Locality, localities: readonly Locality[], policy?: FailoverPolicy): Map<string, number> {
  const ranks = new Map<string, number>();
  for (const locality of localities) {
    const rank = localityRank(proxy, locality, policy);
    if (rank !== undefined) ranks.set(localityKey(locality), rank);
  }
  const levels = [...new Set(ranks.values())].sort((a, b) => a - b);
  return new Map([...ranks].map(([key, rank]) => [key, levels.indexOf(rank)]));
}

export const DEFAULT_SPILLOVER_THRESHOLD = 72;

/**
 * Envoy's overprovisioning_factor (a percentage: 140 means ×1.4) for a
 * spill-over threshold. A level keeps all its traffic while healthy% ×
 * factor/100 ≥ 100, so the factor is 10000 / threshold. The schema defines
 * its default 72 as Envoy's default 1.4 (the exact 10000/72 is 139), so 72
 * maps to 140 and every other value exactly.
 */
export function overprovisioningFactor(threshold = DEFAULT_SPILLOVER_THRESHOLD): number {
  return threshold === DEFAULT_SPILLOVER_THRESHOLD ? 140 : Math.round(10000 / threshold);
}
