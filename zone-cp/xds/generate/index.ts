import type { Locality } from '../../../core/schemas/dataplane.js';
import { serviceApiListeners } from './api-listeners.js';
import { serviceClusters } from './clusters.js';
import { serviceEndpoints } from './endpoints.js';
import { inboundResources } from './inbound.js';
import type { ProxyDescription } from './input.js';
import type { ServiceModel, TenantModel } from './model.js';
import { outboundPortName } from './names.js';
import { EMPTY_RESOURCE_SET, mergeResourceSets, resourceSet, type ResourceSet } from './output.js';
import { outboundPortListeners, outboundPortsTakenBy } from './outbound-listeners.js';
import { serviceRouteConfigurations } from './routes.js';

/*
 * Entry points for the serving layer. Generation is split by what each part
 * depends on, so a cache can keep it apart:
 *   1. per tenant (+ mTLS flag): clusters, route configurations, API
 *      listeners — and per tenant, the sidecars' outbound:<port> listeners;
 *   2. per (tenant, proxy region/zone, mTLS flag): endpoints;
 *   3. per proxy: inbound listeners and clusters;
 *   4. per ingress: everything of the tenants it serves.
 * Parts 1 and 2 are also available per service. Results are memoized on the
 * identity of the (immutable) model objects: rebuild the model with
 * buildTenantModel(snapshot, previousModel) after a change, and every
 * service whose inputs did not change keeps its object and its resources.
 * Returned objects are shared between callers: never mutate them.
 */

export { buildTenantModel, parseIngressAddress, type RemoteService, type ServiceModel, type Subset, type TenantModel } from './model.js';
export { tenantSnapshotFromView, type ProxyDescription, type ProxyKind, type TenantSnapshot, type ZoneContext } from './input.js';
export { EMPTY_RESOURCE_SET, mergeResourceSets, type GenerationWarning, type NamedResource, type ResourceSet } from './output.js';
export { ingressResources, type IngressInput } from './ingress.js';
export { localityPriorities, overprovisioningFactor } from './localities.js';
export { ingressClusterName, inboundClusterName, outboundPortName, subsetSniLabel } from './names.js';
export { BUNDLE_PROVIDER_INSTANCE, SVID_PROVIDER_INSTANCE } from './tls.js';
export { protoProblems } from './proto-check.js';

export interface OutboundOptions {
  /**
   * Proxyless gRPC checks upstream identities only in the deprecated untyped
   * SAN list, which Envoy refuses beside the typed one: its clusters get
   * that list, everyone else's the typed one.
   */
  proxyless?: boolean;
  /** Whether the proxies hold an SVID: their upstream connections are then mTLS. */
  mtls: boolean;
}

const serviceOutboundCache = new WeakMap<ServiceModel, Map<string, ResourceSet>>();
const serviceEndpointCache = new WeakMap<ServiceModel, Map<string, ResourceSet>>();
const tenantCache = new WeakMap<TenantModel, Map<string, ResourceSet>>();

function memo<K extends object>(cache: WeakMap<K, Map<string, ResourceSet>>, owner: K, key: string, make: () => ResourceSet): ResourceSet {
  let entries = cache.get(owner);
  if (!entries) cache.set(owner, (entries = new Map<string, ResourceSet>()));
  let value = entries.get(key);
  if (!value) entries.set(key, (value = make()));
  return value;
}

/** Priorities depend on the proxy's region and zone only; subzones share their endpoints. */
const localityCacheKey = (l: Locality) => `${l.region}/${l.zone}`;

/** (1) One service's clusters, route configurations and API listeners. */
export function serviceOutboundResources(model: TenantModel, service: ServiceModel, options: OutboundOptions): ResourceSet {
  return memo(serviceOutboundCache, service, `${model.name}|${model.trustDomain}|${options.mtls}|${options.proxyless === true}`, () =>
    resourceSet({
      cluster: serviceClusters(service, { tenant: model.name, trustDomain: model.trustDomain, mtls: options.mtls, proxyless: options.proxyless === true }),
      route: serviceRouteConfigurations(service),
      listener: serviceApiListeners(service),
    }),
  );
}

/** (1) The tenant's shared outbound resources, for sidecars and proxyless clients alike; carries the model's warnings. */
export function tenantOutboundResources(model: TenantModel, options: OutboundOptions): ResourceSet {
  return memo(tenantCache, model, `outbound|${options.mtls}|${options.proxyless === true}`, () =>
    mergeResourceSets([resourceSet({ warnings: model.warnings }), ...model.services.map((s) => serviceOutboundResources(model, s, options))]),
  );
}

/** (1) The sidecars' outbound:<port> listeners and their route configurations, shared by every sidecar of the tenant. */
export function sidecarOutboundResources(model: TenantModel): ResourceSet {
  return memo(tenantCache, model, 'sidecar-outbound', () => {
    const generated = outboundPortListeners(model.services);
    return resourceSet({ listener: generated.listeners, route: generated.routes, warnings: generated.warnings });
  });
}

/** (2) One service's ClusterLoadAssignments as a proxy in `locality` must see them. */
export function serviceEndpointResources(service: ServiceModel, locality: Locality, options: OutboundOptions): ResourceSet {
  return memo(serviceEndpointCache, service, `${localityCacheKey(locality)}|${options.mtls}`, () => {
    const generated = serviceEndpoints(service, locality, options);
    return resourceSet({ endpoint: generated.resources, warnings: generated.warnings });
  });
}

/** (2) Every ClusterLoadAssignment of the tenant for proxies in `locality`. */
export function tenantEndpointResources(model: TenantModel, locality: Locality, options: OutboundOptions): ResourceSet {
  return memo(tenantCache, model, `endpoints|${localityCacheKey(locality)}|${options.mtls}`, () =>
    mergeResourceSets(model.services.map((s) => serviceEndpointResources(s, locality, options))),
  );
}

/**
 * (3) A sidecar's own resources: inbound listeners and the clusters to its
 * application, with a warning per outbound port its application holds.
 */
export function proxyOwnResources(model: TenantModel, proxy: ProxyDescription): ResourceSet {
  assertSameTenant(model, proxy);
  if (proxy.kind !== 'sidecar') return EMPTY_RESOURCE_SET;
  const inbound = inboundResources(model, proxy);
  const outbound = sidecarOutboundResources(model).listener.map((l) => l.name);
  const taken = [...outboundPortsTakenBy(proxy)].map(outboundPortName).filter((name) => outbound.includes(name));
  const warnings = taken.map((name) => ({ code: 'outbound-port-taken', message: `proxy ${proxy.id}: ${name} not generated: the proxy's own application or inbound listener uses that port` }));
  return resourceSet({ listener: inbound.listeners, cluster: inbound.clusters, warnings });
}

/** The tenant's outbound:<port> listeners minus the ports this sidecar's application holds; shared by sidecars holding the same ports. */
function sidecarOutboundFor(model: TenantModel, proxy: ProxyDescription): ResourceSet {
  const taken = [...outboundPortsTakenBy(proxy)].sort((a, b) => a - b);
  const all = sidecarOutboundResources(model);
  return memo(tenantCache, model, `sidecar-outbound|${taken.join(',')}`, () => {
    const names = new Set(taken.map(outboundPortName));
    const keep = (named: { name: string }) => !names.has(named.name);
    return resourceSet({ listener: all.listener.filter(keep), route: all.route.filter(keep) });
  });
}

/**
 * The parts one sidecar or proxyless client is made of, each shared with
 * every proxy that needs the same part: no work per proxy beyond its own
 * inbound side. A serving layer that composes snapshots from parts (rather
 * than one list per proxy) keeps 1,000 proxies × 1,000 services cheap.
 * An ingress is generated with ingressResources, for all its tenants at once.
 */
export function proxyResourceParts(model: TenantModel, proxy: ProxyDescription): ResourceSet[] {
  assertSameTenant(model, proxy);
  if (proxy.kind === 'ingress') throw new Error(`proxy ${proxy.id} is an ingress: generate it with ingressResources`);
  const shared = [tenantOutboundResources(model, { mtls: proxy.mtls, proxyless: proxy.kind === 'proxyless' }), tenantEndpointResources(model, proxy.locality, { mtls: proxy.mtls })];
  if (proxy.kind === 'proxyless') return shared;
  return [...shared, sidecarOutboundFor(model, proxy), proxyOwnResources(model, proxy)];
}

/**
 * Everything one sidecar or proxyless client gets, as one set. Warnings are
 * only the proxy's own: the shared parts' are in tenantOutboundResources /
 * sidecarOutboundResources, to log once per tenant.
 */
export function proxyResources(model: TenantModel, proxy: ProxyDescription): ResourceSet {
  const parts = proxyResourceParts(model, proxy);
  const own = proxy.kind === 'sidecar' ? parts[parts.length - 1]!.warnings : [];
  return { ...mergeResourceSets(parts), warnings: own };
}

/** Nothing of one tenant may ever reach another tenant's proxy. */
function assertSameTenant(model: TenantModel, proxy: ProxyDescription): void {
  if (proxy.tenant !== model.name) throw new Error(`proxy ${proxy.id} belongs to tenant "${proxy.tenant}", not "${model.name}"`);
}
