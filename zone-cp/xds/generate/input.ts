import type { InboundPort, Locality } from '../../../core/schemas/dataplane.js';
import type { ZoneInventory } from '../../../core/schemas/federation.js';
import type { PolicyDocument } from '../../../core/schemas/policies/index.js';
import type { LocalEndpoint } from '../../discovery/model.js';
import type { TenantView } from '../../sync/tenant-view.js';

/** The zone CP generating the resources. */
export interface ZoneContext {
  zone: string;
  region: string;
}

export type ProxyKind = 'sidecar' | 'ingress' | 'proxyless';

/**
 * What generation needs to know of one connected proxy. A structural subset of
 * `zone-cp/xds/identify.ts`'s ProxyDescription, so that one can be passed as is.
 */
export interface ProxyDescription {
  id: string;
  kind: ProxyKind;
  tenant: string;
  namespace: string;
  serviceAccount: string;
  /** The service this sidecar fronts; its TrafficPermission guards the inbound listeners. */
  service?: string;
  inbound: InboundPort[];
  /** IP literal of the workload; inbound listeners bind it when known. */
  address?: string;
  locality: Locality;
  mtls: boolean;
}

/** Everything of one tenant that generation reads; nothing of any other tenant. */
export interface TenantSnapshot {
  name: string;
  trustDomain: string;
  policies: PolicyDocument[];
  /** This zone's endpoints of the tenant. */
  localEndpoints: LocalEndpoint[];
  /** Other zones only: this zone's own inventory would double its endpoints. */
  remoteInventories: ZoneInventory[];
}

/**
 * Builds a snapshot from what the zone CP holds. Filters defensively, so a
 * caller's slip cannot leak another tenant's endpoints or this zone's own
 * inventory into the result.
 */
export function tenantSnapshotFromView(view: TenantView, zone: string | ZoneContext, localEndpoints: readonly LocalEndpoint[]): TenantSnapshot {
  const ownZone = typeof zone === 'string' ? zone : zone.zone;
  return {
    name: view.name,
    trustDomain: view.trustDomain,
    policies: Object.values(view.policies),
    localEndpoints: localEndpoints.filter((e) => e.tenant === view.name),
    remoteInventories: Object.values(view.inventories).filter((i) => i.zone !== ownZone && i.tenant === view.name),
  };
}
