import type { ProxyDescription as IdentifiedProxy } from '../identify.js';
import type { ZoneInventory } from '../../../core/schemas/federation.js';
import type { PolicyDocument } from '../../../core/schemas/policies/index.js';
import type { LocalEndpoint } from '../../discovery/model.js';
import type { TenantView } from '../../sync/tenant-view.js';

/** The zone CP generating the resources. */
export interface ZoneContext {
  zone: string;
  region: string;
}

export type { ProxyKind } from '../identify.js';

/** What generation reads of a connected proxy: the part of its description that shapes its config. */
export type ProxyDescription = Pick<IdentifiedProxy, 'id' | 'kind' | 'tenant' | 'namespace' | 'serviceAccount' | 'service' | 'inbound' | 'address' | 'locality' | 'mtls'>;

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
