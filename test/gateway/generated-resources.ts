import { RESOURCE_TYPES, TYPE_URL, encodeResource, type EncodedAny, type ResourceType } from '../../core/xds/protos.js';
import { ACME, GLOBEX, INGRESS, PROXYLESS_CLIENT, WEB_SIDECAR } from '../../zone-cp/xds/generate/fixtures.js';
import { buildTenantModel, ingressResources, proxyResources, type ResourceSet } from '../../zone-cp/xds/generate/index.js';

/** What the zone CP's generator makes for its fixture proxies, encoded as ADS carries it: the gateway must take all of it. */
export function generatedSets(): Record<'sidecar' | 'proxyless' | 'ingress', ResourceSet> {
  const acme = buildTenantModel(ACME);
  const globex = buildTenantModel(GLOBEX);
  return {
    sidecar: proxyResources(acme, WEB_SIDECAR),
    proxyless: proxyResources(acme, PROXYLESS_CLIENT),
    ingress: ingressResources({ proxy: INGRESS, tenants: [acme, globex], listenPort: 10001 }),
  };
}

export function encodedSet(set: ResourceSet): Record<ResourceType, EncodedAny[]> {
  return Object.fromEntries(RESOURCE_TYPES.map((type) => [type, set[type].map((r) => encodeResource(TYPE_URL[type], r.resource))])) as Record<ResourceType, EncodedAny[]>;
}
