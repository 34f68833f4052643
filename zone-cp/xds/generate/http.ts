import type { ResourceObject } from '../../../core/xds/protos.js';
import { ADS_CONFIG_SOURCE, NESTED_TYPE, statPrefix, typed } from './proto-values.js';

export const ROUTER_FILTER: ResourceObject = { name: 'envoy.filters.http.router', typed_config: typed(NESTED_TYPE.router, {}) };

export type RouteSource = { rds: string } | { inline: ResourceObject };

/**
 * What sidecar listeners let through as HTTP/1.1 upgrades: WebSocket, as
 * Istio does by default (without it Envoy answers an upgrade with 403).
 * Proxyless gRPC's API listeners get none.
 */
export const SIDECAR_UPGRADES: readonly string[] = ['websocket'];

/** An HttpConnectionManager (as a nested Any). Router is always last: Envoy needs a terminal filter and proxyless gRPC NACKs any other order. */
export function httpConnectionManager(name: string, routes: RouteSource, filters: readonly ResourceObject[] = [], upgrades: readonly string[] = []): ResourceObject {
  return typed(NESTED_TYPE.httpConnectionManager, {
    stat_prefix: statPrefix(name),
    codec_type: 'AUTO',
    ...('rds' in routes ? { rds: { config_source: ADS_CONFIG_SOURCE, route_config_name: routes.rds } } : { route_config: routes.inline }),
    http_filters: [...filters, ROUTER_FILTER],
    ...(upgrades.length ? { upgrade_configs: upgrades.map((upgrade_type) => ({ upgrade_type })) } : {}),
  });
}

export const httpConnectionManagerFilter = (hcm: ResourceObject): ResourceObject => ({ name: 'envoy.filters.network.http_connection_manager', typed_config: hcm });

export function tcpProxyFilter(name: string, cluster: string, idleTimeout?: ResourceObject): ResourceObject {
  return { name: 'envoy.filters.network.tcp_proxy', typed_config: typed(NESTED_TYPE.tcpProxy, { stat_prefix: statPrefix(name), cluster, ...(idleTimeout ? { idle_timeout: idleTimeout } : {}) }) };
}
