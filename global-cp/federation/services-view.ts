import { Type, type Static } from '@sinclair/typebox';
import type { ZoneInventory } from '../../core/schemas/federation.js';

export const FederatedService = Type.Object({
  namespace: Type.String(),
  name: Type.String(),
  hostname: Type.String({ description: '<service>.<namespace>.mesh' }),
  ports: Type.Array(Type.Integer()),
  endpoints: Type.Integer({ description: 'All zones together.' }),
  healthy: Type.Integer(),
  zones: Type.Array(
    Type.Object({
      zone: Type.String(),
      endpoints: Type.Integer(),
      healthy: Type.Integer(),
      ingressAddress: Type.Union([Type.String(), Type.Null()]),
      stale: Type.Boolean({ description: 'The zone stopped heartbeating: its last inventory is kept, but may be out of date.' }),
      publishedAt: Type.String(),
      localities: Type.Array(Type.Object({ region: Type.String(), zone: Type.String(), subzone: Type.Optional(Type.String()), endpoints: Type.Integer(), healthy: Type.Integer() })),
    }),
  ),
});
export type FederatedService = Static<typeof FederatedService>;

/** Merges the inventories zones published for one tenant into service → zones → counts. Pure. */
export function federatedServices(inventories: ZoneInventory[], offlineZones: ReadonlySet<string>): FederatedService[] {
  const byService = new Map<string, FederatedService>();
  for (const inventory of [...inventories].sort((a, b) => a.zone.localeCompare(b.zone))) {
    for (const service of inventory.services) {
      const id = `${service.namespace}/${service.name}`;
      const merged = byService.get(id) ?? {
        namespace: service.namespace,
        name: service.name,
        hostname: `${service.name}.${service.namespace}.mesh`,
        ports: [],
        endpoints: 0,
        healthy: 0,
        zones: [],
      };
      const endpoints = service.localities.reduce((n, l) => n + l.endpoints, 0);
      const healthy = service.localities.reduce((n, l) => n + l.healthy, 0);
      merged.ports = [...new Set([...merged.ports, ...service.ports.map((p) => p.port)])].sort((a, b) => a - b);
      merged.endpoints += endpoints;
      merged.healthy += healthy;
      merged.zones.push({
        zone: inventory.zone,
        endpoints,
        healthy,
        ingressAddress: inventory.ingressAddress,
        stale: offlineZones.has(inventory.zone),
        publishedAt: inventory.publishedAt,
        localities: service.localities,
      });
      byService.set(id, merged);
    }
  }
  return [...byService.values()].sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
}
