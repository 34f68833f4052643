import { TypeCompiler } from '@sinclair/typebox/compiler';
import { InventoryService, MAX_ENDPOINT_COUNT, MAX_LOCALITIES_PER_SERVICE, MAX_PORTS_PER_SERVICE } from '../../core/schemas/federation.js';
import type { LocalEndpoint } from '../discovery/model.js';

const checkService = TypeCompiler.Compile(InventoryService);

/** Something of one service the inventory could not report in full. */
export interface InventoryTruncation {
  tenant: string;
  namespace: string;
  service: string;
  /**
   * ports: only the lowest MAX_PORTS_PER_SERVICE are listed; localities: only
   * the MAX_LOCALITIES_PER_SERVICE with the most healthy endpoints; service:
   * the service still fails the schema (see `problem`) and is left out.
   */
  field: 'ports' | 'localities' | 'service';
  /** How many were listed (0 for a service left out) out of how many there are. */
  kept: number;
  total: number;
  problem?: string;
}

export interface EndpointInventory {
  /** tenant → its services, sorted by namespace and name. */
  services: Record<string, InventoryService[]>;
  /** What was cut to keep every service within the inventory schema, in the order of the services. */
  truncations: InventoryTruncation[];
}

type InventoryLocality = InventoryService['localities'][number];

export const localityKey = (l: { region: string; zone: string; subzone?: string }) => `${l.region}/${l.zone}/${l.subzone ?? ''}`;

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The order in which a service's localities are kept when there are more
 * than MAX_LOCALITIES_PER_SERVICE: most healthy endpoints first (what other
 * zones route to), then by region/zone/subzone. The subset counts keep
 * theirs in the same order, so they cover every locality the inventory lists.
 */
export const localityPriority = (a: { key: string; healthy: number }, b: { key: string; healthy: number }) => b.healthy - a.healthy || compare(a.key, b.key);

/**
 * What this zone tells other zones about its tenants' services: ports and
 * endpoint counts per locality — never addresses, which stay inside the zone
 * (others reach them through its ingress). Every service fits the inventory
 * schema, so one outsized service never gets the whole tenant's inventory
 * refused: past the limits the lowest ports and the localities with the most
 * healthy endpoints are kept, and a service that still does not fit is left
 * out; each cut is reported. Pure; sorted for stable output.
 */
export function inventoryFromEndpoints(endpoints: readonly LocalEndpoint[]): EndpointInventory {
  const services = new Map<string, { tenant: string; service: InventoryService; ports: Map<number, InventoryService['ports'][number]>; localities: Map<string, InventoryLocality> }>();
  for (const e of endpoints) {
    const key = `${e.tenant}/${e.namespace}/${e.service}`;
    let entry = services.get(key);
    if (!entry) {
      entry = { tenant: e.tenant, service: { namespace: e.namespace, name: e.service, ports: [], localities: [] }, ports: new Map(), localities: new Map() };
      services.set(key, entry);
    }
    for (const p of e.ports) if (!entry.ports.has(p.port)) entry.ports.set(p.port, { port: p.port, ...(p.protocol ? { protocol: p.protocol } : {}), ...(p.name ? { name: p.name } : {}) });
    const id = localityKey(e.locality);
    const locality = entry.localities.get(id) ?? { region: e.locality.region, zone: e.locality.zone, ...(e.locality.subzone ? { subzone: e.locality.subzone } : {}), endpoints: 0, healthy: 0 };
    locality.endpoints += 1;
    if (e.healthy) locality.healthy += 1;
    entry.localities.set(id, locality);
  }
  const byTenant: Record<string, InventoryService[]> = {};
  const truncations: InventoryTruncation[] = [];
  for (const key of [...services.keys()].sort(compare)) {
    const { tenant, service, ports, localities } = services.get(key)!;
    const cut = (field: InventoryTruncation['field'], kept: number, total: number, problem?: string) =>
      truncations.push({ tenant, namespace: service.namespace, service: service.name, field, kept, total, ...(problem ? { problem } : {}) });
    service.ports = [...ports.values()].sort((a, b) => a.port - b.port);
    if (service.ports.length > MAX_PORTS_PER_SERVICE) {
      cut('ports', MAX_PORTS_PER_SERVICE, service.ports.length);
      service.ports = service.ports.slice(0, MAX_PORTS_PER_SERVICE);
    }
    service.localities = keptLocalities(localities);
    if (localities.size > MAX_LOCALITIES_PER_SERVICE) cut('localities', MAX_LOCALITIES_PER_SERVICE, localities.size);
    for (const l of service.localities) {
      l.endpoints = Math.min(l.endpoints, MAX_ENDPOINT_COUNT);
      l.healthy = Math.min(l.healthy, MAX_ENDPOINT_COUNT);
    }
    // Anything else out of bounds (a name discovery let through, an over-long port name) cannot be cut to fit: leave the service out.
    if (!checkService.Check(service)) {
      const error = checkService.Errors(service).First();
      cut('service', 0, 1, error ? `${error.path}: ${error.message}` : 'fails the inventory schema');
      continue;
    }
    (byTenant[tenant] ??= []).push(service);
  }
  return { services: byTenant, truncations };
}

/** At most MAX_LOCALITIES_PER_SERVICE, chosen by localityPriority, listed by region/zone/subzone. */
function keptLocalities(localities: ReadonlyMap<string, InventoryLocality>): InventoryLocality[] {
  let keys = [...localities.keys()];
  if (keys.length > MAX_LOCALITIES_PER_SERVICE) {
    keys = keys
      .map((key) => ({ key, healthy: localities.get(key)!.healthy }))
      .sort(localityPriority)
      .slice(0, MAX_LOCALITIES_PER_SERVICE)
      .map((l) => l.key);
  }
  return keys.sort(compare).map((k) => localities.get(k)!);
}
