/**
 * Transport sockets → what the runtime needs to speak TLS: UpstreamTlsContext
 * → UpstreamTls (whom to accept, SNI, ALPN) and DownstreamTlsContext → a
 * listener's TLS settings. Certificates are not read from here: the runtime
 * always presents its SVID and verifies against its tenant's bundle (the
 * `meshfed-svid` / `meshfed-bundle` provider instances). Pure.
 */
import { isObject, objectsIn, textOf } from '../xds/resources.js';
import type { ListenerSettings, UpstreamTls } from './model.js';
import { fail, within } from './problems.js';
import { RegexCache } from './regex.js';
import { compileStringMatcher, type StringMatch } from './string-matcher.js';
import { setFields, typeUrlOf, wrappedBool } from './values.js';

export const UPSTREAM_TLS_TYPE_URL = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';
export const DOWNSTREAM_TLS_TYPE_URL = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';
const RAW_BUFFER_TYPE_URL = 'type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer';
const RAW_BUFFER_NAME = 'envoy.transport_sockets.raw_buffer';

/** Validation settings meshfed cannot honour; ignoring them would accept peers the config rejects. */
const UNSUPPORTED_VALIDATION = ['verify_certificate_spki', 'verify_certificate_hash', 'custom_validator_config', 'crl', 'allow_expired_certificate'];

/**
 * The TLS context of a transport socket, or undefined for plaintext (none,
 * or raw_buffer). Throws a ConfigProblem for any other socket.
 */
function tlsContext(socket: unknown, typeUrl: string): Record<string, unknown> | undefined {
  if (!isObject(socket)) return undefined;
  const config = socket.typed_config;
  const type = typeUrlOf(config);
  if (type === typeUrl && isObject(config)) return config;
  if (type === RAW_BUFFER_TYPE_URL || (type === '' && textOf(socket.name) === RAW_BUFFER_NAME)) return undefined;
  return fail(`unsupported transport socket ${type || textOf(socket.name) || '(unnamed)'}`);
}

/** The CertificateValidationContext of a CommonTlsContext, from `validation_context` or `combined_validation_context`. */
function validationContext(common: Record<string, unknown>): Record<string, unknown> | undefined {
  if (setFields(common, ['validation_context_sds_secret_config']).length) fail('validation_context_sds_secret_config is not supported');
  if (isObject(common.validation_context)) return common.validation_context;
  if (isObject(common.combined_validation_context)) {
    const combined = common.combined_validation_context.default_validation_context;
    return isObject(combined) ? combined : undefined;
  }
  return undefined;
}

/**
 * The URI SAN matchers of a validation context, any of which accepts a
 * peer. Envoy refuses a context that sets both `match_typed_subject_alt_names`
 * and the deprecated `match_subject_alt_names`; meshfed's zone CP sends
 * both, the untyped list being meant for proxyless gRPC (which reads only
 * it, and ignores transport_socket_matches, so it is wider). This runtime
 * honours transport_socket_matches like Envoy, so when the typed list is
 * there it alone counts, as the zone CP intends for Envoy-like clients;
 * otherwise the untyped list (which Envoy checks against every SAN type,
 * the URI among them).
 *
 * Typed matchers of other SAN types (DNS, email, IP) cannot accept a
 * SPIFFE ID and the runtime sees only that: refused rather than ignored,
 * since ignoring them would change whom the cluster accepts.
 */
export function sanMatchers(validation: Record<string, unknown> | undefined, regexes: RegexCache): StringMatch[] {
  if (!validation) return [];
  const typed = objectsIn(validation.match_typed_subject_alt_names);
  if (typed.length > 0) {
    return typed.map((entry, i) =>
      within(`match_typed_subject_alt_names #${i}`, () => {
        if (entry.san_type !== 'URI') fail(`SAN type ${textOf(entry.san_type) || 'SAN_TYPE_UNSPECIFIED'} is not supported (only URI)`);
        return compileStringMatcher(entry.matcher, regexes);
      }),
    );
  }
  return objectsIn(validation.match_subject_alt_names).map((matcher, i) => within(`match_subject_alt_names #${i}`, () => compileStringMatcher(matcher, regexes)));
}

/**
 * A cluster's (or a transport_socket_matches entry's) transport socket →
 * UpstreamTls, undefined for plaintext. ALPN: the context's
 * `alpn_protocols`, else what the cluster speaks (`h2` or `http/1.1`), as
 * Envoy offers its upstream protocol when none is configured.
 */
export function compileUpstreamTls(socket: unknown, options: { http2: boolean }, regexes: RegexCache = new RegexCache()): UpstreamTls | undefined {
  const context = tlsContext(socket, UPSTREAM_TLS_TYPE_URL);
  if (!context) return undefined;
  const common = isObject(context.common_tls_context) ? context.common_tls_context : {};
  const validation = validationContext(common);
  if (validation) {
    const unsupported = setFields(validation, UNSUPPORTED_VALIDATION);
    if (unsupported.length) fail(`unsupported ${unsupported.join(', ')}`);
  }
  const matchers = sanMatchers(validation, regexes);
  const alpn = Array.isArray(common.alpn_protocols) && common.alpn_protocols.length > 0 ? common.alpn_protocols.map(textOf) : [options.http2 ? 'h2' : 'http/1.1'];
  const sni = textOf(context.sni);
  return {
    // No SAN matcher: any peer whose certificate chains to the bundle.
    acceptsPeer: matchers.length ? (spiffeId) => matchers.some((m) => m.matches(spiffeId)) : () => true,
    peerDescription: matchers.length ? matchers.map((m) => m.description).join(' or ') : 'any peer the bundle trusts',
    ...(sni ? { sni } : {}),
    alpn,
  };
}

/**
 * A filter chain's transport socket → the listener's TLS settings,
 * undefined for plaintext. Which clients may call is RBAC's decision; SAN
 * checks on clients in the handshake are not supported.
 */
export function compileDownstreamTls(socket: unknown): ListenerSettings['tls'] {
  const context = tlsContext(socket, DOWNSTREAM_TLS_TYPE_URL);
  if (!context) return undefined;
  const common = isObject(context.common_tls_context) ? context.common_tls_context : {};
  const validation = validationContext(common);
  if (validation) {
    const unsupported = setFields(validation, [...UNSUPPORTED_VALIDATION, 'match_typed_subject_alt_names', 'match_subject_alt_names']);
    if (unsupported.length) fail(`unsupported ${unsupported.join(', ')} on a listener`);
  }
  return {
    requireClientCertificate: wrappedBool(context.require_client_certificate) ?? false,
    alpn: Array.isArray(common.alpn_protocols) ? common.alpn_protocols.map(textOf) : [],
  };
}
