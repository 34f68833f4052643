import { createHash } from 'node:crypto';
import type { EncodedAny } from '../../../core/xds/protos.js';

/** One resource as the cache holds it: encoded once, with a version that changes exactly when its bytes do. */
export interface CachedResource {
  name: string;
  version: string;
  any: EncodedAny;
}

/** What one proxy should have, per type URL. */
export type ProxySnapshot = ReadonlyMap<string, ReadonlyMap<string, CachedResource>>;

export const resourceVersion = (any: EncodedAny) => createHash('sha256').update(any.value).digest('base64url').slice(0, 16);

/** Types whose responses must carry every resource (a resource left out is deleted), whether subscribed by name or wildcard; the others may be sent in part. */
export const WILDCARD_TYPES = new Set([
  'type.googleapis.com/envoy.config.listener.v3.Listener',
  'type.googleapis.com/envoy.config.cluster.v3.Cluster',
]);

export interface DiscoveryRequest {
  version_info: string;
  resource_names: string[];
  type_url: string;
  response_nonce: string;
  error_detail?: { code?: number; message?: string } | null;
}

export interface DiscoveryResponse {
  version_info: string;
  resources: EncodedAny[];
  type_url: string;
  nonce: string;
}

/** Per type: what the proxy asked for and what it was sent. */
interface TypeState {
  /** undefined = everything (wildcard). */
  names: Set<string> | undefined;
  /** The names as one sorted string: streams asking for the same names share the work of choosing. */
  namesKey: string;
  sentVersion?: string;
  sentNonce?: string;
  /** The exact resources the proxy should hold now, as "name@version" lines. */
  sentContent?: string;
  /** Per resource name, the version last sent (RDS/EDS responses carry only what changed). */
  sentVersions?: Map<string, string>;
  ackedVersion?: string;
  /** Content key of a response the proxy NACKed: not sent again until something changes. */
  nackedContent?: string;
  lastNack?: string;
}

export type RequestOutcome =
  | { kind: 'stale' }
  | { kind: 'ack'; version: string }
  | { kind: 'nack'; version: string; message: string }
  | { kind: 'subscribe' };

/**
 * The state-of-the-world ADS protocol for one stream, without I/O: which
 * request is an ACK, a NACK or stale, and what to send when the proxy's
 * snapshot or subscriptions change. Never sends the same content twice in a
 * row and never resends NACKed content, so client and server cannot loop.
 */
export class StreamState {
  private readonly types = new Map<string, TypeState>();
  private nonceCounter = 0;

  /** Records a request; the caller then calls `responseFor(type)` to see whether anything must go out. */
  onRequest(request: DiscoveryRequest): RequestOutcome {
    const names = request.resource_names.length === 0 && WILDCARD_TYPES.has(request.type_url) ? undefined : new Set(request.resource_names);
    const state = this.types.get(request.type_url);
    const namesKey = names === undefined ? '*' : [...names].sort().join('\n');
    if (!state) {
      this.types.set(request.type_url, { names, namesKey });
      return { kind: 'subscribe' };
    }
    // A reply to something older than the last response: the proxy will answer that one too.
    if (request.response_nonce && request.response_nonce !== state.sentNonce) return { kind: 'stale' };
    state.names = names;
    state.namesKey = namesKey;
    if (!request.response_nonce) return { kind: 'subscribe' };
    if (request.error_detail?.message || request.error_detail?.code) {
      state.nackedContent = state.sentContent;
      state.lastNack = request.error_detail.message ?? `code ${request.error_detail.code}`;
      return { kind: 'nack', version: state.sentVersion ?? '', message: state.lastNack };
    }
    state.ackedVersion = request.version_info;
    state.nackedContent = undefined;
    state.lastNack = undefined;
    return { kind: 'ack', version: request.version_info };
  }

  /** The response to send for one type now, or undefined when the proxy already has (or refused) exactly this. */
  responseFor(typeUrl: string, snapshot: ProxySnapshot): DiscoveryResponse | undefined {
    const state = this.types.get(typeUrl);
    if (!state) return undefined;
    const available = snapshot.get(typeUrl) ?? EMPTY;
    const { chosen, content, version } = choose(available, state);
    // Names asked for that do not exist are part of the content too: asking again for them changes nothing.
    if (state.sentContent === content || state.nackedContent === content) return undefined;
    const nonce = (++this.nonceCounter).toString(36);
    // Listeners and clusters must all be sent (one left out is deleted); for routes and endpoints
    // a client keeps what a response leaves out, so only new or changed ones go — after a NACK, everything.
    const previous = state.nackedContent === undefined ? state.sentVersions : undefined;
    const toSend = WILDCARD_TYPES.has(typeUrl) || !previous ? chosen : chosen.filter((r) => previous.get(r.name) !== r.version);
    state.sentContent = content;
    state.sentVersion = version;
    state.sentNonce = nonce;
    state.sentVersions = new Map(chosen.map((r) => [r.name, r.version]));
    return { version_info: version, resources: toSend.map((r) => r.any), type_url: typeUrl, nonce };
  }

  subscribedTypes(): string[] {
    return [...this.types.keys()];
  }

  /** For GET /api/v1/proxies: per type, what was sent, what was ACKed, and the last NACK. */
  status(): Record<string, { subscribed: string[] | '*'; sentVersion: string | null; ackedVersion: string | null; lastNack: string | null }> {
    return Object.fromEntries(
      [...this.types].map(([type, s]) => [
        type,
        { subscribed: s.names ? [...s.names].sort() : '*', sentVersion: s.sentVersion ?? null, ackedVersion: s.ackedVersion ?? null, lastNack: s.lastNack ?? null },
      ]),
    );
  }
}

const EMPTY: ReadonlyMap<string, CachedResource> = new Map();

interface Choice {
  chosen: CachedResource[];
  content: string;
  version: string;
}

/**
 * What a stream gets of one type: memoized on the (immutable, shared) type
 * map and the names asked for, so a thousand proxies sharing a snapshot and
 * a subscription cost one computation, not a thousand.
 */
const choices = new WeakMap<ReadonlyMap<string, CachedResource>, Map<string, Choice>>();

function choose(available: ReadonlyMap<string, CachedResource>, state: TypeState): Choice {
  let byNames = choices.get(available);
  if (!byNames) choices.set(available, (byNames = new Map<string, Choice>()));
  let choice = byNames.get(state.namesKey);
  if (!choice) {
    const chosen = state.names === undefined ? [...available.values()] : [...state.names].flatMap((n) => available.get(n) ?? []);
    chosen.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const content = chosen.map((r) => `${r.name}@${r.version}`).join('\n');
    choice = { chosen, content, version: createHash('sha256').update(content).digest('base64url').slice(0, 12) };
    byNames.set(state.namesKey, choice);
  }
  return choice;
}
