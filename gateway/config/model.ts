/**
 * The gateway's runtime config: what an xDS snapshot means to meshfed's
 * proxy, compiled once per snapshot (compile.ts) so the request path only
 * calls closures and reads plain fields. Nothing here does I/O.
 */
import type { LoadAssignment, OutlierDetectionInput } from '../lb/index.js';
import type { CircuitBreakerThresholds, RetryConditions, RouteTimeouts } from '../resilience/index.js';

/** What route matching may look at of a request. Header names are lowercase; `:method` and `:authority` are headers too. */
export interface RequestFacts {
  /** Host header (HTTP/1.1) or :authority (HTTP/2), as sent (may include a port). */
  readonly authority: string;
  /** Path with query, as sent. */
  readonly path: string;
  readonly method: string;
  header(name: string): string | undefined;
}

export interface RetryPolicy {
  readonly conditions: RetryConditions;
  /** Retries after the first attempt (Envoy's default 1 when a policy exists without num_retries). */
  readonly numRetries: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
}

export interface WeightedCluster {
  readonly name: string;
  readonly weight: number;
}

/** What to do with a request a route matched. */
export interface RouteAction {
  /** `<route config>/<virtual host>/<route name>`, for logs and metrics. */
  readonly routeName: string;
  /** One entry (plain `cluster`) or the weighted split. */
  readonly clusters: readonly WeightedCluster[];
  readonly timeouts: RouteTimeouts;
  readonly retry?: RetryPolicy;
  /** Stream idle timeout; undefined: none. */
  readonly idleTimeoutMs?: number;
}

/** A compiled RouteConfiguration: virtual host by authority (Envoy's domain rules), then the first route that matches. */
export interface RouteTable {
  readonly name: string;
  /** Undefined when no virtual host or route matches (the proxy answers 404). */
  select(request: RequestFacts): RouteAction | undefined;
}

/**
 * A compiled RBAC config (HTTP filter or network filter), as the sidecar
 * enforces it on the peer's SPIFFE ID. Undefined principal: the peer sent
 * no verified URI SAN.
 */
export interface AccessPolicy {
  allows(principal: string | undefined): boolean;
}

/** How to connect to one cluster's endpoints over TLS. */
export interface UpstreamTls {
  /** Whether the peer's SPIFFE ID (URI SAN) is acceptable; from match_typed_subject_alt_names / match_subject_alt_names. */
  acceptsPeer(spiffeId: string): boolean;
  /** Description of the accepted peers, for error messages and logs (e.g. `exact spiffe://…` or `prefix spiffe://…/ns/shop/`). */
  readonly peerDescription: string;
  /** SNI to send; undefined: none. */
  readonly sni?: string;
  /** ALPN to offer, e.g. ['h2'] for an HTTP/2 cluster, ['http/1.1'] otherwise. */
  readonly alpn: readonly string[];
}

export interface ClusterSettings {
  readonly name: string;
  /** EDS: endpoints come from the snapshot's assignment named `edsName`. STATIC: `staticAssignment`. */
  readonly kind: 'eds' | 'static';
  readonly edsName?: string;
  readonly staticAssignment?: LoadAssignment;
  readonly connectTimeoutMs: number;
  /** explicit_http_config.http2_protocol_options: speak HTTP/2 upstream. */
  readonly http2: boolean;
  /** The cluster's transport_socket (TLS); undefined: plaintext. */
  readonly tls?: UpstreamTls;
  /** The transport_socket_matches entry for endpoints whose `envoy.transport_socket_match` metadata has `meshfed.remote: true` (a remote zone's ingress). */
  readonly remoteTls?: UpstreamTls;
  readonly circuitBreaker: CircuitBreakerThresholds;
  /** Undefined: no outlier detection. */
  readonly outlierDetection?: OutlierDetectionInput;
}

/** What a listener does with a connection (after TLS, when it has TLS). */
export type ListenerFilter =
  | {
      readonly kind: 'http';
      readonly routes: { readonly rds: string } | { readonly inline: RouteTable };
      readonly access?: AccessPolicy;
      readonly statPrefix: string;
      /** HTTP/1.1 upgrade types enabled (upgrade_configs), lowercase: `websocket`. Others get 403. */
      readonly upgrades: readonly string[];
    }
  | { readonly kind: 'tcp'; readonly clusters: readonly WeightedCluster[]; readonly idleTimeoutMs?: number; readonly access?: AccessPolicy; readonly statPrefix: string };

export interface ListenerSettings {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly direction: 'inbound' | 'outbound' | 'unspecified';
  /** DownstreamTlsContext: terminate TLS with the SVID, verify clients against the bundle. */
  readonly tls?: { readonly requireClientCertificate: boolean; readonly alpn: readonly string[] };
  readonly filter: ListenerFilter;
}

/** A whole snapshot compiled. */
export interface GatewayConfig {
  /** Listeners with a socket address (API listeners are proxyless gRPC's and are skipped). */
  readonly listeners: ReadonlyMap<string, ListenerSettings>;
  readonly routes: ReadonlyMap<string, RouteTable>;
  readonly clusters: ReadonlyMap<string, ClusterSettings>;
  /** By EDS name. */
  readonly assignments: ReadonlyMap<string, LoadAssignment>;
  /** What could not be compiled and was left out (`listener inbound:8080: …`); the rest still applies. */
  readonly problems: readonly string[];
}
