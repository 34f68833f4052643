import { describe, expect, it } from 'vitest';
import { ConfigProblem } from './problems.js';
import { compileDownstreamTls, compileUpstreamTls, DOWNSTREAM_TLS_TYPE_URL, UPSTREAM_TLS_TYPE_URL } from './tls.js';

const upstream = (validation: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  name: 'envoy.transport_sockets.tls',
  typed_config: { '@type': UPSTREAM_TLS_TYPE_URL, common_tls_context: { validation_context: validation }, ...extra },
});

describe('compileUpstreamTls', () => {
  it('accepts a peer any URI SAN matcher accepts, and says which', () => {
    const tls = compileUpstreamTls(
      upstream({ match_typed_subject_alt_names: [{ san_type: 'URI', matcher: { exact: 'spiffe://a/ns/x/sa/y' } }, { san_type: 'URI', matcher: { prefix: 'spiffe://a/ns/z/' } }] }),
      { http2: false },
    )!;
    expect(tls.acceptsPeer('spiffe://a/ns/x/sa/y')).toBe(true);
    expect(tls.acceptsPeer('spiffe://a/ns/z/sa/any')).toBe(true);
    expect(tls.acceptsPeer('spiffe://a/ns/x/sa/other')).toBe(false);
    expect(tls.peerDescription).toBe('exact spiffe://a/ns/x/sa/y or prefix spiffe://a/ns/z/');
  });

  it('uses the deprecated untyped matchers when there are no typed ones', () => {
    const tls = compileUpstreamTls(upstream({ match_subject_alt_names: [{ prefix: 'spiffe://a/ns/billing/' }] }), { http2: false })!;
    expect(tls.acceptsPeer('spiffe://a/ns/billing/sa/ledger')).toBe(true);
    expect(tls.acceptsPeer('spiffe://a/ns/shop/sa/ledger')).toBe(false);
  });

  it('with typed and untyped matchers both (which Envoy refuses), only the typed ones count', () => {
    const tls = compileUpstreamTls(
      upstream({ match_typed_subject_alt_names: [{ san_type: 'URI', matcher: { exact: 'spiffe://a/ns/shop/sa/payments' } }], match_subject_alt_names: [{ prefix: 'spiffe://a/ns/shop/' }] }),
      { http2: true },
    )!;
    expect(tls.acceptsPeer('spiffe://a/ns/shop/sa/payments')).toBe(true);
    expect(tls.acceptsPeer('spiffe://a/ns/shop/sa/web')).toBe(false);
  });

  it('without matchers accepts any peer the bundle trusts', () => {
    const tls = compileUpstreamTls(upstream({ ca_certificate_provider_instance: { instance_name: 'meshfed-bundle' } }), { http2: false })!;
    expect(tls.acceptsPeer('spiffe://anything')).toBe(true);
    expect(tls.peerDescription).toBe('any peer the bundle trusts');
  });

  it('sends the SNI, and offers the configured ALPN or the cluster\'s protocol', () => {
    expect(compileUpstreamTls(upstream({}, { sni: '9090.payments.shop.acme.mesh' }), { http2: true })).toMatchObject({ sni: '9090.payments.shop.acme.mesh', alpn: ['h2'] });
    expect(compileUpstreamTls(upstream({}), { http2: false })).toMatchObject({ alpn: ['http/1.1'] });
    expect(compileUpstreamTls(upstream({}), { http2: false })?.sni).toBeUndefined();
    const configured = { name: 't', typed_config: { '@type': UPSTREAM_TLS_TYPE_URL, common_tls_context: { alpn_protocols: ['x'] } } };
    expect(compileUpstreamTls(configured, { http2: true })?.alpn).toEqual(['x']);
  });

  it('reads no socket or raw_buffer as plaintext, refuses other sockets and checks it cannot make', () => {
    expect(compileUpstreamTls(undefined, { http2: false })).toBeUndefined();
    expect(compileUpstreamTls({ name: 'envoy.transport_sockets.raw_buffer' }, { http2: false })).toBeUndefined();
    expect(() => compileUpstreamTls({ name: 'x', typed_config: { '@type': 'type.googleapis.com/x.Alts' } }, { http2: false })).toThrow('unsupported transport socket type.googleapis.com/x.Alts');
    expect(() => compileUpstreamTls(upstream({ match_typed_subject_alt_names: [{ san_type: 'DNS', matcher: { exact: 'a' } }] }), { http2: false })).toThrow(
      'match_typed_subject_alt_names #0: SAN type DNS is not supported (only URI)',
    );
    expect(() => compileUpstreamTls(upstream({ verify_certificate_spki: ['abc'] }), { http2: false })).toThrow(ConfigProblem);
  });
});

describe('compileDownstreamTls', () => {
  const downstream = (context: Record<string, unknown>) => ({ name: 'envoy.transport_sockets.tls', typed_config: { '@type': DOWNSTREAM_TLS_TYPE_URL, ...context } });

  it('reads require_client_certificate and ALPN', () => {
    expect(compileDownstreamTls(downstream({ require_client_certificate: { value: true }, common_tls_context: { alpn_protocols: ['h2', 'http/1.1'] } }))).toEqual({
      requireClientCertificate: true,
      alpn: ['h2', 'http/1.1'],
    });
    expect(compileDownstreamTls(downstream({ require_client_certificate: {} }))).toEqual({ requireClientCertificate: false, alpn: [] });
    expect(compileDownstreamTls(undefined)).toBeUndefined();
  });

  it('refuses SAN checks on clients: RBAC decides who may call', () => {
    expect(() => compileDownstreamTls(downstream({ common_tls_context: { validation_context: { match_subject_alt_names: [{ exact: 'x' }] } } }))).toThrow(ConfigProblem);
  });
});
