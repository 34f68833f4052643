/**
 * ClusterLoadAssignment (EDS, or a STATIC cluster's `load_assignment`) →
 * LoadAssignment: priority levels in order, their localities keyed
 * `region/zone/subzone`, endpoints with health, weight and metadata. Pure.
 *
 * Locality weights: with locality-weighted balancing (the cluster's
 * `common_lb_config.locality_weighted_lb_config`, which meshfed's zone CP
 * always sets) a locality without `load_balancing_weight` gets no load, as
 * Envoy documents; otherwise it counts 1. (Envoy ignores locality weights
 * altogether without locality-weighted balancing; the runtime always picks
 * a locality first, so the configured weights are kept.)
 *
 * Health: HEALTHY, UNKNOWN or absent may take traffic; UNHEALTHY, DRAINING,
 * TIMEOUT and DEGRADED may not (Envoy would use DEGRADED hosts only when
 * too few healthy ones are left; the runtime has no such tier).
 */
import type { Endpoint, LoadAssignment, LocalityEndpoints, PriorityLevel } from '../lb/index.js';
import { isObject, objectsIn, textOf } from '../xds/resources.js';
import { fail, within } from './problems.js';
import { numberOf, setFields, structToJson, wrappedNumber } from './values.js';

const TAKES_TRAFFIC = new Set(['HEALTHY', 'UNKNOWN']);

export interface LoadAssignmentOptions {
  /** The cluster balances by locality weight (locality_weighted_lb_config). Default false. */
  readonly localityWeighted?: boolean;
}

/** `region/zone/subzone` of a Locality, empty parts kept. */
export function localityKey(locality: unknown): string {
  const l = isObject(locality) ? locality : {};
  return `${textOf(l.region)}/${textOf(l.zone)}/${textOf(l.sub_zone)}`;
}

/** Compiles a ClusterLoadAssignment. Throws a ConfigProblem for an endpoint without a usable socket address. */
export function compileLoadAssignment(assignment: Record<string, unknown>, options: LoadAssignmentOptions = {}): LoadAssignment {
  const byPriority = new Map<number, LocalityEndpoints[]>();
  objectsIn(assignment.endpoints).forEach((group, i) => {
    const key = localityKey(group.locality);
    const locality = within(`locality ${key === '//' ? `#${i}` : key}`, () => compileLocality(group, key, options));
    const priority = numberOf(group.priority) ?? 0;
    byPriority.set(priority, [...(byPriority.get(priority) ?? []), locality]);
  });
  const levels: PriorityLevel[] = [...byPriority.entries()].sort(([a], [b]) => a - b).map(([priority, localities]) => ({ priority, localities }));
  const factor = isObject(assignment.policy) ? wrappedNumber(assignment.policy.overprovisioning_factor) : undefined;
  return { levels, ...(factor !== undefined ? { overprovisioningFactor: factor } : {}) };
}

function compileLocality(group: Record<string, unknown>, key: string, options: LoadAssignmentOptions): LocalityEndpoints {
  if (setFields(group, ['leds_cluster_locality_config', 'load_balancer_endpoints']).length) fail('LEDS is not supported');
  const weight = wrappedNumber(group.load_balancing_weight) ?? (options.localityWeighted ? 0 : 1);
  const endpoints = objectsIn(group.lb_endpoints).map((lbEndpoint, i) => within(`endpoint #${i}`, () => compileEndpoint(lbEndpoint)));
  return { key, weight, endpoints };
}

function compileEndpoint(lbEndpoint: Record<string, unknown>): Endpoint {
  if (lbEndpoint.endpoint_name !== undefined) fail('named endpoints are not supported');
  const endpoint = isObject(lbEndpoint.endpoint) ? lbEndpoint.endpoint : {};
  const { address, port } = socketAddress(endpoint.address);
  const health = textOf(lbEndpoint.health_status);
  const weight = wrappedNumber(lbEndpoint.load_balancing_weight);
  const metadata = isObject(lbEndpoint.metadata) && isObject(lbEndpoint.metadata.filter_metadata) ? lbEndpoint.metadata.filter_metadata : {};
  return {
    address,
    port,
    healthy: health === '' || TAKES_TRAFFIC.has(health),
    ...(weight !== undefined ? { weight } : {}),
    ...(Object.keys(metadata).length ? { metadata: Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, structToJson(v)])) } : {}),
  };
}

/** A core Address's socket_address (TCP, numeric port). Throws a ConfigProblem otherwise. */
export function socketAddress(address: unknown): { address: string; port: number } {
  const socket = isObject(address) ? address.socket_address : undefined;
  if (!isObject(socket)) return fail('no socket address (pipes and internal addresses are not supported)');
  if (socket.protocol !== undefined && socket.protocol !== 'TCP') fail(`${textOf(socket.protocol) || 'protocol'} is not supported`);
  if (socket.named_port !== undefined) fail('named ports are not supported');
  const host = textOf(socket.address);
  const port = numberOf(socket.port_value) ?? 0;
  if (!host) fail('socket address has no address');
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`invalid port ${String(socket.port_value)}`);
  return { address: host, port };
}
