/**
 * An xDS snapshot → the gateway's runtime config (model.ts), once per
 * snapshot, so the request path only calls closures. Never throws: a
 * resource that cannot be compiled is left out whole and said in
 * `problems` (`listener inbound:8080: unsupported filter x`); the rest
 * still applies. References between resources (a listener's RDS name, a
 * route's clusters, a cluster's EDS name) are not checked here: a missing
 * one is the xDS client's business (gateway/xds/snapshot.ts) and the
 * runtime's (404, 503).
 */
import type { ResourceType } from '../../core/xds/protos.js';
import { edsServiceName, type DecodedResource } from '../xds/resources.js';
import type { XdsSnapshot } from '../xds/snapshot.js';
import { compileCluster, isLocalityWeighted } from './clusters.js';
import { compileLoadAssignment } from './endpoints.js';
import { compileListener } from './listeners.js';
import type { GatewayConfig } from './model.js';
import { problemMessage } from './problems.js';
import { RegexCache } from './regex.js';
import { compileRouteConfiguration } from './routes.js';

/** Compiles every resource of the snapshot. Pure; never throws. */
export function compileSnapshot(snapshot: Omit<XdsSnapshot, 'versions'>): GatewayConfig {
  const problems: string[] = [];
  // One cache for the whole snapshot: a pattern used by many routes compiles once.
  const regexes = new RegexCache();
  const weighted = localityWeightedEdsNames(snapshot.clusters);
  return {
    listeners: compileEach('listener', snapshot.listeners, problems, (listener) => compileListener(listener, regexes)),
    routes: compileEach('route', snapshot.routes, problems, (route) => compileRouteConfiguration(route, regexes)),
    clusters: compileEach('cluster', snapshot.clusters, problems, (cluster) => compileCluster(cluster, regexes)),
    assignments: compileEach('endpoint', snapshot.endpoints, problems, (assignment, name) => compileLoadAssignment(assignment, { localityWeighted: weighted.has(name) })),
    problems,
  };
}

/** Compiles each resource on its own; one that fails becomes a problem, one compiled to undefined is skipped silently. */
function compileEach<T>(
  type: ResourceType,
  resources: ReadonlyMap<string, DecodedResource>,
  problems: string[],
  compile: (resource: DecodedResource, name: string) => T | undefined,
): Map<string, T> {
  const compiled = new Map<string, T>();
  for (const [name, resource] of [...resources.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    try {
      const value = compile(resource, name);
      if (value !== undefined) compiled.set(name, value);
    } catch (error) {
      problems.push(`${type} ${name}: ${problemMessage(error)}`);
    }
  }
  return compiled;
}

/** EDS names whose clusters balance by locality weight: their localities without a weight get no load. */
function localityWeightedEdsNames(clusters: ReadonlyMap<string, DecodedResource>): Set<string> {
  const names = new Set<string>();
  for (const cluster of clusters.values()) {
    const edsName = edsServiceName(cluster);
    if (edsName !== undefined && isLocalityWeighted(cluster)) names.add(edsName);
  }
  return names;
}
