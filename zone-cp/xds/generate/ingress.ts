import { INGRESS_LISTENER_NAME, ingressSni } from '../../../core/xds/names.js';
import { clusterResilience, edsCluster } from './clusters.js';
import { renderClusterLoadAssignment, servesPort } from './endpoints.js';
import { tcpProxyFilter } from './http.js';
import type { ProxyDescription } from './input.js';
import type { TenantModel } from './model.js';
import { ingressClusterName } from './names.js';
import { resourceSet, type GenerationWarning, type NamedResource, type ResourceSet } from './output.js';
import { NESTED_TYPE, socketAddress, typed } from './proto-values.js';
import { compare } from './services.js';

export interface IngressInput {
  /** The ingress proxy: its locality orders the local endpoints. */
  proxy: ProxyDescription;
  /** Exactly the tenants this ingress serves; nothing of any other tenant is generated. */
  tenants: readonly TenantModel[];
  /** Port the ingress listens on (the advertised ingress address may be a NAT in front of it). */
  listenPort: number;
}

/**
 * The east-west ingress: one listener that reads the SNI without
 * terminating TLS and forwards the bytes, per (tenant, service, port,
 * subset), to that tenant's local endpoints, so mTLS stays end to end
 * between the two sidecars. Only services with endpoints in this zone are
 * served: there is nothing else to forward to. Pure.
 */
export function ingressResources(input: IngressInput): ResourceSet {
  const chains: { sni: string; chain: object }[] = [];
  const clusters: NamedResource[] = [];
  const endpoints: NamedResource[] = [];
  const warnings: GenerationWarning[] = [];
  const tenants = [...new Map(input.tenants.map((t) => [t.name, t])).values()].sort((a, b) => compare(a.name, b.name));
  for (const tenant of tenants) {
    for (const service of tenant.services) {
      for (const { port } of service.ports) {
        if (!service.local.some((e) => servesPort(e, port))) continue;
        for (const subset of [undefined, ...service.subsets]) {
          const sni = ingressSni(tenant.name, service.name, service.namespace, port, subset?.sniLabel);
          const cluster = ingressClusterName(tenant.name, service.name, service.namespace, port, subset?.tags);
          chains.push({ sni, chain: { name: sni, filter_chain_match: { server_names: [sni] }, filters: [tcpProxyFilter(cluster, cluster)] } });
          // The service's outlier detection and limits hold at the ingress too: it balances over the same local endpoints.
          clusters.push({ name: cluster, resource: { ...edsCluster(cluster, service.policies.Timeout?.spec.connect), ...clusterResilience(service) } });
          const assignment = renderClusterLoadAssignment(service, port, subset, input.proxy.locality, { clusterName: cluster, includeRemote: false });
          endpoints.push({ name: cluster, resource: assignment.resource });
          warnings.push(...assignment.warnings);
        }
      }
    }
  }
  // Envoy and gRPC both refuse a listener without filter chains: no local service, no listener (the port stays closed).
  if (!chains.length) {
    warnings.push({ code: 'ingress-empty', message: `ingress ${input.proxy.id}: no tenant it serves has local endpoints; no listener` });
    return resourceSet({ warnings });
  }
  const listener = {
    name: INGRESS_LISTENER_NAME,
    address: socketAddress('0.0.0.0', input.listenPort),
    traffic_direction: 'INBOUND',
    listener_filters: [{ name: 'envoy.filters.listener.tls_inspector', typed_config: typed(NESTED_TYPE.tlsInspector, {}) }],
    filter_chains: chains.sort((a, b) => compare(a.sni, b.sni)).map((c) => c.chain),
  };
  return resourceSet({ listener: [{ name: INGRESS_LISTENER_NAME, resource: listener }], cluster: clusters, endpoint: endpoints, warnings });
}
