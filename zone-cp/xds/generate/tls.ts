import type { ResourceObject } from '../../../core/xds/protos.js';
import { NESTED_TYPE, typed, wrapped } from './proto-values.js';

/** Certificate provider instances every mTLS proxy's bootstrap must define (proxyless gRPC NACKs a name it lacks). */
export const SVID_PROVIDER_INSTANCE = 'meshfed-svid';
export const BUNDLE_PROVIDER_INSTANCE = 'meshfed-bundle';

const TLS_SOCKET_NAME = 'envoy.transport_sockets.tls';

export interface PeerIdentities {
  /** Exact SPIFFE IDs. */
  exact: readonly string[];
  /** SPIFFE ID prefixes (a namespace of the trust domain). */
  prefixes: readonly string[];
}

const matchers = (ids: PeerIdentities) => [...ids.exact.map((exact) => ({ exact })), ...ids.prefixes.map((prefix) => ({ prefix }))];

/** Exactly one of the two: Envoy refuses a validation context with both SAN lists. */
export interface UpstreamTlsOptions {
  /** What Envoy and meshfed's gateway check: the typed, URI-only matchers. */
  envoyPeers?: PeerIdentities;
  /**
   * What proxyless gRPC checks. It reads only the deprecated untyped
   * matchers and ignores transport_socket_matches, so its one socket must
   * accept every identity of the cluster.
   */
  proxylessPeers?: PeerIdentities;
  sni?: string;
}

/** A cluster's transport socket: mTLS with the proxy's SVID, the tenant's bundle and the upstream's expected identities. */
export function upstreamTlsSocket(options: UpstreamTlsOptions): ResourceObject {
  const validation: ResourceObject = { ca_certificate_provider_instance: { instance_name: BUNDLE_PROVIDER_INSTANCE } };
  if (options.envoyPeers && options.proxylessPeers) throw new Error('one SAN list only: Envoy refuses both');
  const envoyMatchers = options.envoyPeers ? matchers(options.envoyPeers) : [];
  if (envoyMatchers.length) validation.match_typed_subject_alt_names = envoyMatchers.map((matcher) => ({ san_type: 'URI', matcher }));
  const proxylessMatchers = options.proxylessPeers ? matchers(options.proxylessPeers) : [];
  if (proxylessMatchers.length) validation.match_subject_alt_names = proxylessMatchers;
  return {
    name: TLS_SOCKET_NAME,
    typed_config: typed(NESTED_TYPE.upstreamTls, {
      common_tls_context: { tls_certificate_provider_instance: { instance_name: SVID_PROVIDER_INSTANCE }, validation_context: validation },
      ...(options.sni ? { sni: options.sni } : {}),
    }),
  };
}

/**
 * An inbound listener's transport socket: clients must present an SVID of
 * the tenant's bundle. Which identities may call is TrafficPermission's
 * decision (RBAC), not the handshake's. HTTP ports offer h2 by ALPN, since
 * gRPC clients refuse a TLS connection that does not negotiate it.
 */
export function downstreamTlsSocket(http: boolean): ResourceObject {
  return {
    name: TLS_SOCKET_NAME,
    typed_config: typed(NESTED_TYPE.downstreamTls, {
      require_client_certificate: wrapped(true),
      common_tls_context: {
        tls_certificate_provider_instance: { instance_name: SVID_PROVIDER_INSTANCE },
        validation_context: { ca_certificate_provider_instance: { instance_name: BUNDLE_PROVIDER_INSTANCE } },
        ...(http ? { alpn_protocols: ['h2', 'http/1.1'] } : {}),
      },
    }),
  };
}

/** Every identity of one namespace of the trust domain: what a remote zone's endpoints may present (inventories do not name service accounts). */
export const namespaceIdentityPrefix = (trustDomain: string, namespace: string) => `spiffe://${trustDomain}/ns/${namespace}/`;
