import type { InventoryService } from '../../core/schemas/federation.js';
import type { LocalEndpoint } from '../discovery/model.js';

/**
 * What this zone tells other zones about its tenants' services: ports and
 * endpoint counts per locality — never addresses, which stay inside the zone
 * (others reach them through its ingress). Pure; sorted for stable output.
 */
export function inventoryFromEndpoints(endpoints: LocalEndpoint[]): Record<string, InventoryService[]> {
  const services = new Map<string, { tenant: string; service: InventoryService; ports: Map<number, InventoryService['ports'][number]>; localities: Map<string, InventoryService['localities'][number]> }>();
  for (const e of endpoints) {
    const key = `${e.tenant}/${e.namespace}/${e.service}`;
    let entry = services.get(key);
    if (!entry) {
      entry = { tenant: e.tenant, service: { namespace: e.namespace, name: e.service, ports: [], localities: [] }, ports: new Map(), localities: new Map() };
      services.set(key, entry);
    }
    for (const p of e.ports) if (!entry.ports.has(p.port)) entry.ports.set(p.port, { port: p.port, ...(p.protocol ? { protocol: p.protocol } : {}), ...(p.name ? { name: p.name } : {}) });
    const localityKey = `${e.locality.region}/${e.locality.zone}/${e.locality.subzone ?? ''}`;
    const locality = entry.localities.get(localityKey) ?? { region: e.locality.region, zone: e.locality.zone, ...(e.locality.subzone ? { subzone: e.locality.subzone } : {}), endpoints: 0, healthy: 0 };
    locality.endpoints += 1;
    if (e.healthy) locality.healthy += 1;
    entry.localities.set(localityKey, locality);
  }
  const byTenant: Record<string, InventoryService[]> = {};
  for (const key of [...services.keys()].sort()) {
    const { tenant, service, ports, localities } = services.get(key)!;
    service.ports = [...ports.values()].sort((a, b) => a.port - b.port);
    service.localities = [...localities.keys()].sort().map((k) => localities.get(k)!);
    (byTenant[tenant] ??= []).push(service);
  }
  return byTenant;
}
