import type { Locality } from '../../../core/schemas/dataplane.js';
import type { LocalityFailoverSpec } from '../../../core/schemas/policies/index.js';
import { clusterName } from '../../../core/xds/names.js';
import type { ResourceObject } from '../../../core/xds/protos.js';
import type { LocalEndpoint } from '../../discovery/model.js';
import { localityKey, localityPriorities, localityRank, overprovisioningFactor } from './localities.js';
import { inSubset, tagsMatch, type RemoteService, type ServiceModel, type Subset } from './model.js';
import type { GenerationWarning, NamedResource } from './output.js';
import { socketAddress, struct, wrapped } from './proto-values.js';
import { compare } from './services.js';

/** Endpoint metadata namespace Envoy matches `transport_socket_matches` against. */
export const TRANSPORT_SOCKET_MATCH_NAMESPACE = 'envoy.transport_socket_match';
/** Key in that namespace marking an endpoint that is a remote zone's ingress. */
export const REMOTE_MATCH_KEY = 'meshfed.remote';

interface LbEndpointDraft {
  address: string;
  port: number;
  healthy: boolean;
  /** Contribution to the locality's weight. */
  weight: number;
  remoteZone?: string;
}

interface LocalityGroup {
  locality: Locality;
  endpoints: LbEndpointDraft[];
}

export interface AssignmentOptions {
  clusterName: string;
  /** Remote zones' ingresses join the local endpoints (sidecars, proxyless); the ingress itself only forwards locally. */
  includeRemote: boolean;
}

/**
 * Whether a local endpoint serves a mesh port. It is reached at that port
 * (not targetPort): there its sidecar's inbound listener (or a proxyless
 * server) terminates mTLS and applies TrafficPermission; targetPort is the
 * application behind it, which only that sidecar's inbound cluster dials.
 */
export const servesPort = (endpoint: LocalEndpoint, port: number) => endpoint.ports.some((p) => p.port === port);

/**
 * One ClusterLoadAssignment as seen from `proxyLocality`: local endpoints by
 * locality, each remote zone as one endpoint (its ingress), priorities from
 * the service's LocalityFailover. Pure.
 */
export function renderClusterLoadAssignment(
  service: ServiceModel,
  port: number,
  subset: Subset | undefined,
  proxyLocality: Locality,
  options: AssignmentOptions,
): { resource: ResourceObject; warnings: GenerationWarning[] } {
  const failover = service.policies.LocalityFailover?.spec;
  const warnings: GenerationWarning[] = [];
  const groups = new Map<string, LocalityGroup>();
  const seen = new Set<string>();
  const add = (locality: Locality, draft: LbEndpointDraft) => {
    // Proxyless gRPC rejects an assignment that names an address twice.
    const address = `${draft.address}:${draft.port}`;
    if (seen.has(address)) {
      warnings.push({ code: 'duplicate-endpoint-address', message: `${options.clusterName}: ${address} appears more than once; kept the first` });
      return;
    }
    seen.add(address);
    const key = localityKey(locality);
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { locality: { region: locality.region, zone: locality.zone, ...(locality.subzone ? { subzone: locality.subzone } : {}) }, endpoints: [] }));
    group.endpoints.push(draft);
  };

  for (const endpoint of service.local) {
    if (!servesPort(endpoint, port) || !inSubset(endpoint, subset)) continue;
    add(endpoint.locality, { address: endpoint.address, port, healthy: endpoint.healthy, weight: endpoint.healthy ? 1 : 0 });
  }
  if (options.includeRemote) {
    for (const remote of service.remote) {
      const entry = remoteEntry(remote, port, subset, proxyLocality, failover);
      if (entry) add(entry.locality, { address: entry.address, port: entry.port, healthy: true, weight: entry.weight, remoteZone: remote.zone });
    }
  }

  const priorities = localityPriorities(proxyLocality, [...groups.values()].map((g) => g.locality), failover);
  const endpoints = [...groups.entries()]
    .filter(([key]) => priorities.has(key))
    .map(([key, group]) => ({ key, group, priority: priorities.get(key)! }))
    .sort((a, b) => a.priority - b.priority || compare(a.key, b.key))
    .map(({ group, priority }) => renderLocality(group, priority));
  return {
    resource: { cluster_name: options.clusterName, endpoints, policy: { overprovisioning_factor: wrapped(overprovisioningFactor(failover?.spilloverThreshold)) } },
    warnings,
  };
}

function renderLocality(group: LocalityGroup, priority: number): ResourceObject {
  const weight = group.endpoints.reduce((total, e) => total + e.weight, 0);
  return {
    locality: { region: group.locality.region, zone: group.locality.zone, ...(group.locality.subzone ? { sub_zone: group.locality.subzone } : {}) },
    lb_endpoints: group.endpoints.map(renderLbEndpoint),
    // Healthy endpoints, comparable with remote zones' healthy counts. Never 0: proxyless gRPC drops a 0-weight locality, and
    // a locality of only unhealthy endpoints stays visible so Envoy counts it in its level's health.
    load_balancing_weight: wrapped(Math.max(1, weight)),
    priority,
  };
}

function renderLbEndpoint(draft: LbEndpointDraft): ResourceObject {
  return {
    endpoint: { address: socketAddress(draft.address, draft.port) },
    health_status: draft.healthy ? 'HEALTHY' : 'UNHEALTHY',
    ...(draft.remoteZone !== undefined
      ? {
          metadata: {
            filter_metadata: {
              meshfed: struct({ remote: true, zone: draft.remoteZone }),
              [TRANSPORT_SOCKET_MATCH_NAMESPACE]: struct({ [REMOTE_MATCH_KEY]: true }),
            },
          },
        }
      : {}),
  };
}

/**
 * A remote zone as one endpoint: its ingress. One address may appear once per
 * assignment, so a zone reporting several localities is placed in the one
 * nearest the proxy (subzone dropped when several share it), weighted by all
 * its healthy endpoints (of the subset, for a subset's assignment) the
 * failover policy lets traffic reach: the ingress spreads what it gets over
 * all of them. A zone without a healthy endpoint of the subset is left out:
 * its ingress would refuse the subset's SNI.
 */
function remoteEntry(remote: RemoteService, port: number, subset: Subset | undefined, proxy: Locality, failover: LocalityFailoverSpec | undefined) {
  if (!remote.ingress || !remote.ports.includes(port)) return undefined;
  const healthyOf = remoteHealthyCounter(remote, subset);
  const reachable = remote.localities
    .map((l) => ({ locality: l, healthy: healthyOf(l), rank: localityRank(proxy, l, failover) }))
    .filter((r): r is { locality: RemoteService['localities'][number]; healthy: number; rank: number } => r.healthy > 0 && r.rank !== undefined)
    .sort((a, b) => a.rank - b.rank || compare(localityKey(a.locality), localityKey(b.locality)));
  const nearest = reachable[0];
  if (!nearest) return undefined;
  const sameZone = reachable.filter((r) => r.locality.region === nearest.locality.region && r.locality.zone === nearest.locality.zone);
  const oneSubzone = sameZone.every((r) => r.locality.subzone === nearest.locality.subzone);
  const locality: Locality = { region: nearest.locality.region, zone: nearest.locality.zone, ...(oneSubzone && nearest.locality.subzone ? { subzone: nearest.locality.subzone } : {}) };
  return { locality, address: remote.ingress.address, port: remote.ingress.port, weight: reachable.reduce((total, r) => total + r.healthy, 0) };
}

/**
 * How many healthy endpoints of `subset` (no subset: of the whole service) a
 * remote zone has in one of its localities. Where the zone cannot tell, the
 * locality's healthy total stands, as before zones counted subsets: it
 * reports no subset counts (an older zone CP, a services file), did not count
 * by one of the subset's tag keys (yet), or has more tag sets there than it
 * lists. Never more than the locality's healthy total. Pure.
 */
function remoteHealthyCounter(remote: RemoteService, subset: Subset | undefined): (locality: RemoteService['localities'][number]) => number {
  const counts = remote.subsets;
  if (!subset || !counts || !Object.keys(subset.tags).every((k) => counts.tagKeys.includes(k))) return (l) => l.healthy;
  const byLocality = new Map(counts.localities.map((l) => [localityKey(l), l]));
  return (l) => {
    const reported = byLocality.get(localityKey(l));
    if (!reported) return 0;
    if (reported.truncated) return l.healthy;
    const healthy = reported.tagSets.reduce((total, set) => total + (tagsMatch(set.tags, subset) ? set.healthy : 0), 0);
    return Math.min(healthy, l.healthy);
  };
}

/**
 * Every assignment of one service (each port, whole and per subset) as seen
 * from `proxyLocality`, remote zones included for every proxy: locality
 * failover is the contract (DESIGN.md), whatever the transport. A plaintext
 * client reaches a remote zone only if what listens at that zone's ingress
 * address accepts it — meshfed's SNI ingress routes TLS only (README).
 */
export function serviceEndpoints(service: ServiceModel, proxyLocality: Locality, _options: { mtls: boolean }): { resources: NamedResource[]; warnings: GenerationWarning[] } {
  const resources: NamedResource[] = [];
  const warnings: GenerationWarning[] = [];
  for (const { port } of service.ports) {
    for (const subset of [undefined, ...service.subsets]) {
      const name = clusterName(service.name, service.namespace, port, subset?.tags);
      const rendered = renderClusterLoadAssignment(service, port, subset, proxyLocality, { clusterName: name, includeRemote: true });
      resources.push({ name, resource: rendered.resource });
      warnings.push(...rendered.warnings);
    }
  }
  return { resources, warnings };
}
