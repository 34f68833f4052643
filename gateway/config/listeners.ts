/**
 * Listener → ListenerSettings: where to listen, what to terminate (TLS),
 * whom to let in (RBAC) and what to do with the connection (TCP proxy or
 * HTTP routing). Pure.
 *
 * Only sidecar listeners are compiled: a socket address and one filter
 * chain. Skipped without a word (undefined): API listeners (proxyless
 * gRPC's), and listeners with several filter chains or SNI-matched chains
 * (the ingress's, which the ingress gateway compiles itself).
 *
 * Filters: an optional network RBAC filter, then a TCP proxy or an HTTP
 * connection manager, nothing after; HTTP filters: an optional RBAC filter,
 * then the router. Anything else is a problem, since a filter left out
 * would be a check or a transformation silently not done.
 */
import { HCM_TYPE_URL, TCP_PROXY_TYPE_URL, ROUTER_TYPE_URL, isObject, objectsIn, textOf } from '../xds/resources.js';
import type { AccessPolicy, ListenerFilter, ListenerSettings, RouteTable } from './model.js';
import { socketAddress } from './endpoints.js';
import { fail, within } from './problems.js';
import { bothAllow, compileRbacFilter } from './rbac.js';
import { RegexCache } from './regex.js';
import { compileActionClusters } from './route-action.js';
import { compileRouteConfiguration } from './routes.js';
import { compileDownstreamTls } from './tls.js';
import { durationMs, isSet, setFields, typeUrlOf, wrappedBool } from './values.js';

export const NETWORK_RBAC_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC';
export const HTTP_RBAC_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC';
const TLS_INSPECTOR_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector';

/** Envoy's TCP proxy idle timeout when none is set. */
export const DEFAULT_TCP_IDLE_TIMEOUT_MS = 3_600_000;

const DIRECTIONS: Readonly<Record<string, ListenerSettings['direction']>> = { INBOUND: 'inbound', OUTBOUND: 'outbound', UNSPECIFIED: 'unspecified' };

/** Compiles a Listener; undefined when it is not a sidecar listener (see above). Throws a ConfigProblem. */
export function compileListener(listener: Record<string, unknown>, regexes: RegexCache = new RegexCache()): ListenerSettings | undefined {
  if (listener.api_listener !== undefined) return undefined;
  const chains = [...objectsIn(listener.filter_chains), ...(isObject(listener.default_filter_chain) ? [listener.default_filter_chain] : [])];
  if (chains.length > 1) return undefined;
  const chain = chains[0];
  if (!chain) return fail('no filter chain');
  const match = isObject(chain.filter_chain_match) ? chain.filter_chain_match : {};
  if (isSet(match.server_names)) return undefined;
  // One chain that matches only some connections would need the runtime to refuse the others.
  const matched = Object.keys(match).filter((k) => isSet(match[k]));
  if (matched.length) fail(`filter_chain_match ${matched.join(', ')} is not supported`);
  checkListenerFilters(listener);
  const { address, port } = within('address', () => socketAddress(listener.address));
  const tls = within('transport_socket', () => compileDownstreamTls(chain.transport_socket));
  return {
    name: textOf(listener.name),
    address,
    port,
    direction: DIRECTIONS[textOf(listener.traffic_direction) || 'UNSPECIFIED'] ?? fail(`unknown traffic_direction ${String(listener.traffic_direction)}`),
    ...(tls ? { tls } : {}),
    filter: compileFilters(objectsIn(chain.filters), regexes),
  };
}

/** Listener filters only help pick a filter chain; the TLS inspector is harmless, any other would change the byte stream or the chain. */
function checkListenerFilters(listener: Record<string, unknown>): void {
  for (const filter of objectsIn(listener.listener_filters)) {
    if (typeUrlOf(filter.typed_config) !== TLS_INSPECTOR_TYPE_URL) fail(`unsupported listener filter ${textOf(filter.name) || typeUrlOf(filter.typed_config)}`);
  }
}

const filterName = (filter: Record<string, unknown>) => textOf(filter.name) || typeUrlOf(filter.typed_config) || '(unnamed)';

/** [network RBAC] then TCP proxy or HTTP connection manager. */
function compileFilters(filters: Record<string, unknown>[], regexes: RegexCache): ListenerFilter {
  let access: AccessPolicy | undefined;
  let next = 0;
  const first = filters[0];
  if (first && typeUrlOf(first.typed_config) === NETWORK_RBAC_TYPE_URL) {
    access = within(`filter ${filterName(first)}`, () => compileRbacFilter(first.typed_config as Record<string, unknown>, regexes));
    next = 1;
  }
  const terminal = filters[next];
  if (!terminal) return fail('no TCP proxy or HTTP connection manager');
  const after = filters[next + 1];
  if (after) fail(`unsupported filter ${filterName(after)} after ${filterName(terminal)}`);
  const config = terminal.typed_config;
  if (!isObject(config)) return fail(`unsupported filter ${filterName(terminal)}`);
  switch (typeUrlOf(config)) {
    case TCP_PROXY_TYPE_URL:
      return within(`filter ${filterName(terminal)}`, () => compileTcpProxy(config, access));
    case HCM_TYPE_URL:
      return within(`filter ${filterName(terminal)}`, () => compileHttpConnectionManager(config, access, regexes));
    default:
      return fail(`unsupported filter ${filterName(terminal)}`);
  }
}

/** TcpProxy: cluster or weighted_clusters; idle_timeout absent → Envoy's 1 h, 0 → none. */
function compileTcpProxy(config: Record<string, unknown>, access: AccessPolicy | undefined): ListenerFilter {
  const unsupported = setFields(config, ['tunneling_config', 'on_demand', 'metadata_match']);
  if (unsupported.length) fail(`unsupported ${unsupported.join(', ')}`);
  const idle = durationMs(config.idle_timeout, 'idle_timeout') ?? DEFAULT_TCP_IDLE_TIMEOUT_MS;
  return {
    kind: 'tcp',
    clusters: compileActionClusters(config),
    ...(idle > 0 ? { idleTimeoutMs: idle } : {}),
    ...(access ? { access } : {}),
    statPrefix: textOf(config.stat_prefix),
  };
}

/**
 * HttpConnectionManager: routes from RDS or inline; HTTP filters [RBAC]
 * then router. Stripping the port from the authority (strip_*_host_port)
 * changes virtual host selection and the upstream Host for RDS tables
 * compiled on their own: a problem rather than a silent difference.
 */
function compileHttpConnectionManager(config: Record<string, unknown>, networkAccess: AccessPolicy | undefined, regexes: RegexCache): ListenerFilter {
  if (config.strip_any_host_port === true || config.strip_matching_host_port === true) fail('strip_any_host_port / strip_matching_host_port are not supported');
  if (setFields(config, ['scoped_routes']).length) fail('scoped_routes is not supported');
  let routes: { rds: string } | { inline: RouteTable };
  if (isObject(config.rds) && textOf(config.rds.route_config_name)) routes = { rds: textOf(config.rds.route_config_name) };
  else if (isObject(config.route_config)) {
    const inline = config.route_config;
    routes = { inline: within(`route_config ${textOf(inline.name)}`, () => compileRouteConfiguration(inline, regexes)) };
  } else return fail('no rds or route_config');
  const access = bothAllow(networkAccess, compileHttpFilters(objectsIn(config.http_filters), regexes));
  const upgrades = within('upgrade_configs', () => compileUpgradeConfigs(objectsIn(config.upgrade_configs)));
  return { kind: 'http', routes, ...(access ? { access } : {}), statPrefix: textOf(config.stat_prefix), upgrades };
}

/**
 * upgrade_configs → the upgrade types enabled, lowercase (Envoy compares them
 * case-insensitively); `enabled: false` leaves one out. An upgrade with its
 * own filter chain (`filters`) is a problem: the runtime has none to run.
 */
function compileUpgradeConfigs(configs: Record<string, unknown>[]): string[] {
  const types: string[] = [];
  for (const upgrade of configs) {
    const type = textOf(upgrade.upgrade_type).trim().toLowerCase();
    if (!type) fail('an upgrade config without upgrade_type');
    if (objectsIn(upgrade.filters).length) fail(`upgrade ${type}: upgrade-specific filters are not supported`);
    // A BoolValue false may arrive as an empty message ({}): wrappedBool reads it as false.
    const enabled = wrappedBool(upgrade.enabled) !== false;
    if (enabled && !types.includes(type)) types.push(type);
  }
  return types;
}

/** [envoy.filters.http.rbac] then envoy.filters.http.router, last. Returns the RBAC policy, if any. */
function compileHttpFilters(filters: Record<string, unknown>[], regexes: RegexCache): AccessPolicy | undefined {
  const last = filters[filters.length - 1];
  if (!last || typeUrlOf(last.typed_config) !== ROUTER_TYPE_URL) fail('the last HTTP filter must be the router');
  let access: AccessPolicy | undefined;
  for (const [i, filter] of filters.slice(0, -1).entries()) {
    if (i > 0 || typeUrlOf(filter.typed_config) !== HTTP_RBAC_TYPE_URL) fail(`unsupported HTTP filter ${filterName(filter)}`);
    // A disabled filter runs only where a route enables it, which the runtime cannot do.
    if (filter.disabled === true) fail(`HTTP filter ${filterName(filter)}: disabled filters are not supported`);
    access = within(`HTTP filter ${filterName(filter)}`, () => compileRbacFilter(filter.typed_config as Record<string, unknown>, regexes));
  }
  return access;
}
