import type { ResourceObject, ResourceType } from '../../../core/xds/protos.js';

/** One generated resource with the name xDS knows it by. */
export interface NamedResource {
  name: string;
  resource: ResourceObject;
}

/** Something generation chose to leave out or resolve arbitrarily; for logs and status, never fatal. */
export interface GenerationWarning {
  /** Stable identifier for the kind of problem, e.g. `tcp-port-conflict`. */
  code: string;
  message: string;
}

/** Generated resources per xDS type, each list sorted by name, plus warnings. */
export type ResourceSet = { readonly [T in ResourceType]: readonly NamedResource[] } & { readonly warnings: readonly GenerationWarning[] };

export const EMPTY_RESOURCE_SET: ResourceSet = Object.freeze({ listener: [], route: [], cluster: [], endpoint: [], warnings: [] });

const byName = (a: NamedResource, b: NamedResource) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

export function sortedByName(resources: Iterable<NamedResource>): NamedResource[] {
  return [...resources].sort(byName);
}

export function resourceSet(parts: Partial<{ [T in ResourceType]: Iterable<NamedResource> }> & { warnings?: Iterable<GenerationWarning> }): ResourceSet {
  return {
    listener: sortedByName(parts.listener ?? []),
    route: sortedByName(parts.route ?? []),
    cluster: sortedByName(parts.cluster ?? []),
    endpoint: sortedByName(parts.endpoint ?? []),
    warnings: [...(parts.warnings ?? [])],
  };
}

/**
 * Merges sets into one. Two different resources with the same name and type
 * are a generation bug (a proxy would get one at random), so that throws;
 * the same object reached twice (shared parts) is kept once. The inputs are
 * sorted runs, which keeps the sort here close to linear.
 */
export function mergeResourceSets(sets: readonly ResourceSet[]): ResourceSet {
  const merge = (type: ResourceType) => {
    const all = sortedByName(sets.flatMap((set) => set[type]));
    return all.filter((named, i) => {
      const before = all[i - 1];
      if (before?.name !== named.name) return true;
      if (before.resource !== named.resource) throw new Error(`two different ${type} resources are named "${named.name}"`);
      return false;
    });
  };
  return { listener: merge('listener'), route: merge('route'), cluster: merge('cluster'), endpoint: merge('endpoint'), warnings: sets.flatMap((s) => s.warnings) };
}
