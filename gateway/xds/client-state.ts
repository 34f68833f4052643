import { RESOURCE_TYPES, TYPE_URL, decodeResource, type EncodedAny, type ResourceType } from '../../core/xds/protos.js';
import { edsServiceName, resourceName, routeConfigNames, type DecodedResource } from './resources.js';
import type { XdsSnapshot } from './snapshot.js';
import type { ResourceValidator } from './validate.js';

export interface DiscoveryRequest {
  type_url: string;
  resource_names: string[];
  version_info: string;
  response_nonce: string;
  error_detail?: { code: number; message: string };
}

export interface DiscoveryResponse {
  version_info: string;
  resources: EncodedAny[];
  type_url: string;
  nonce: string;
}

/** One resource as held: the bytes it came as (what is persisted and compared) and its decoded form. */
export interface HeldResource {
  any: EncodedAny;
  resource: DecodedResource;
}

/** What became of one response. */
export type ResponseOutcome =
  | { kind: 'ack'; type: ResourceType; version: string; changed: boolean }
  | { kind: 'nack'; type: ResourceType; version: string; reason: string };

interface TypeState {
  /** The last accepted version ('' before any). */
  version: string;
  /** The nonce of the last response on the current stream ('' before any). */
  nonce: string;
  resources: Map<string, HeldResource>;
  /** RDS/EDS: the names last asked for on the current stream (undefined: not subscribed on it yet). */
  requested?: string;
  lastNack?: string;
}

/** LDS and CDS are wildcard subscriptions; RDS and EDS are by name. */
const WILDCARD: ReadonlySet<ResourceType> = new Set(['listener', 'cluster']);
const TYPE_OF_URL = new Map<string, ResourceType>(RESOURCE_TYPES.map((type) => [TYPE_URL[type], type]));
/** gRPC INVALID_ARGUMENT, the code a NACK's error_detail carries. */
const INVALID_ARGUMENT = 3;

/**
 * The client side of state-of-the-world ADS for one proxy, without I/O:
 * which requests open a stream, and for each response whether to ACK or NACK
 * it and which subscriptions follow from it (LDS → RDS names, CDS → EDS
 * names). A response is applied whole or not at all: anything that does not
 * decode or validate NACKs it, and the previous resources and version stay.
 * The state outlives streams, so a reconnect resubscribes to what it held.
 */
export class AdsClientState {
  private readonly types = new Map<ResourceType, TypeState>(RESOURCE_TYPES.map((type) => [type, { version: '', nonce: '', resources: new Map() }]));

  constructor(private readonly validate: ResourceValidator) {}

  /** The requests a new stream starts with: LDS and CDS (wildcard), then RDS and EDS for the names already known. */
  streamOpened(): DiscoveryRequest[] {
    for (const state of this.types.values()) {
      state.nonce = '';
      state.requested = undefined;
    }
    return [this.request('listener'), this.request('cluster'), ...this.subscriptionChanges()];
  }

  /** Handles one response; returns what became of it and the requests to send (the ACK or NACK first). */
  onResponse(response: DiscoveryResponse): { outcome: ResponseOutcome | undefined; requests: DiscoveryRequest[] } {
    const type = TYPE_OF_URL.get(response.type_url);
    if (!type) {
      // Not a type this client asked for: say so, so the server's logs show it.
      return { outcome: undefined, requests: [{ type_url: response.type_url, resource_names: [], version_info: '', response_nonce: response.nonce, error_detail: { code: INVALID_ARGUMENT, message: `type ${response.type_url} is not supported` } }] };
    }
    const state = this.types.get(type)!;
    state.nonce = response.nonce;
    const decoded = this.decodeAll(type, response);
    if (typeof decoded === 'string') {
      state.lastNack = decoded;
      return { outcome: { kind: 'nack', type, version: response.version_info, reason: decoded }, requests: [{ ...this.request(type), error_detail: { code: INVALID_ARGUMENT, message: decoded } }] };
    }
    let next: Map<string, HeldResource>;
    if (WILDCARD.has(type)) next = decoded;
    else {
      // RDS/EDS responses may be partial: what they leave out is kept, as long as it is still wanted.
      const wanted = new Set(this.wantedNames(type));
      next = new Map([...state.resources].filter(([name]) => wanted.has(name)));
      for (const [name, held] of decoded) if (wanted.has(name)) next.set(name, held);
    }
    const changed = !sameResources(state.resources, next);
    state.resources = next;
    state.version = response.version_info;
    state.lastNack = undefined;
    // A new set of listeners or clusters may change which route configurations and assignments are wanted.
    const pruned = type === 'listener' ? this.prune('route') : type === 'cluster' ? this.prune('endpoint') : false;
    return { outcome: { kind: 'ack', type, version: response.version_info, changed: changed || pruned }, requests: [this.request(type), ...this.subscriptionChanges()] };
  }

  /** The resources held now, as one snapshot (consistent or not: see missingReferences). */
  snapshot(): XdsSnapshot {
    const of = (type: ResourceType) => new Map([...this.types.get(type)!.resources].map(([name, held]) => [name, held.resource]));
    return {
      listeners: of('listener'),
      routes: of('route'),
      clusters: of('cluster'),
      endpoints: of('endpoint'),
      versions: { listener: this.version('listener'), route: this.version('route'), cluster: this.version('cluster'), endpoint: this.version('endpoint') },
    };
  }

  /** The encoded resources and version of each type, for persisting. */
  held(): Record<ResourceType, { version: string; resources: EncodedAny[] }> {
    const of = (type: ResourceType) => ({ version: this.version(type), resources: [...this.types.get(type)!.resources.values()].map((h) => h.any) });
    return { listener: of('listener'), route: of('route'), cluster: of('cluster'), endpoint: of('endpoint') };
  }

  /** Loads resources persisted by `held()`; all or nothing. Returns the problem, or undefined when loaded. */
  restore(saved: Record<ResourceType, { version: string; resources: EncodedAny[] }>): string | undefined {
    const loaded = new Map<ResourceType, Map<string, HeldResource>>();
    for (const type of RESOURCE_TYPES) {
      const decoded = this.decodeAll(type, { type_url: TYPE_URL[type], version_info: saved[type].version, nonce: '', resources: saved[type].resources });
      if (typeof decoded === 'string') return decoded;
      loaded.set(type, decoded);
    }
    for (const [type, resources] of loaded) Object.assign(this.types.get(type)!, { resources, version: saved[type].version });
    return undefined;
  }

  version(type: ResourceType): string {
    return this.types.get(type)!.version;
  }

  lastNack(type: ResourceType): string | undefined {
    return this.types.get(type)!.lastNack;
  }

  /** RDS: the route configurations the listeners take from RDS; EDS: the EDS clusters' names. Sorted. */
  wantedNames(type: 'route' | 'endpoint'): string[];
  wantedNames(type: ResourceType): string[];
  wantedNames(type: ResourceType): string[] {
    if (type === 'route') return [...new Set([...this.types.get('listener')!.resources.values()].flatMap((h) => routeConfigNames(h.resource)))].sort();
    if (type === 'endpoint') return [...new Set([...this.types.get('cluster')!.resources.values()].map((h) => edsServiceName(h.resource)).filter((n): n is string => n !== undefined))].sort();
    return [];
  }

  /** The request for one type as things stand: the last accepted version, the last nonce, the names wanted. */
  private request(type: ResourceType): DiscoveryRequest {
    const state = this.types.get(type)!;
    const names = WILDCARD.has(type) ? [] : this.wantedNames(type);
    if (!WILDCARD.has(type)) state.requested = names.join('\n');
    return { type_url: TYPE_URL[type], resource_names: names, version_info: state.version, response_nonce: state.nonce };
  }

  /** RDS/EDS requests whose names changed since they were last asked for on this stream (a first, empty one is not needed). */
  private subscriptionChanges(): DiscoveryRequest[] {
    return (['route', 'endpoint'] as const).flatMap((type) => {
      const state = this.types.get(type)!;
      const names = this.wantedNames(type);
      if (state.requested === names.join('\n') || (state.requested === undefined && !names.length)) return [];
      return [this.request(type)];
    });
  }

  /** Drops route configurations or assignments no longer wanted; says whether any were. */
  private prune(type: 'route' | 'endpoint'): boolean {
    const state = this.types.get(type)!;
    const wanted = new Set(this.wantedNames(type));
    const before = state.resources.size;
    state.resources = new Map([...state.resources].filter(([name]) => wanted.has(name)));
    return state.resources.size !== before;
  }

  /** Decodes and validates every resource of a response; the first problem as a message, else the resources by name. */
  private decodeAll(type: ResourceType, response: DiscoveryResponse): Map<string, HeldResource> | string {
    const resources = new Map<string, HeldResource>();
    for (const [index, any] of response.resources.entries()) {
      if (any.type_url !== response.type_url) return `resource ${index} is a ${any.type_url}, not a ${response.type_url}`;
      let resource: DecodedResource;
      try {
        resource = decodeResource({ type_url: any.type_url, value: Buffer.from(any.value) });
      } catch (error) {
        return `resource ${index} does not decode: ${(error as Error).message}`;
      }
      let problem: string | undefined;
      try {
        problem = this.validate(type, resource);
      } catch (error) {
        problem = `${type} ${resourceName(type, resource) || index}: validation failed: ${(error as Error).message}`;
      }
      if (problem) return problem;
      const name = resourceName(type, resource);
      if (resources.has(name)) return `${type} ${name} appears twice`;
      resources.set(name, { any: { type_url: any.type_url, value: Buffer.from(any.value) }, resource });
    }
    return resources;
  }
}

function sameResources(a: ReadonlyMap<string, HeldResource>, b: ReadonlyMap<string, HeldResource>): boolean {
  if (a.size !== b.size) return false;
  for (const [name, held] of a) {
    const other = b.get(name);
    if (!other || !other.any.value.equals(held.any.value)) return false;
  }
  return true;
}
