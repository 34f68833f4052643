import { isIP } from 'node:net';
import type { V1Endpoint, DiscoveryV1EndpointPort, V1EndpointSlice, V1Namespace, V1Pod, V1Service, V1ServicePort } from '@kubernetes/client-node';
import { DNS1123_LABEL_PATTERN } from '../../core/schemas/common.js';
import type { InboundPort, Locality, Protocol } from '../../core/schemas/dataplane.js';
import { endpointKey, type LocalEndpoint } from './model.js';

/** Namespace label naming the tenant a namespace belongs to; namespaces without it are not in the mesh. */
export const TENANT_LABEL = 'meshfed.io/tenant';
/** EndpointSlice label naming its Service (set by the EndpointSlice controller). */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
export const REGION_LABEL = 'topology.kubernetes.io/region';
export const ZONE_LABEL = 'topology.kubernetes.io/zone';

const TENANT_NAME = new RegExp(DNS1123_LABEL_PATTERN);
const PROTOCOLS: Record<string, Protocol> = { http: 'http', http2: 'http2', grpc: 'grpc', tcp: 'tcp', 'kubernetes.io/h2c': 'http2' };

/** A pod's tenant label that disagrees with its namespace's (the namespace wins). */
export interface TenantConflict {
  namespace: string;
  pod: string;
  podTenant: string;
  namespaceTenant: string;
}

/**
 * Tenant of each mesh namespace. A label value that is not a DNS-1123 label
 * cannot be a tenant name (it would break NATS subjects and SNI names), so such
 * a namespace is left out of the mesh like an unlabelled one.
 */
export function tenantsByNamespace(namespaces: readonly V1Namespace[]): Map<string, string> {
  const tenants = new Map<string, string>();
  for (const ns of namespaces) {
    const tenant = ns.metadata?.labels?.[TENANT_LABEL];
    if (ns.metadata?.name && tenant && TENANT_NAME.test(tenant)) tenants.set(ns.metadata.name, tenant);
  }
  return tenants;
}

/** Pods of mesh namespaces whose own tenant label names another tenant. Pure; the caller logs them. */
export function podTenantConflicts(namespaces: readonly V1Namespace[], pods: readonly V1Pod[]): TenantConflict[] {
  const tenants = tenantsByNamespace(namespaces);
  const conflicts: TenantConflict[] = [];
  for (const pod of pods) {
    const namespace = pod.metadata?.namespace ?? '';
    const namespaceTenant = tenants.get(namespace);
    const podTenant = pod.metadata?.labels?.[TENANT_LABEL];
    if (namespaceTenant && podTenant !== undefined && podTenant !== namespaceTenant) {
      conflicts.push({ namespace, pod: pod.metadata?.name ?? '', podTenant, namespaceTenant });
    }
  }
  return conflicts;
}

/**
 * Mesh protocol of a Service port: a known `appProtocol` first (the Kubernetes
 * field meant for this), then Istio's naming convention `<protocol>[-<suffix>]`
 * (so existing Istio manifests keep their meaning), else plain TCP.
 */
export function portProtocol(port: Pick<V1ServicePort, 'name' | 'appProtocol'>): Protocol {
  const fromAppProtocol = port.appProtocol ? PROTOCOLS[port.appProtocol.toLowerCase()] : undefined;
  if (fromAppProtocol) return fromAppProtocol;
  const prefix = (port.name ?? '').toLowerCase().split('-')[0] ?? '';
  return PROTOCOLS[prefix] ?? 'tcp';
}

/**
 * The ports an endpoint of `slice` serves, from its Service's ports. A numeric
 * targetPort is used as is; a named one is resolved through the slice's port of
 * the same (Service port) name, which the EndpointSlice controller fills with
 * the container port of the pods in that slice; unresolvable ports are left
 * out. Only TCP ports: the mesh proxies carry nothing else.
 */
export function servicePorts(service: V1Service, slice: V1EndpointSlice): InboundPort[] {
  const ports: InboundPort[] = [];
  for (const sp of service.spec?.ports ?? []) {
    if ((sp.protocol ?? 'TCP') !== 'TCP') continue;
    const target = resolveTargetPort(sp, slice.ports ?? []);
    if (target === undefined) continue;
    ports.push({
      port: sp.port,
      ...(target !== sp.port ? { targetPort: target } : {}),
      protocol: portProtocol(sp),
      ...(sp.name ? { name: sp.name } : {}),
    });
  }
  return ports;
}

function resolveTargetPort(sp: V1ServicePort, slicePorts: readonly DiscoveryV1EndpointPort[]): number | undefined {
  const target = sp.targetPort;
  if (target === undefined || target === '') return sp.port;
  if (typeof target === 'number') return target;
  if (/^[0-9]+$/.test(target)) return Number(target);
  const match = slicePorts.find((p) => (p.name ?? '') === (sp.name ?? '') && (p.protocol ?? 'TCP') === 'TCP');
  return match?.port ?? undefined;
}

/** Serving traffic: `ready` unset counts as ready (the API's rule); a terminating endpoint is draining. */
export function endpointHealthy(endpoint: Pick<V1Endpoint, 'conditions'>): boolean {
  return endpoint.conditions?.ready !== false && endpoint.conditions?.terminating !== true;
}

/**
 * Locality of an endpoint. The node's topology labels are not visible without
 * watching Nodes, so:
 * - zone: the endpoint's `zone` (the EndpointSlice controller copies it from
 *   the node's `topology.kubernetes.io/zone`), else the pod's own
 *   `topology.kubernetes.io/zone` label, else the zone CP's default zone;
 * - region: the pod's `topology.kubernetes.io/region` label, else the zone
 *   CP's default region (a cluster rarely spans regions).
 */
export function endpointLocality(endpoint: Pick<V1Endpoint, 'zone'>, pod: V1Pod | undefined, defaults: Locality): Locality {
  const labels = pod?.metadata?.labels ?? {};
  return {
    region: labels[REGION_LABEL] || defaults.region,
    zone: endpoint.zone || labels[ZONE_LABEL] || defaults.zone,
    ...(defaults.subzone ? { subzone: defaults.subzone } : {}),
  };
}

/** Pod labels as endpoint tags, without meshfed's own labels and the per-rollout hash (it would split subsets on every deploy). */
export function podTags(pod: V1Pod | undefined): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const [key, value] of Object.entries(pod?.metadata?.labels ?? {})) {
    if (!key.startsWith('meshfed.io/') && key !== 'pod-template-hash') tags[key] = value;
  }
  return tags;
}

export interface MappingDefaults {
  /** Locality of endpoints whose pod and slice say nothing about it. */
  locality: Locality;
}

/**
 * The zone's mesh endpoints from the four watched kinds. Pure.
 *
 * An endpoint whose targetRef names a pod that is not (yet) known is left out
 * rather than guessed: the pod's service account is its mTLS identity. An
 * endpoint listed in several slices of one service (dual-stack, or mid-move
 * between slices) is one endpoint: IPv4 slices first, then by slice name, and
 * a healthy listing wins over an unhealthy one.
 */
export function mapKubernetesEndpoints(
  namespaces: readonly V1Namespace[],
  services: readonly V1Service[],
  slices: readonly V1EndpointSlice[],
  pods: readonly V1Pod[],
  defaults: MappingDefaults,
): LocalEndpoint[] {
  const tenants = tenantsByNamespace(namespaces);
  const serviceByKey = new Map(services.map((s) => [`${s.metadata?.namespace}/${s.metadata?.name}`, s]));
  const podByKey = new Map(pods.map((p) => [`${p.metadata?.namespace}/${p.metadata?.name}`, p]));
  const result = new Map<string, LocalEndpoint>();
  for (const slice of [...slices].sort(sliceOrder)) {
    const namespace = slice.metadata?.namespace ?? '';
    const tenant = tenants.get(namespace);
    const serviceName = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
    const service = serviceByKey.get(`${namespace}/${serviceName}`);
    if (!tenant || !serviceName || !service || slice.addressType === 'FQDN') continue;
    const ports = servicePorts(service, slice);
    if (ports.length === 0) continue;
    for (const ep of slice.endpoints ?? []) {
      const address = ep.addresses?.[0];
      if (!address || !isIP(address)) continue;
      const ref = ep.targetRef;
      // A pod of another namespace would borrow this namespace's tenant: never.
      const pod = ref?.kind === 'Pod' && (ref.namespace ?? namespace) === namespace ? podByKey.get(`${namespace}/${ref.name}`) : undefined;
      if (ref?.kind === 'Pod' && !pod) continue;
      const endpoint: LocalEndpoint = {
        tenant,
        namespace,
        service: serviceName,
        instance: pod?.metadata?.name ?? address,
        address,
        ports,
        serviceAccount: pod?.spec?.serviceAccountName || 'default',
        tags: podTags(pod),
        locality: endpointLocality(ep, pod, defaults.locality),
        healthy: endpointHealthy(ep),
      };
      const key = endpointKey(endpoint);
      const seen = result.get(key);
      if (!seen || (endpoint.healthy && !seen.healthy)) result.set(key, endpoint);
    }
  }
  return [...result.values()].sort((a, b) => endpointKey(a).localeCompare(endpointKey(b)));
}

function sliceOrder(a: V1EndpointSlice, b: V1EndpointSlice): number {
  const v4 = Number(b.addressType === 'IPv4') - Number(a.addressType === 'IPv4');
  return v4 || (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? '');
}
