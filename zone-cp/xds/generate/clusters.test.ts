import { describe, expect, it } from 'vitest';
import { serviceClusters } from './clusters.js';
import { ACME, endpoint, inventory, policy } from './fixtures.js';
import type { TenantSnapshot } from './input.js';
import { buildTenantModel } from './model.js';

function clusters(snapshot: Partial<TenantSnapshot>, mtls = true, service = 'shop/api', proxyless = false) {
  const model = buildTenantModel({ name: 'acme', trustDomain: 'acme.mesh', policies: [], localEndpoints: [], remoteInventories: [], ...snapshot });
  return serviceClusters(model.byKey.get(service)!, { tenant: 'acme', trustDomain: 'acme.mesh', mtls, proxyless });
}

let host = 0;
const api = (instance: string, serviceAccount: string, protocol: 'http' | 'grpc' | 'tcp' = 'http') =>
  endpoint({ service: 'api', instance, address: `10.0.0.${++host}`, serviceAccount, ports: [{ port: 80, protocol }] });
const remote = inventory('zone-b', '192.0.2.2:10001', [{ namespace: 'shop', name: 'api', ports: [{ port: 80 }], localities: [{ region: 'eu-west', zone: 'zone-b', endpoints: 1, healthy: 1 }] }]);

describe('serviceClusters', () => {
  it('is an EDS cluster over ADS, locality-weighted round robin, 5 s connect timeout by default, unlimited concurrent retries, nothing else without policies', () => {
    const [only, ...rest] = clusters({ localEndpoints: [api('a', 'api')] }, false);
    expect(rest).toEqual([]);
    expect(only).toEqual({
      name: 'api.shop.mesh:80',
      resource: {
        name: 'api.shop.mesh:80',
        type: 'EDS',
        eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' } },
        connect_timeout: { seconds: 5, nanos: 0 },
        lb_policy: 'ROUND_ROBIN',
        common_lb_config: { locality_weighted_lb_config: {} },
        circuit_breakers: { thresholds: [{ priority: 'DEFAULT', max_retries: { value: 4_294_967_295 } }] },
      },
    });
  });

  it('checks local endpoints against their exact service accounts, with no remote socket when no zone reports the service', () => {
    const [cluster] = clusters({ localEndpoints: [api('a', 'api'), api('bb', 'api'), api('c', 'api-admin')] });
    const tls = (cluster!.resource.transport_socket as { typed_config: Record<string, unknown> }).typed_config;
    expect(tls).toMatchObject({
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
      common_tls_context: {
        tls_certificate_provider_instance: { instance_name: 'meshfed-svid' },
        validation_context: {
          ca_certificate_provider_instance: { instance_name: 'meshfed-bundle' },
          match_typed_subject_alt_names: [
            { san_type: 'URI', matcher: { exact: 'spiffe://acme.mesh/ns/shop/sa/api' } },
            { san_type: 'URI', matcher: { exact: 'spiffe://acme.mesh/ns/shop/sa/api-admin' } },
          ],
        },
      },
    });
    expect(tls.sni).toBeUndefined();
    expect(cluster!.resource.transport_socket_matches).toBeUndefined();
  });

  it('sends SNI and checks the namespace for remote ingresses; Envoy-style proxies get only typed SAN matchers, proxyless gRPC only untyped ones on its one socket', () => {
    const [cluster] = clusters({ localEndpoints: [api('a', 'api')], remoteInventories: [remote] });
    const matches = cluster!.resource.transport_socket_matches as { match: unknown; transport_socket: { typed_config: Record<string, unknown> } }[];
    expect(matches).toHaveLength(1);
    expect(matches[0]!.match).toEqual({ fields: { 'meshfed.remote': { boolValue: true } } });
    expect(matches[0]!.transport_socket.typed_config).toMatchObject({
      sni: '80.api.shop.acme.mesh',
      common_tls_context: { validation_context: { match_typed_subject_alt_names: [{ san_type: 'URI', matcher: { prefix: 'spiffe://acme.mesh/ns/shop/' } }] } },
    });
    const local = (cluster!.resource.transport_socket as { typed_config: { common_tls_context: { validation_context: Record<string, unknown> } } }).typed_config.common_tls_context.validation_context;
    expect(local.match_typed_subject_alt_names).toEqual([{ san_type: 'URI', matcher: { exact: 'spiffe://acme.mesh/ns/shop/sa/api' } }]);
    // Envoy refuses a validation context with both lists.
    expect(local.match_subject_alt_names).toBeUndefined();

    const [proxyless] = clusters({ localEndpoints: [api('a', 'api')], remoteInventories: [remote] }, true, 'shop/api', true);
    const proxylessLocal = (proxyless!.resource.transport_socket as { typed_config: { common_tls_context: { validation_context: Record<string, unknown> } } }).typed_config.common_tls_context.validation_context;
    expect(proxylessLocal.match_subject_alt_names).toEqual([{ exact: 'spiffe://acme.mesh/ns/shop/sa/api' }, { prefix: 'spiffe://acme.mesh/ns/shop/' }]);
    expect(proxylessLocal.match_typed_subject_alt_names).toBeUndefined();
  });

  it('adds a cluster per TrafficRoute subset, whose remote SNI names the subset', () => {
    const route = policy('TrafficRoute', 'r', { targetRef: { kind: 'Service', name: 'api', namespace: 'shop' }, rules: [{ split: [{ weight: 50, tags: { version: 'v2' } }, { weight: 50 }, { weight: 0, tags: { version: 'v9' } }] }] });
    const result = clusters({ policies: [route], localEndpoints: [api('a', 'api')], remoteInventories: [remote] });
    expect(result.map((c) => c.name)).toEqual(['api.shop.mesh:80', 'api.shop.mesh:80|version=v2']);
    const sni = (result[1]!.resource.transport_socket_matches as { transport_socket: { typed_config: { sni: string } } }[])[0]!.transport_socket.typed_config.sni;
    expect(sni).toMatch(/^s[0-9a-f]{15}\.80\.api\.shop\.acme\.mesh$/);
  });

  it('speaks HTTP/2 upstream only to http2 and grpc ports', () => {
    expect(clusters({ localEndpoints: [api('a', 'api', 'grpc')] })[0]!.resource.typed_extension_protocol_options).toEqual({
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        explicit_http_config: { http2_protocol_options: {} },
      },
    });
    expect(clusters({ localEndpoints: [api('a', 'api', 'http')] })[0]!.resource.typed_extension_protocol_options).toBeUndefined();
    expect(clusters({ localEndpoints: [api('a', 'api', 'tcp')] })[0]!.resource.typed_extension_protocol_options).toBeUndefined();
  });

  it('maps Timeout.connect, CircuitBreaker and the Retry budget', () => {
    const ref = { kind: 'Service', name: 'api', namespace: 'shop' };
    const [cluster] = clusters(
      {
        localEndpoints: [api('a', 'api')],
        policies: [
          policy('Timeout', 't', { targetRef: ref, connect: '250ms' }),
          policy('Retry', 'r', { targetRef: ref, attempts: 1, retryOn: ['5xx'], budget: { percent: 12.5 } }),
          policy('CircuitBreaker', 'c', { targetRef: ref, thresholds: { maxRequests: 7 }, outlierDetection: { consecutiveGatewayErrors: 4 } }),
        ],
      },
      false,
    );
    expect(cluster!.resource).toMatchObject({
      connect_timeout: { seconds: 0, nanos: 250_000_000 },
      circuit_breakers: { thresholds: [{ priority: 'DEFAULT', max_requests: { value: 7 }, retry_budget: { budget_percent: { value: 12.5 } } }] },
      // Only the detector the policy names ejects: consecutive 5xx and success rate are switched off explicitly.
      outlier_detection: {
        consecutive_gateway_failure: { value: 4 },
        enforcing_consecutive_gateway_failure: { value: 100 },
        enforcing_consecutive_5xx: { value: 0 },
        enforcing_success_rate: { value: 0 },
      },
    });
    expect(cluster!.resource.outlier_detection).not.toHaveProperty('consecutive_5xx');
    expect(cluster!.resource.outlier_detection).not.toHaveProperty('split_external_local_origin_errors');
  });

  it('gives the fixture\'s remote-only services a socket that accepts their namespace only', () => {
    const model = buildTenantModel(ACME);
    const ledger = serviceClusters(model.byKey.get('billing/ledger')!, { tenant: 'acme', trustDomain: 'acme.mesh', mtls: true })[0]!;
    expect(JSON.stringify(ledger.resource)).not.toContain('/sa/');
    expect(JSON.stringify(ledger.resource)).toContain('spiffe://acme.mesh/ns/billing/');
  });
});
