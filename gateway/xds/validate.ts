import { isIP } from 'node:net';
import { re2SyntaxError } from '../../core/re2-syntax.js';
import type { ResourceType } from '../../core/xds/protos.js';
import { HCM_TYPE_URL, ROUTER_TYPE_URL, TCP_PROXY_TYPE_URL, isObject, objectsIn, resourceName, textOf, type DecodedResource } from './resources.js';

/** Says what is wrong with a resource, or undefined when the gateway can apply it. */
export type ResourceValidator = (type: ResourceType, resource: DecodedResource) => string | undefined;

const validPort = (value: unknown) => typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65535;

/** A socket address: an IP literal (the gateway resolves no host names, like proxyless gRPC) and a port. */
function socketAddressProblem(address: unknown, what: string): string | undefined {
  const socket = isObject(address) ? address.socket_address : undefined;
  if (!isObject(socket)) return `${what} has no socket address`;
  if (!isIP(textOf(socket.address))) return `${what} address "${textOf(socket.address)}" is not an IP literal`;
  if (!validPort(socket.port_value)) return `${what} port must be 1-65535`;
  return undefined;
}

function regexProblem(regex: unknown, where: string): string | undefined {
  if (!isObject(regex)) return undefined;
  const problem = re2SyntaxError(textOf(regex.regex));
  return problem ? `${where}: regex "${textOf(regex.regex)}": ${problem}` : undefined;
}

function weightedClustersProblem(weighted: Record<string, unknown>, where: string): string | undefined {
  const clusters = objectsIn(weighted.clusters);
  if (!clusters.length) return `${where}: weighted_clusters is empty`;
  if (clusters.some((c) => !textOf(c.name))) return `${where}: a weighted cluster has no name`;
  const weight = (c: Record<string, unknown>) => (isObject(c.weight) && typeof c.weight.value === 'number' ? c.weight.value : 0);
  if (clusters.reduce((sum, c) => sum + weight(c), 0) <= 0) return `${where}: the weights of weighted_clusters add up to 0`;
  return undefined;
}

/** A route configuration, from RDS or inline in a listener. */
function routeConfigProblem(config: Record<string, unknown>): string | undefined {
  for (const host of objectsIn(config.virtual_hosts)) {
    const hostName = textOf(host.name) || '(unnamed)';
    if (!Array.isArray(host.domains) || !host.domains.some((d) => textOf(d))) return `virtual host ${hostName} has no domains`;
    for (const [index, route] of objectsIn(host.routes).entries()) {
      const where = `virtual host ${hostName} route ${textOf(route.name) || index}`;
      const match = route.match;
      if (!isObject(match) || !['prefix', 'path', 'safe_regex', 'path_separated_prefix'].some((k) => k in match)) return `${where} has no path match`;
      const problem = regexProblem(match.safe_regex, where) ?? objectsIn(match.headers).map((h) => regexProblem(isObject(h.string_match) ? h.string_match.safe_regex : h.safe_regex_match, `${where} header ${textOf(h.name)}`)).find(Boolean);
      if (problem) return problem;
      if (isObject(route.route)) {
        const action = route.route;
        if (isObject(action.weighted_clusters)) {
          const weighted = weightedClustersProblem(action.weighted_clusters, where);
          if (weighted) return weighted;
        } else if (!textOf(action.cluster) && !textOf(action.cluster_header)) return `${where} names no cluster`;
      } else if (!isObject(route.redirect) && !isObject(route.direct_response)) return `${where} has no action (route, redirect or direct_response)`;
    }
  }
  return undefined;
}

function httpConnectionManagerProblem(hcm: Record<string, unknown>, where: string): string | undefined {
  if (isObject(hcm.rds)) {
    if (!textOf(hcm.rds.route_config_name)) return `${where}: rds names no route configuration`;
  } else if (isObject(hcm.route_config)) {
    const problem = routeConfigProblem(hcm.route_config);
    if (problem) return `${where}: ${problem}`;
  } else return `${where}: neither rds nor route_config`;
  const httpFilters = objectsIn(hcm.http_filters);
  for (const filter of httpFilters) {
    if (!isObject(filter.typed_config) || !filter.typed_config['@type']) return `${where}: HTTP filter ${textOf(filter.name) || '(unnamed)'} has no config of a known type`;
  }
  const last = httpFilters.at(-1);
  if (last && (last.typed_config as Record<string, unknown>)['@type'] !== ROUTER_TYPE_URL) return `${where}: the router must be the last HTTP filter`;
  return undefined;
}

function listenerProblem(listener: DecodedResource): string | undefined {
  const api = isObject(listener.api_listener) ? listener.api_listener.api_listener : undefined;
  if (isObject(api)) return api['@type'] === HCM_TYPE_URL ? httpConnectionManagerProblem(api, 'api_listener') : 'api_listener holds no HttpConnectionManager';
  const address = socketAddressProblem(listener.address, 'listener');
  if (address) return address;
  const chains = [...objectsIn(listener.filter_chains), ...(isObject(listener.default_filter_chain) ? [listener.default_filter_chain] : [])];
  if (!chains.length) return 'no filter chains';
  for (const [index, chain] of chains.entries()) {
    const chainName = textOf(chain.name) || String(index);
    const filters = objectsIn(chain.filters);
    if (!filters.length) return `filter chain ${chainName} has no filters`;
    for (const filter of filters) {
      const where = `filter chain ${chainName} filter ${textOf(filter.name) || '(unnamed)'}`;
      const config = filter.typed_config;
      if (!isObject(config) || !config['@type']) return `${where} has no config of a known type`;
      if (config['@type'] === HCM_TYPE_URL) {
        const problem = httpConnectionManagerProblem(config, where);
        if (problem) return problem;
      }
      if (config['@type'] === TCP_PROXY_TYPE_URL) {
        if (isObject(config.weighted_clusters)) {
          const problem = weightedClustersProblem(config.weighted_clusters, where);
          if (problem) return problem;
        } else if (!textOf(config.cluster)) return `${where} names no cluster`;
      }
    }
    if (isObject(chain.transport_socket) && (!isObject(chain.transport_socket.typed_config) || !chain.transport_socket.typed_config['@type'])) return `filter chain ${chainName}: transport socket of an unknown type`;
  }
  return undefined;
}

function loadAssignmentProblem(assignment: Record<string, unknown>): string | undefined {
  const priorities = new Set<number>();
  const seen = new Set<string>();
  for (const locality of objectsIn(assignment.endpoints)) {
    const priority = locality.priority ?? 0;
    if (typeof priority !== 'number' || !Number.isInteger(priority) || priority < 0) return 'a locality has an invalid priority';
    priorities.add(priority);
    for (const lbEndpoint of objectsIn(locality.lb_endpoints)) {
      if (!isObject(lbEndpoint.endpoint)) return 'an endpoint is named, not addressed (endpoint_name is not supported)';
      const problem = socketAddressProblem(lbEndpoint.endpoint.address, 'an endpoint');
      if (problem) return problem;
      const socket = (lbEndpoint.endpoint.address as { socket_address: { address: string; port_value: number } }).socket_address;
      const key = `${socket.address}|${socket.port_value}`;
      if (seen.has(key)) return `endpoint ${socket.address}:${socket.port_value} appears twice`;
      seen.add(key);
    }
  }
  // Contiguous from 0, as proxyless gRPC requires: a gap would leave a level with nothing to fail over to.
  for (let p = 0; p < priorities.size; p++) if (!priorities.has(p)) return `priorities must be contiguous from 0 (have ${[...priorities].sort((a, b) => a - b).join(', ')})`;
  return undefined;
}

function clusterProblem(cluster: DecodedResource): string | undefined {
  if (cluster.cluster_type !== undefined) return 'custom cluster types are not supported';
  const type = cluster.type ?? 'STATIC';
  if (type === 'STATIC') {
    if (!isObject(cluster.load_assignment)) return 'a STATIC cluster needs a load_assignment';
    const problem = loadAssignmentProblem(cluster.load_assignment);
    if (problem) return `load_assignment: ${problem}`;
  } else if (type !== 'EDS') return `cluster type ${typeof type === 'string' ? type : JSON.stringify(type)} is not supported (EDS or STATIC only)`;
  if (isObject(cluster.transport_socket) && (!isObject(cluster.transport_socket.typed_config) || !cluster.transport_socket.typed_config['@type'])) return 'transport socket of an unknown type';
  return undefined;
}

/**
 * The few checks the gateway relies on before applying a resource: a name;
 * listeners with an IP socket address and filters whose configs decode, each
 * HttpConnectionManager with RDS or an inline route configuration (router
 * last), each TCP proxy with a cluster; routes with a path match, valid RE2
 * regexes and an action; EDS or STATIC clusters; endpoints at IP literals,
 * each once, in priorities contiguous from 0. Pure.
 */
export function validateResource(type: ResourceType, resource: DecodedResource): string | undefined {
  const name = resourceName(type, resource);
  if (!name) return `a ${type} has no name`;
  const problem = (() => {
    switch (type) {
      case 'listener':
        return listenerProblem(resource);
      case 'route':
        return routeConfigProblem(resource);
      case 'cluster':
        return clusterProblem(resource);
      case 'endpoint':
        return loadAssignmentProblem(resource);
    }
  })();
  return problem ? `${type} ${name}: ${problem}` : undefined;
}
