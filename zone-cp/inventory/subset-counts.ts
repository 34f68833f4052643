import { MAX_LOCALITIES_PER_SERVICE, MAX_SUBSET_TAG_KEYS, MAX_TAG_SETS_PER_LOCALITY, type InventoryService, type InventorySubsetLocality, type InventorySubsets, type InventoryTagSet } from '../../core/schemas/federation.js';
import type { PolicyDocument, TrafficRouteSpec } from '../../core/schemas/policies/index.js';
import { subsetKey } from '../../core/xds/names.js';
import type { LocalEndpoint } from '../discovery/model.js';
import { localityKey, localityPriority } from './from-endpoints.js';

const MAX_TAG_KEY_LENGTH = 317;
const MAX_TAG_VALUE_LENGTH = 63;

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The tag keys a tenant's TrafficRoute splits select by: what its subset
 * counts are counted by. Sorted; the first MAX_SUBSET_TAG_KEYS only. Pure.
 */
export function subsetTagKeys(policies: Iterable<PolicyDocument>): string[] {
  const keys = new Set<string>();
  for (const policy of policies) {
    if (policy.kind !== 'TrafficRoute') continue;
    // Documents from NATS passed only a shape check: read the spec warily.
    const rules = (policy.spec as Partial<TrafficRouteSpec>).rules;
    for (const rule of Array.isArray(rules) ? rules : []) {
      for (const entry of Array.isArray(rule?.split) ? rule.split : []) {
        for (const key of Object.keys(entry?.tags ?? {})) if (key.length <= MAX_TAG_KEY_LENGTH) keys.add(key);
      }
    }
  }
  return [...keys].sort(compare).slice(0, MAX_SUBSET_TAG_KEYS);
}

/**
 * Per tenant, what other zones' subset clusters need of this zone's
 * endpoints: per service and locality, the healthy endpoints by the values
 * they carry of `tagKeys[tenant]` (tenants without keys get none: the same
 * to other zones as counting by no key).
 * Endpoints carrying none of the keys are left out (they are in no subset),
 * and so are services and localities left without any. A locality with more
 * than MAX_TAG_SETS_PER_LOCALITY distinct tag sets lists none and is marked
 * truncated: its subsets are unknown to other zones. A service with more
 * than MAX_LOCALITIES_PER_SERVICE localities keeps those the inventory keeps
 * (the most healthy endpoints of the service, tagged or not, first): other
 * zones read subset counts only for the localities the inventory lists.
 * Pure; sorted for stable output.
 */
export function subsetCountsFromEndpoints(endpoints: readonly LocalEndpoint[], tagKeys: Readonly<Record<string, readonly string[]>>): Record<string, InventorySubsets> {
  const counted = new Map<string, Map<string, ServiceCounts>>();
  for (const e of endpoints) {
    const keys = tagKeys[e.tenant];
    if (!e.healthy || !keys) continue;
    const tags = projectTags(e.tags, keys);
    if (!tags) continue;
    let services = counted.get(e.tenant);
    if (!services) counted.set(e.tenant, (services = new Map<string, ServiceCounts>()));
    const serviceKey = `${e.namespace}/${e.service}`;
    let service = services.get(serviceKey);
    if (!service) services.set(serviceKey, (service = { namespace: e.namespace, name: e.service, localities: new Map() }));
    const where = localityKey(e.locality);
    let locality = service.localities.get(where);
    if (!locality) service.localities.set(where, (locality = { locality: e.locality, tagSets: new Map() }));
    const setKey = subsetKey(tags);
    const tagSet = locality.tagSets.get(setKey);
    if (tagSet) tagSet.healthy += 1;
    // Past the cap, one more entry is enough to know the locality is truncated.
    else if (locality.tagSets.size <= MAX_TAG_SETS_PER_LOCALITY) locality.tagSets.set(setKey, { tags, healthy: 1 });
  }

  keepInventoryLocalities(counted, endpoints);

  const byTenant: Record<string, InventorySubsets> = {};
  for (const [tenant, keys] of Object.entries(tagKeys)) {
    if (keys.length === 0) continue;
    const services = counted.get(tenant) ?? new Map<string, ServiceCounts>();
    byTenant[tenant] = {
      tagKeys: [...keys],
      services: sortedValues(services).map((service) => ({ namespace: service.namespace, name: service.name, localities: sortedValues(service.localities).map(renderLocality) })),
    };
  }
  return byTenant;
}

/**
 * Subset counts cut to what the inventory itself carries: only services it
 * kept (a service left out for failing the schema is left out here too) and
 * only their localities. Without this, counts for a service the inventory
 * dropped would fail the whole tenant's inventory, and it would be published
 * without any subset counts. Pure.
 */
export function subsetsWithinInventory(
  subsets: Readonly<Record<string, InventorySubsets>>,
  services: Readonly<Record<string, readonly Pick<InventoryService, 'namespace' | 'name' | 'localities'>[]>>,
): Record<string, InventorySubsets> {
  const out: Record<string, InventorySubsets> = {};
  for (const [tenant, counts] of Object.entries(subsets)) {
    const kept = new Map((services[tenant] ?? []).map((s) => [`${s.namespace}/${s.name}`, new Set(s.localities.map(localityKey))]));
    out[tenant] = {
      ...counts,
      services: counts.services.flatMap((service) => {
        const localities = kept.get(`${service.namespace}/${service.name}`);
        if (!localities) return [];
        const within = service.localities.filter((l) => localities.has(localityKey(l)));
        return within.length ? [{ ...service, localities: within }] : [];
      }),
    };
  }
  return out;
}

/**
 * Cuts services with more than MAX_LOCALITIES_PER_SERVICE localities down to
 * the first by localityPriority over all the service's healthy endpoints, as
 * inventoryFromEndpoints does. Rare: a second pass over the endpoints only then.
 */
function keepInventoryLocalities(counted: Map<string, Map<string, ServiceCounts>>, endpoints: readonly LocalEndpoint[]): void {
  const oversized = new Map<string, ServiceCounts>();
  for (const [tenant, services] of counted) {
    for (const [key, service] of services) if (service.localities.size > MAX_LOCALITIES_PER_SERVICE) oversized.set(`${tenant}/${key}`, service);
  }
  if (oversized.size === 0) return;
  const healthy = new Map<ServiceCounts, Map<string, number>>();
  for (const e of endpoints) {
    const service = e.healthy ? oversized.get(`${e.tenant}/${e.namespace}/${e.service}`) : undefined;
    if (!service) continue;
    let byLocality = healthy.get(service);
    if (!byLocality) healthy.set(service, (byLocality = new Map<string, number>()));
    const where = localityKey(e.locality);
    byLocality.set(where, (byLocality.get(where) ?? 0) + 1);
  }
  for (const service of oversized.values()) {
    const byLocality = healthy.get(service);
    const kept = new Set(
      [...service.localities.keys()]
        .map((key) => ({ key, healthy: byLocality?.get(key) ?? 0 }))
        .sort(localityPriority)
        .slice(0, MAX_LOCALITIES_PER_SERVICE)
        .map((l) => l.key),
    );
    for (const key of [...service.localities.keys()]) if (!kept.has(key)) service.localities.delete(key);
  }
}

interface LocalityCounts {
  locality: LocalEndpoint['locality'];
  /** By subsetKey(tags). */
  tagSets: Map<string, InventoryTagSet>;
}

interface ServiceCounts {
  namespace: string;
  name: string;
  /** By region/zone/subzone. */
  localities: Map<string, LocalityCounts>;
}

const sortedValues = <T>(map: ReadonlyMap<string, T>): T[] => [...map.keys()].sort(compare).map((k) => map.get(k)!);

function renderLocality({ locality, tagSets }: LocalityCounts): InventorySubsetLocality {
  const where = { region: locality.region, zone: locality.zone, ...(locality.subzone ? { subzone: locality.subzone } : {}) };
  if (tagSets.size > MAX_TAG_SETS_PER_LOCALITY) return { ...where, tagSets: [], truncated: true };
  return { ...where, tagSets: sortedValues(tagSets) };
}

/**
 * An endpoint's tags restricted to `keys`, or undefined when it carries none
 * of them. A value too long for the inventory is left out: no subset can
 * select it (TrafficRoute tag values are at most 63 characters), and no
 * subset selects an absent key either.
 */
function projectTags(tags: Record<string, string>, keys: readonly string[]): Record<string, string> | undefined {
  let projected: Record<string, string> | undefined;
  for (const key of keys) {
    const value = Object.hasOwn(tags, key) ? tags[key] : undefined;
    if (typeof value === 'string' && value.length <= MAX_TAG_VALUE_LENGTH) (projected ??= {})[key] = value;
  }
  return projected;
}
