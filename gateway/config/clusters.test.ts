import { describe, expect, it } from 'vitest';
import { compileCircuitBreakers, compileOutlierDetection } from './cluster-limits.js';
import { compileCluster } from './clusters.js';
import { ConfigProblem } from './problems.js';
import { UPSTREAM_TLS_TYPE_URL } from './tls.js';

const d = (seconds: number) => ({ seconds: String(seconds), nanos: 0 });
const tlsSocket = (matcher: Record<string, unknown>, sni?: string) => ({
  name: 'envoy.transport_sockets.tls',
  typed_config: {
    '@type': UPSTREAM_TLS_TYPE_URL,
    common_tls_context: { validation_context: { match_typed_subject_alt_names: [{ san_type: 'URI', matcher }] } },
    ...(sni ? { sni } : {}),
  },
});
const http2Options = {
  'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
    '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
    explicit_http_config: { http2_protocol_options: {}, protocol_config: 'http2_protocol_options' },
  },
};

describe('compileCluster', () => {
  it('EDS: the EDS name is service_name, else the cluster name; connect_timeout defaults to 5 s', () => {
    expect(compileCluster({ name: 'a', type: 'EDS', eds_cluster_config: { service_name: 'a-eds' } })).toMatchObject({ kind: 'eds', edsName: 'a-eds', connectTimeoutMs: 5000, http2: false });
    expect(compileCluster({ name: 'a', type: 'EDS', connect_timeout: d(2) })).toMatchObject({ edsName: 'a', connectTimeoutMs: 2000 });
  });

  it('STATIC (absent type: enum value 0) carries its load_assignment', () => {
    const cluster = compileCluster({
      name: 'inbound:8080',
      load_assignment: { cluster_name: 'inbound:8080', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 18080 } } } }] }] },
    });
    expect(cluster.kind).toBe('static');
    expect(cluster.staticAssignment?.levels[0]?.localities[0]?.endpoints[0]).toEqual({ address: '127.0.0.1', port: 18080, healthy: true });
    expect(cluster.tls).toBeUndefined();
  });

  it('speaks HTTP/2 with explicit http2_protocol_options, and offers h2 by ALPN then', () => {
    const cluster = compileCluster({ name: 'a', type: 'EDS', typed_extension_protocol_options: http2Options, transport_socket: tlsSocket({ exact: 'spiffe://a/ns/x/sa/y' }) });
    expect(cluster.http2).toBe(true);
    expect(cluster.tls?.alpn).toEqual(['h2']);
    expect(cluster.tls?.acceptsPeer('spiffe://a/ns/x/sa/y')).toBe(true);
  });

  it('takes remoteTls from the transport_socket_matches entry for meshfed.remote: true', () => {
    const cluster = compileCluster({
      name: 'a',
      type: 'EDS',
      transport_socket: tlsSocket({ exact: 'spiffe://a/ns/x/sa/y' }),
      transport_socket_matches: [{ name: 'remote', match: { fields: { 'meshfed.remote': { boolValue: true, kind: 'boolValue' } } }, transport_socket: tlsSocket({ prefix: 'spiffe://a/ns/x/' }, '80.y.x.a.mesh') }],
    });
    expect(cluster.remoteTls?.sni).toBe('80.y.x.a.mesh');
    expect(cluster.remoteTls?.acceptsPeer('spiffe://a/ns/x/sa/z')).toBe(true);
    expect(cluster.tls?.acceptsPeer('spiffe://a/ns/x/sa/z')).toBe(false);
  });

  it('refuses what the runtime cannot do as configured', () => {
    const base = { name: 'a', type: 'EDS' };
    expect(() => compileCluster({ ...base, type: 'STRICT_DNS' })).toThrow('cluster type STRICT_DNS is not supported');
    expect(() => compileCluster({ ...base, lb_policy: 'RING_HASH' })).toThrow('lb_policy RING_HASH is not supported');
    expect(() => compileCluster({ ...base, transport_socket_matches: [{ match: { fields: { zone: { stringValue: 'b' } } }, transport_socket: tlsSocket({ exact: 'x' }) }] })).toThrow(ConfigProblem);
    expect(() => compileCluster({ ...base, transport_socket_matches: [{ match: { fields: { 'meshfed.remote': { boolValue: true } } } }] })).toThrow('plaintext to remote zones is not supported');
    expect(() => compileCluster({ ...base, typed_extension_protocol_options: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', auto_config: {} } } })).toThrow(ConfigProblem);
    expect(() => compileCluster({ type: 'EDS' })).toThrow('cluster has no name');
    expect(() => compileCluster({ ...base, transport_socket: tlsSocket({ safe_regex: { regex: '(' } }) })).toThrow(/^transport_socket: match_typed_subject_alt_names #0: invalid regex/);
  });

  it('accepts LEAST_REQUEST and RANDOM (balanced round robin)', () => {
    expect(compileCluster({ name: 'a', type: 'EDS', lb_policy: 'LEAST_REQUEST' }).kind).toBe('eds');
  });
});

describe('compileCircuitBreakers', () => {
  it('reads the DEFAULT-priority thresholds (absent priority is DEFAULT), retry budget included', () => {
    const thresholds = compileCircuitBreakers({
      thresholds: [
        { priority: 'HIGH', max_connections: { value: 9 } },
        { max_connections: { value: 100 }, max_pending_requests: { value: 50 }, max_requests: { value: 200 }, max_retries: { value: 5 }, retry_budget: { budget_percent: { value: 20 }, min_retry_concurrency: { value: 3 } } },
      ],
    });
    expect(thresholds).toEqual({ maxConnections: 100, maxPendingRequests: 50, maxRequests: 200, maxRetries: 5, retryBudget: { budgetPercent: 20, minRetryConcurrency: 3 } });
  });

  it('leaves absent fields absent (runtime defaults); an empty retry_budget still replaces max_retries', () => {
    expect(compileCircuitBreakers(undefined)).toEqual({});
    expect(compileCircuitBreakers({ thresholds: [{ priority: 'DEFAULT', retry_budget: {} }] })).toEqual({ retryBudget: {} });
  });
});

describe('compileOutlierDetection', () => {
  it('unwraps wrappers and converts durations', () => {
    expect(
      compileOutlierDetection({
        consecutive_5xx: { value: 5 },
        enforcing_consecutive_5xx: { value: 100 },
        consecutive_gateway_failure: { value: 3 },
        enforcing_consecutive_gateway_failure: {},
        split_external_local_origin_errors: true,
        consecutive_local_origin_failure: { value: 2 },
        enforcing_consecutive_local_origin_failure: { value: 100 },
        interval: d(10),
        base_ejection_time: d(30),
        max_ejection_time: d(300),
        max_ejection_percent: { value: 50 },
        always_eject_one_host: { value: true },
      }),
    ).toEqual({
      consecutive5xx: 5,
      enforcingConsecutive5xx: 100,
      consecutiveGatewayFailure: 3,
      enforcingConsecutiveGatewayFailure: 0,
      splitExternalLocalOriginErrors: true,
      consecutiveLocalOriginFailure: 2,
      enforcingConsecutiveLocalOriginFailure: 100,
      intervalMs: 10_000,
      baseEjectionTimeMs: 30_000,
      maxEjectionTimeMs: 300_000,
      maxEjectionPercent: 50,
      alwaysEjectOneHost: true,
    });
  });

  it('is undefined without outlier_detection, and {} (Envoy defaults) when empty', () => {
    expect(compileOutlierDetection(undefined)).toBeUndefined();
    expect(compileOutlierDetection({})).toEqual({});
  });
});
