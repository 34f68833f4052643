import { describe, expect, it } from 'vitest';
import { RESOURCE_TYPES, decodeResource, type ResourceType } from '../../core/xds/protos.js';
import { encodedSet, generatedSets } from '../../test/gateway/generated-resources.js';
import type { DecodedResource } from './resources.js';
import { validateResource } from './validate.js';

const clone = <T>(value: T): T => structuredClone(value);
const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } };

const listener = (hcm: Record<string, unknown>): DecodedResource => ({
  name: 'outbound:8080',
  address: { socket_address: { address: '127.0.0.1', port_value: 8080 } },
  filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: { '@type': HCM, stat_prefix: 'x', ...hcm } }] }],
});
const route = (action: Record<string, unknown>, match: Record<string, unknown> = { prefix: '/' }): DecodedResource => ({
  name: 'outbound:8080',
  virtual_hosts: [{ name: 'web', domains: ['web.shop.mesh'], routes: [{ name: 'default', match, ...action }] }],
});
const assignment = (endpoints: Array<{ address: string; port?: number; priority?: number }>): DecodedResource => ({
  cluster_name: 'web.shop.mesh:8080',
  endpoints: endpoints.map((e) => ({ ...(e.priority ? { priority: e.priority } : {}), lb_endpoints: [{ endpoint: { address: { socket_address: { address: e.address, port_value: e.port ?? 8080 } } } }] })),
});

describe('validateResource', () => {
  it('accepts everything the zone CP generates for a sidecar, a proxyless client and the ingress', () => {
    for (const [kind, set] of Object.entries(generatedSets())) {
      const encoded = encodedSet(set);
      expect(encoded.listener.length, kind).toBeGreaterThan(0);
      expect(encoded.cluster.length, kind).toBeGreaterThan(0);
      for (const type of RESOURCE_TYPES) {
        for (const any of encoded[type]) expect(validateResource(type, decodeResource(any)), `${kind} ${type}`).toBeUndefined();
      }
    }
  });

  it('needs a name', () => {
    const cases: Array<[ResourceType, DecodedResource]> = [
      ['listener', { address: { socket_address: { address: '127.0.0.1', port_value: 1 } } }],
      ['route', {}],
      ['cluster', { type: 'EDS' }],
      ['endpoint', { endpoints: [] }],
    ];
    for (const [type, resource] of cases) expect(validateResource(type, resource)).toBe(`a ${type} has no name`);
  });

  it('refuses a listener the data path could not bind or route', () => {
    const good = listener({ rds: { route_config_name: 'outbound:8080' }, http_filters: [ROUTER] });
    expect(validateResource('listener', good)).toBeUndefined();
    const hostName = clone(good);
    (hostName.address as { socket_address: { address: string } }).socket_address.address = 'localhost';
    expect(validateResource('listener', hostName)).toMatch(/"localhost" is not an IP literal/);
    expect(validateResource('listener', { ...good, filter_chains: [] })).toMatch(/no filter chains/);
    expect(validateResource('listener', listener({ http_filters: [ROUTER] }))).toMatch(/neither rds nor route_config/);
    expect(validateResource('listener', listener({ rds: { route_config_name: '' } }))).toMatch(/rds names no route configuration/);
    expect(validateResource('listener', listener({ rds: { route_config_name: 'r' }, http_filters: [ROUTER, { name: 'envoy.filters.http.rbac', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC' } }] }))).toMatch(
      /router must be the last/,
    );
    // A filter of a type the protos do not know decodes as a bare Any, without '@type'.
    const unknownFilter = clone(good);
    (unknownFilter.filter_chains as Array<{ filters: unknown[] }>)[0]!.filters = [{ name: 'x', typed_config: { type_url: 'type.googleapis.com/x.Y', value: '' } }];
    expect(validateResource('listener', unknownFilter)).toMatch(/filter x has no config of a known type/);
    const tcp = clone(good);
    (tcp.filter_chains as Array<{ filters: unknown[] }>)[0]!.filters = [{ name: 'tcp', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', stat_prefix: 's' } }];
    expect(validateResource('listener', tcp)).toMatch(/filter tcp names no cluster/);
    expect(validateResource('listener', { name: 'api', api_listener: { api_listener: { '@type': HCM, rds: { route_config_name: 'r' } } } })).toBeUndefined();
  });

  it('refuses routes without a match or a destination, and regexes RE2 would not compile', () => {
    expect(validateResource('route', route({ route: { cluster: 'c' } }))).toBeUndefined();
    expect(validateResource('route', route({ route: {} }))).toMatch(/route default names no cluster/);
    expect(validateResource('route', route({}))).toMatch(/has no action/);
    expect(validateResource('route', route({ route: { cluster: 'c' } }, {}))).toMatch(/has no path match/);
    expect(validateResource('route', route({ route: { weighted_clusters: { clusters: [{ name: 'a', weight: { value: 0 } }] } } }))).toMatch(/add up to 0/);
    expect(validateResource('route', route({ route: { cluster: 'c' } }, { safe_regex: { regex: '^/(?=a)' } }))).toMatch(/regex "\^\/\(\?=a\)"/);
    expect(validateResource('route', route({ route: { cluster: 'c' } }, { prefix: '/', headers: [{ name: 'x-user', string_match: { safe_regex: { regex: '(a)\\1' } } }] }))).toMatch(/header x-user: regex/);
    expect(validateResource('route', { name: 'r', virtual_hosts: [{ name: 'v', domains: [], routes: [] }] })).toMatch(/virtual host v has no domains/);
  });

  it('takes EDS and STATIC clusters only', () => {
    expect(validateResource('cluster', { name: 'c', type: 'EDS' })).toBeUndefined();
    expect(validateResource('cluster', { name: 'c', type: 'STRICT_DNS' })).toMatch(/STRICT_DNS is not supported/);
    expect(validateResource('cluster', { name: 'c', type: 'STATIC' })).toMatch(/needs a load_assignment/);
    expect(validateResource('cluster', { name: 'c', type: 'STATIC', load_assignment: assignment([{ address: 'db.local' }]) })).toMatch(/not an IP literal/);
  });

  it('refuses endpoints at host names, twice, or with a gap in the priorities', () => {
    expect(validateResource('endpoint', assignment([{ address: '10.0.0.1' }, { address: '2001:db8::1', priority: 1 }]))).toBeUndefined();
    expect(validateResource('endpoint', assignment([{ address: 'web.example' }]))).toMatch(/"web.example" is not an IP literal/);
    expect(validateResource('endpoint', assignment([{ address: '10.0.0.1', port: 0 }]))).toMatch(/port must be 1-65535/);
    expect(validateResource('endpoint', assignment([{ address: '10.0.0.1' }, { address: '10.0.0.1', priority: 1 }]))).toMatch(/appears twice/);
    expect(validateResource('endpoint', assignment([{ address: '10.0.0.1' }, { address: '10.0.0.2', priority: 2 }]))).toMatch(/contiguous from 0 \(have 0, 2\)/);
    expect(validateResource('endpoint', { cluster_name: 'empty' })).toBeUndefined();
  });
});
