import { isIP } from 'node:net';
import type { InboundPort, Protocol } from '../../../core/schemas/dataplane.js';
import { inboundListenerName } from '../../../core/xds/names.js';
import type { ResourceObject } from '../../../core/xds/protos.js';
import { DEFAULT_CONNECT_TIMEOUT, http2ProtocolOptions } from './clusters.js';
import { SIDECAR_UPGRADES, httpConnectionManager, httpConnectionManagerFilter, tcpProxyFilter } from './http.js';
import type { ProxyDescription } from './input.js';
import type { TenantModel } from './model.js';
import { inboundClusterName } from './names.js';
import type { NamedResource } from './output.js';
import { matchPolicy } from './policy-match.js';
import { duration, durationFromMs, socketAddress } from './proto-values.js';
import { httpRbacFilter, networkRbacFilter, permissionRbac } from './rbac.js';
import { catalogueKey, isHttpProtocol, usesHttp2 } from './services.js';
import { downstreamTlsSocket } from './tls.js';

/** Where the application behind a sidecar listens. */
export const APPLICATION_ADDRESS = '127.0.0.1';

/**
 * A sidecar's inbound side: per own port, a listener that terminates mTLS,
 * applies the service's TrafficPermission and forwards to the application,
 * plus the STATIC cluster to the application. Pure.
 *
 * With no TrafficPermission for the service every caller of the tenant is
 * allowed (mTLS with the tenant's bundle still keeps other tenants out),
 * as Istio and Kuma do without a policy. A proxy without mTLS still gets the
 * RBAC filter: no identity is ever authenticated there, so a permission
 * policy fails closed instead of silently allowing everyone.
 */
export function inboundResources(model: TenantModel, proxy: ProxyDescription): { listeners: NamedResource[]; clusters: NamedResource[] } {
  const permission = matchPolicy(model.policies, 'TrafficPermission', { name: proxy.service ?? '', namespace: proxy.namespace });
  const rbac = permission ? permissionRbac(permission, model.trustDomain) : undefined;
  const bindAddress = proxy.address && isIP(proxy.address) ? proxy.address : '0.0.0.0';
  const ports = [...new Map(proxy.inbound.map((p) => [p.port, p])).values()].sort((a, b) => a.port - b.port);
  const listeners: NamedResource[] = [];
  const clusters: NamedResource[] = [];
  for (const inbound of ports) {
    const protocol = protocolOf(model, proxy, inbound);
    const name = inboundListenerName(inbound.port);
    const cluster = inboundClusterName(inbound.port);
    const http = isHttpProtocol(protocol);
    const filters = http
      ? [httpConnectionManagerFilter(httpConnectionManager(name, { inline: inboundRoutes(name, cluster) }, rbac ? [httpRbacFilter(rbac)] : [], SIDECAR_UPGRADES))]
      : [...(rbac ? [networkRbacFilter(rbac, name)] : []), tcpProxyFilter(name, cluster)];
    const chain = { filters, ...(proxy.mtls ? { transport_socket: downstreamTlsSocket(http) } : {}) };
    // Binding the workload's own address (when known) leaves 127.0.0.1:<port> to the application and the outbound side.
    listeners.push({ name, resource: { name, address: socketAddress(bindAddress, inbound.port), traffic_direction: 'INBOUND', filter_chains: [chain] } });
    clusters.push({ name: cluster, resource: applicationCluster(cluster, inbound.targetPort ?? inbound.port, protocol) });
  }
  return { listeners, clusters };
}

/** The registration's protocol, else the catalogue's for that port, else tcp. */
function protocolOf(model: TenantModel, proxy: ProxyDescription, inbound: InboundPort): Protocol {
  if (inbound.protocol) return inbound.protocol;
  const service = proxy.service ? model.byKey.get(catalogueKey({ namespace: proxy.namespace, name: proxy.service })) : undefined;
  return service?.ports.find((p) => p.port === inbound.port)?.protocol ?? 'tcp';
}

/**
 * Everything to the application. The route timeout is switched off: the
 * caller's side enforces the Timeout policy, and Envoy's implicit 15 s here
 * would cut long requests and streams the policy allows.
 */
function inboundRoutes(name: string, cluster: string): ResourceObject {
  return { name, virtual_hosts: [{ name, domains: ['*'], routes: [{ name: 'application', match: { prefix: '/' }, route: { cluster, timeout: durationFromMs(0) } }] }] };
}

function applicationCluster(name: string, port: number, protocol: Protocol): ResourceObject {
  return {
    name,
    type: 'STATIC',
    connect_timeout: duration(DEFAULT_CONNECT_TIMEOUT),
    lb_policy: 'ROUND_ROBIN',
    load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress(APPLICATION_ADDRESS, port) } }] }] },
    ...(usesHttp2(protocol) ? { typed_extension_protocol_options: http2ProtocolOptions() } : {}),
  };
}
