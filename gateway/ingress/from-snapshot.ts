/**
 * What an xDS snapshot means to the east-west ingress: the SNI routing
 * table, the tenants it serves, and per cluster the endpoints, outlier
 * detection and connect timeout. Pure; what it cannot use is left out and
 * said in `problems`, the rest still applies.
 *
 * The zone CP sends one listener, `ingress:sni`, with one filter chain per
 * SNI (`filter_chain_match.server_names`) whose TCP proxy names the cluster
 * `ingress|<tenant>|<service>.<namespace>.mesh:<port>[|<k=v,...>]`
 * (zone-cp/xds/generate/ingress.ts), and only for tenants placed in its
 * zone that have local endpoints (zone-cp/xds/generation.ts).
 */
import { INGRESS_LISTENER_NAME, parseIngressSni } from '../../core/xds/names.js';
import { compileCluster, compileLoadAssignment, type ClusterSettings } from '../config/index.js';
import type { LoadAssignment, OutlierDetectionInput } from '../lb/index.js';
import { TCP_PROXY_TYPE_URL, isObject, objectsIn, textOf } from '../xds/resources.js';
import type { XdsSnapshot } from '../xds/snapshot.js';
import type { IngressRoute, IngressRoutingTable } from './sni-router.js';

export interface IngressClusterConfig {
  /** The tenant whose endpoints these are (from the cluster name). */
  tenant: string;
  assignment: LoadAssignment;
  /** Undefined: the cluster has no outlier detection. */
  outlier: OutlierDetectionInput | undefined;
  connectTimeoutMs: number;
}

export interface IngressConfig {
  /** The `ingress:sni` listener's socket address; undefined when the snapshot has none (no tenant here has local endpoints). */
  listener: { address: string; port: number } | undefined;
  table: IngressRoutingTable;
  /** Tenants with at least one route: the tenants placed in this zone that have something to forward to. */
  placedTenants: Set<string>;
  /** Clusters the routes name, by name. */
  clusters: Map<string, IngressClusterConfig>;
  problems: string[];
}

interface ClusterTarget {
  tenant: string;
  service: string;
  namespace: string;
  port: number;
  subset: boolean;
}

const INGRESS_CLUSTER = /^ingress\|([^|]+)\|([^|]+)\.([^|.]+)\.mesh:(\d{1,5})(\|.+)?$/;

/** Reads `ingress|<tenant>|<service>.<namespace>.mesh:<port>[|<k=v,...>]` (zone-cp/xds/generate/names.ts `ingressClusterName`). */
export function parseIngressClusterName(name: string): ClusterTarget | undefined {
  const match = INGRESS_CLUSTER.exec(name);
  if (!match) return undefined;
  const [, tenant, service, namespace, port, subset] = match;
  return { tenant: tenant!, service: service!, namespace: namespace!, port: Number(port), subset: subset !== undefined };
}

/**
 * The ingress's config from a snapshot. Pure.
 *
 * A route's tenant is the one its cluster name says, not the one its SNI
 * says: the cluster is what decides whose endpoints receive the bytes, so
 * it is the tenant a connection will actually reach. Taking it from the SNI
 * would make the SNI router's tenant check (SNI's tenant = route's tenant)
 * compare the SNI with itself; taken from the cluster, a chain that sends
 * one tenant's SNI to another tenant's cluster is refused on every
 * connection ("tenant-mismatch"), and reported here. A chain whose SNI and
 * cluster disagree on service, namespace, port or subset is left out: the
 * ingress never sends a connection to another service than the SNI names.
 */
export function ingressConfigFromSnapshot(snapshot: XdsSnapshot): IngressConfig {
  const problems: string[] = [];
  const table: Record<string, IngressRoute> = {};
  const placedTenants = new Set<string>();
  const clusters = new Map<string, IngressClusterConfig>();

  for (const name of snapshot.listeners.keys()) {
    if (name !== INGRESS_LISTENER_NAME) problems.push(`listener ${name}: not the ingress listener (${INGRESS_LISTENER_NAME}); ignored`);
  }
  const listenerResource = snapshot.listeners.get(INGRESS_LISTENER_NAME);
  if (!listenerResource) return { listener: undefined, table, placedTenants, clusters, problems };
  const where = `listener ${INGRESS_LISTENER_NAME}`;
  const listener = socketAddressOf(listenerResource.address);
  if (!listener) problems.push(`${where}: no socket address`);
  if (isObject(listenerResource.default_filter_chain)) problems.push(`${where}: default_filter_chain ignored (the ingress forwards only SNIs it has a route for)`);

  for (const [index, chain] of objectsIn(listenerResource.filter_chains).entries()) {
    const chainWhere = `${where} filter chain ${textOf(chain.name) || index}`;
    const serverNames = isObject(chain.filter_chain_match) && Array.isArray(chain.filter_chain_match.server_names) ? chain.filter_chain_match.server_names.map(textOf).filter(Boolean) : [];
    if (!serverNames.length) {
      problems.push(`${chainWhere}: matches no server name; ignored (the ingress has no catch-all)`);
      continue;
    }
    const cluster = tcpProxyCluster(chain);
    if ('problem' in cluster) {
      problems.push(`${chainWhere}: ${cluster.problem}; ignored`);
      continue;
    }
    const target = parseIngressClusterName(cluster.name);
    if (!target) {
      problems.push(`${chainWhere}: cluster "${cluster.name}" is not an ingress cluster (ingress|<tenant>|<service>.<namespace>.mesh:<port>); ignored`);
      continue;
    }
    for (const serverName of serverNames) {
      const sni = serverName.toLowerCase();
      const parsed = parseIngressSni(sni);
      if (!parsed) {
        problems.push(`${chainWhere}: server name "${serverName}" is not an ingress SNI (<port>.<service>.<namespace>.<tenant>.mesh); ignored`);
        continue;
      }
      if (parsed.service !== target.service || parsed.namespace !== target.namespace || parsed.port !== target.port || (parsed.subset !== undefined) !== target.subset) {
        problems.push(`${chainWhere}: SNI ${sni} and cluster ${cluster.name} name different services; ignored`);
        continue;
      }
      if (parsed.tenant !== target.tenant) {
        problems.push(`${chainWhere}: SNI ${sni} names tenant "${parsed.tenant}" but cluster ${cluster.name} belongs to "${target.tenant}"; its connections will be refused`);
      }
      if (Object.hasOwn(table, sni)) {
        problems.push(`${chainWhere}: SNI ${sni} is already routed to ${table[sni]!.cluster}; this chain is ignored for it`);
        continue;
      }
      table[sni] = { tenant: target.tenant, cluster: cluster.name };
      placedTenants.add(target.tenant);
      if (!clusters.has(cluster.name)) {
        const config = clusterConfig(snapshot, cluster.name, target.tenant, problems);
        if (config) clusters.set(cluster.name, config);
      }
    }
  }
  return { listener, table, placedTenants, clusters, problems };
}

function socketAddressOf(address: unknown): { address: string; port: number } | undefined {
  const socket = isObject(address) ? address.socket_address : undefined;
  if (!isObject(socket) || !textOf(socket.address)) return undefined;
  const port = Number(socket.port_value ?? 0);
  return Number.isInteger(port) && port >= 0 && port <= 65535 ? { address: textOf(socket.address), port } : undefined;
}

/** The one cluster a chain's TCP proxy forwards to. */
function tcpProxyCluster(chain: Record<string, unknown>): { name: string } | { problem: string } {
  const proxies = objectsIn(chain.filters)
    .map((filter) => filter.typed_config)
    .filter((config): config is Record<string, unknown> => isObject(config) && config['@type'] === TCP_PROXY_TYPE_URL);
  if (proxies.length !== 1) return { problem: proxies.length ? 'more than one TCP proxy' : 'no TCP proxy filter' };
  const proxy = proxies[0]!;
  if (isObject(proxy.weighted_clusters)) return { problem: 'weighted_clusters is not supported on the ingress (one cluster per SNI)' };
  const name = textOf(proxy.cluster);
  return name ? { name } : { problem: 'the TCP proxy names no cluster' };
}

/**
 * A cluster with its endpoints, decoded as the sidecar decodes them
 * (gateway/config). A cluster it cannot compile, or an assignment it
 * cannot, leaves the cluster without endpoints (its SNIs get "no-endpoint"),
 * never with half of them.
 */
function clusterConfig(snapshot: XdsSnapshot, name: string, tenant: string, problems: string[]): IngressClusterConfig | undefined {
  const cluster = snapshot.clusters.get(name);
  if (!cluster) {
    problems.push(`cluster ${name}: not in the snapshot; its SNIs get no endpoint`);
    return undefined;
  }
  let settings: ClusterSettings;
  try {
    settings = compileCluster(cluster);
  } catch (error) {
    problems.push(`cluster ${name}: ${messageOf(error)}; its SNIs get no endpoint`);
    return undefined;
  }
  const localityWeighted = isObject(cluster.common_lb_config) && cluster.common_lb_config.locality_weighted_lb_config !== undefined;
  let assignment: LoadAssignment = settings.staticAssignment ?? { levels: [] };
  if (settings.kind === 'eds') {
    const edsName = settings.edsName ?? name;
    const resource = snapshot.endpoints.get(edsName);
    if (!resource) problems.push(`cluster ${name}: no ClusterLoadAssignment ${edsName}; it has no endpoints until one comes`);
    else {
      try {
        assignment = compileLoadAssignment(resource, { localityWeighted });
      } catch (error) {
        problems.push(`cluster ${name}: ClusterLoadAssignment ${edsName}: ${messageOf(error)}; it has no endpoints`);
      }
    }
  }
  return { tenant, assignment, outlier: settings.outlierDetection, connectTimeoutMs: settings.connectTimeoutMs };
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));
