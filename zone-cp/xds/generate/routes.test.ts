import { describe, expect, it } from 'vitest';
import type { PolicyDocument } from '../../../core/schemas/policies/index.js';
import { endpoint, policy } from './fixtures.js';
import { buildTenantModel } from './model.js';
import { serviceRouteConfigurations, serviceRoutes } from './routes.js';

const ref = { kind: 'Service', name: 'api', namespace: 'shop' };

function routes(policies: PolicyDocument[]) {
  const model = buildTenantModel({
    name: 'acme',
    trustDomain: 'acme.mesh',
    policies,
    localEndpoints: [endpoint({ service: 'api', instance: 'a', address: '10.0.0.1', ports: [{ port: 80, protocol: 'http' }] })],
    remoteInventories: [],
  });
  return serviceRoutes(model.byKey.get('shop/api')!, 80) as { name: string; match: Record<string, unknown>; route: Record<string, unknown> }[];
}

/** Istio's default, which meshfed applies without a Retry policy. */
const DEFAULT_RETRY_POLICY = { retry_on: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes', num_retries: { value: 2 }, retriable_status_codes: [503] };
const trafficRoute = (rules: unknown[]) => policy('TrafficRoute', 'r', { targetRef: ref, rules });

describe('serviceRouteConfigurations', () => {
  it('is named like the API listener, with the authority (port included) first in the domains', () => {
    const model = buildTenantModel({ name: 'acme', trustDomain: 'acme.mesh', policies: [], localEndpoints: [endpoint({ service: 'api', instance: 'a', address: '10.0.0.1', ports: [{ port: 80 }, { port: 81 }] })], remoteInventories: [] });
    const configs = serviceRouteConfigurations(model.byKey.get('shop/api')!);
    expect(configs.map((c) => c.name)).toEqual(['api.shop.mesh:80', 'api.shop.mesh:81']);
    expect(configs[0]!.resource).toEqual({
      name: 'api.shop.mesh:80',
      virtual_hosts: [{ name: 'api.shop.mesh:80', domains: ['api.shop.mesh:80', 'api.shop.mesh', '*'], routes: [{ name: 'default', match: { prefix: '/' }, route: { cluster: 'api.shop.mesh:80', retry_policy: DEFAULT_RETRY_POLICY } }] }],
    });
  });
});

describe('serviceRoutes', () => {
  it('keeps rule order, one route per match, then the whole service', () => {
    const result = routes([
      trafficRoute([
        { matches: [{ path: { exact: '/a' } }, { path: { prefix: '/b' }, method: 'GET' }], split: [{ weight: 100, tags: { version: 'v1' } }] },
        { matches: [{ path: { regex: '^/c[0-9]+$' } }], split: [{ weight: 70, tags: { version: 'v1' } }, { weight: 30, tags: { version: 'v2' } }] },
      ]),
    ]);
    expect(result.map((r) => [r.name, r.match, r.route.cluster ?? r.route.weighted_clusters])).toEqual([
      ['rule-0-match-0', { path: '/a' }, 'api.shop.mesh:80|version=v1'],
      ['rule-0-match-1', { prefix: '/b', headers: [{ name: ':method', string_match: { exact: 'GET' } }] }, 'api.shop.mesh:80|version=v1'],
      ['rule-1-match-0', { safe_regex: { regex: '^/c[0-9]+$' } }, { clusters: [{ name: 'api.shop.mesh:80|version=v1', weight: { value: 70 } }, { name: 'api.shop.mesh:80|version=v2', weight: { value: 30 } }] }],
      ['default', { prefix: '/' }, 'api.shop.mesh:80'],
    ]);
  });

  it('merges split entries naming one destination, drops zero weights, and needs no default after a rule without matches', () => {
    const result = routes([trafficRoute([{ split: [{ weight: 40 }, { weight: 0, tags: { version: 'v2' } }, { weight: 60, tags: {} }] }, { split: [{ weight: 100, tags: { version: 'v3' } }] }])]);
    expect(result).toEqual([{ name: 'rule-0', match: { prefix: '/' }, route: { cluster: 'api.shop.mesh:80', retry_policy: DEFAULT_RETRY_POLICY } }]);
  });

  it('retries what was certainly not processed, and 503, when no Retry policy targets the service', () => {
    expect(routes([])[0]!.route.retry_policy).toEqual(DEFAULT_RETRY_POLICY);
  });

  it('maps every header matcher, including the empty and inverted ones Envoy would refuse as written', () => {
    const headers = [
      { name: 'a', exact: '' },
      { name: 'b', prefix: 'x' },
      { name: 'c', prefix: '' },
      { name: 'd', regex: '^v[0-9]$' },
      { name: 'e', present: true, invert: true },
      { name: 'f', present: false },
      { name: 'g', regex: '' },
    ];
    const [route] = routes([trafficRoute([{ matches: [{ headers }], split: [{ weight: 100 }] }])]);
    expect(route!.match.headers).toEqual([
      { name: 'a', string_match: { exact: '' } },
      { name: 'b', string_match: { prefix: 'x' } },
      { name: 'c', present_match: true },
      { name: 'd', string_match: { safe_regex: { regex: '^v[0-9]$' } } },
      { name: 'e', present_match: true, invert_match: true },
      { name: 'f', present_match: true, invert_match: true },
      { name: 'g', present_match: true },
    ]);
  });

  it('puts Retry and Timeout on every route, request timeout also as max_stream_duration for proxyless gRPC', () => {
    const result = routes([
      trafficRoute([{ matches: [{ path: { prefix: '/x' } }], split: [{ weight: 100 }] }]),
      policy('Retry', 'retry', { targetRef: ref, attempts: 4, retryOn: ['unavailable', 'retriable-status-codes'], retriableStatusCodes: [502, 503], perTryTimeout: '1.5s', backoff: { baseInterval: '10ms' } }),
      policy('Timeout', 'timeout', { targetRef: ref, request: '1m', idle: '90s' }),
    ]);
    for (const route of result) {
      expect(route.route).toMatchObject({
        retry_policy: {
          retry_on: 'unavailable,retriable-status-codes',
          num_retries: { value: 4 },
          per_try_timeout: { seconds: 1, nanos: 500_000_000 },
          retry_back_off: { base_interval: { seconds: 0, nanos: 10_000_000 } },
          retriable_status_codes: [502, 503],
        },
        timeout: { seconds: 60, nanos: 0 },
        max_stream_duration: { max_stream_duration: { seconds: 60, nanos: 0 } },
        idle_timeout: { seconds: 90, nanos: 0 },
      });
    }
    expect(result).toHaveLength(2);
  });
});
