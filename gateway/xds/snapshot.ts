import type { ResourceType } from '../../core/xds/protos.js';
import { edsServiceName, listenerClusters, routeConfigClusters, routeConfigNames, type DecodedResource } from './resources.js';

/** The gateway's config: every resource it holds, by name, decoded. */
export interface XdsSnapshot {
  listeners: ReadonlyMap<string, DecodedResource>;
  routes: ReadonlyMap<string, DecodedResource>;
  clusters: ReadonlyMap<string, DecodedResource>;
  /** ClusterLoadAssignments by EDS name (the cluster's `service_name`, else its name). */
  endpoints: ReadonlyMap<string, DecodedResource>;
  /** The version of each type it was built from ('' when none came yet). */
  versions: Readonly<Record<ResourceType, string>>;
}

/** Names a snapshot refers to but does not hold. */
export interface MissingReferences {
  /** Route configurations listeners take from RDS. */
  routes: string[];
  /** Clusters listeners or routes send traffic to. */
  clusters: string[];
  /** EDS names of EDS clusters. */
  endpoints: string[];
}

/** What is missing for a snapshot to be used as a whole: what its listeners, routes and clusters refer to. Pure. */
export function missingReferences(snapshot: Omit<XdsSnapshot, 'versions'>): MissingReferences {
  const listeners = [...snapshot.listeners.values()];
  const routes = [...new Set(listeners.flatMap(routeConfigNames))].filter((n) => !snapshot.routes.has(n));
  const clusters = [...new Set([...listeners.flatMap(listenerClusters), ...[...snapshot.routes.values()].flatMap(routeConfigClusters)])].filter((n) => !snapshot.clusters.has(n));
  const endpoints = [...snapshot.clusters.values()].map(edsServiceName).filter((n): n is string => n !== undefined && !snapshot.endpoints.has(n));
  return { routes: routes.sort(), clusters: clusters.sort(), endpoints: [...new Set(endpoints)].sort() };
}

export const nothingMissing = (missing: MissingReferences) => !missing.routes.length && !missing.clusters.length && !missing.endpoints.length;
