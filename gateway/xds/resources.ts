import type { ResourceType } from '../../core/xds/protos.js';

/** An xDS resource as `decodeResource` returns it: proto field names, enums as names, nested Anys as `{ '@type', ...fields }`. */
export type DecodedResource = Record<string, unknown>;

export const HCM_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
export const TCP_PROXY_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';
export const ROUTER_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

export const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
export const objectsIn = (value: unknown): Record<string, unknown>[] => (Array.isArray(value) ? value.filter(isObject) : []);
export const textOf = (value: unknown): string => (typeof value === 'string' ? value : '');

/** A resource's name: `cluster_name` for a ClusterLoadAssignment, `name` for the others. */
export function resourceName(type: ResourceType, resource: DecodedResource): string {
  return textOf(type === 'endpoint' ? resource.cluster_name : resource.name);
}

/** Every network filter of a listener: its filter chains' and its default chain's. */
export function listenerFilters(listener: DecodedResource): Record<string, unknown>[] {
  const chains = [...objectsIn(listener.filter_chains), ...(isObject(listener.default_filter_chain) ? [listener.default_filter_chain] : [])];
  return chains.flatMap((chain) => objectsIn(chain.filters));
}

/** Every HttpConnectionManager of a listener: in its filters, or its API listener (proxyless form). */
export function httpConnectionManagers(listener: DecodedResource): Record<string, unknown>[] {
  const fromFilters = listenerFilters(listener)
    .map((filter) => filter.typed_config)
    .filter((config): config is Record<string, unknown> => isObject(config) && config['@type'] === HCM_TYPE_URL);
  const api = isObject(listener.api_listener) ? listener.api_listener.api_listener : undefined;
  return [...fromFilters, ...(isObject(api) && api['@type'] === HCM_TYPE_URL ? [api] : [])];
}

/** Route configurations a listener takes from RDS (`rds.route_config_name` of its HttpConnectionManagers). Pure. */
export function routeConfigNames(listener: DecodedResource): string[] {
  return unique(httpConnectionManagers(listener).map((hcm) => (isObject(hcm.rds) ? textOf(hcm.rds.route_config_name) : '')));
}

/** The EDS name of a cluster (`eds_cluster_config.service_name`, else its name), or undefined when it is not an EDS cluster. Pure. */
export function edsServiceName(cluster: DecodedResource): string | undefined {
  if (cluster.type !== 'EDS') return undefined;
  const serviceName = isObject(cluster.eds_cluster_config) ? textOf(cluster.eds_cluster_config.service_name) : '';
  return serviceName || textOf(cluster.name) || undefined;
}

/** Clusters a route action names: `cluster`, or each of `weighted_clusters`. */
function actionClusters(action: unknown): string[] {
  if (!isObject(action)) return [];
  const weighted = isObject(action.weighted_clusters) ? objectsIn(action.weighted_clusters.clusters).map((c) => textOf(c.name)) : [];
  return [textOf(action.cluster), ...weighted];
}

/** Clusters a route configuration sends traffic to. Pure. */
export function routeConfigClusters(routeConfig: DecodedResource): string[] {
  return unique(objectsIn(routeConfig.virtual_hosts).flatMap((host) => objectsIn(host.routes).flatMap((route) => actionClusters(route.route))));
}

/** Clusters a listener sends traffic to directly: its TCP proxies' and its inline route configurations'. Pure. */
export function listenerClusters(listener: DecodedResource): string[] {
  const tcp = listenerFilters(listener)
    .map((filter) => filter.typed_config)
    .filter((config): config is Record<string, unknown> => isObject(config) && config['@type'] === TCP_PROXY_TYPE_URL)
    .flatMap((config) => actionClusters(config));
  const inline = httpConnectionManagers(listener).flatMap((hcm) => (isObject(hcm.route_config) ? routeConfigClusters(hcm.route_config) : []));
  return unique([...tcp, ...inline]);
}

function unique(names: string[]): string[] {
  return [...new Set(names.filter(Boolean))].sort();
}
