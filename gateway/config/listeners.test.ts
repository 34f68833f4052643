import { describe, expect, it } from 'vitest';
import { HCM_TYPE_URL, ROUTER_TYPE_URL, TCP_PROXY_TYPE_URL } from '../xds/resources.js';
import { compileListener, HTTP_RBAC_TYPE_URL, NETWORK_RBAC_TYPE_URL } from './listeners.js';
import type { ListenerFilter, RequestFacts } from './model.js';
import { ConfigProblem } from './problems.js';
import { DOWNSTREAM_TLS_TYPE_URL } from './tls.js';

const router = { name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER_TYPE_URL } };
const tcpProxy = (config: Record<string, unknown>) => ({ name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': TCP_PROXY_TYPE_URL, stat_prefix: 'tcp', ...config } });
const hcm = (config: Record<string, unknown>) => ({
  name: 'envoy.filters.network.http_connection_manager',
  typed_config: { '@type': HCM_TYPE_URL, stat_prefix: 'http', http_filters: [router], ...config },
});
const allowOnly = (principal: string) => ({
  rules: { policies: { p: { permissions: [{ any: true }], principals: [{ authenticated: { principal_name: { exact: principal } } }] } } },
});
const listener = (filters: unknown[], extra: Record<string, unknown> = {}) => ({
  name: 'l',
  address: { socket_address: { address: '127.0.0.1', port_value: 5432 } },
  traffic_direction: 'OUTBOUND',
  filter_chains: [{ filters }],
  ...extra,
});
const facts = (authority: string): RequestFacts => ({ authority, path: '/', method: 'GET', header: () => undefined });
const httpFilter = (filter: ListenerFilter) => (filter.kind === 'http' ? filter : expect.fail('not an http filter'));

describe('compileListener', () => {
  it('TCP proxy: address, direction, cluster, idle timeout', () => {
    const compiled = compileListener(listener([tcpProxy({ cluster: 'db', idle_timeout: { seconds: 300 } })]))!;
    expect(compiled).toMatchObject({ name: 'l', address: '127.0.0.1', port: 5432, direction: 'outbound' });
    expect(compiled.filter).toEqual({ kind: 'tcp', clusters: [{ name: 'db', weight: 1 }], idleTimeoutMs: 300_000, statPrefix: 'tcp' });
    expect(compiled.tls).toBeUndefined();
  });

  it('TCP proxy idle timeout: absent → Envoy\'s 1 h, 0 → none; weighted clusters with bare weights', () => {
    const absent = compileListener(listener([tcpProxy({ weighted_clusters: { clusters: [{ name: 'a', weight: 3 }, { name: 'b', weight: 1 }] } })]))!;
    expect(absent.filter).toMatchObject({ clusters: [{ name: 'a', weight: 3 }, { name: 'b', weight: 1 }], idleTimeoutMs: 3_600_000 });
    const none = compileListener(listener([tcpProxy({ cluster: 'a', idle_timeout: {} })]))!;
    expect(none.filter).not.toHaveProperty('idleTimeoutMs');
  });

  it('network RBAC in front of a TCP proxy', () => {
    const compiled = compileListener(listener([{ name: 'envoy.filters.network.rbac', typed_config: { '@type': NETWORK_RBAC_TYPE_URL, ...allowOnly('spiffe://a/ns/x/sa/y') } }, tcpProxy({ cluster: 'db' })]))!;
    const access = compiled.filter.access!;
    expect([access.allows('spiffe://a/ns/x/sa/y'), access.allows('spiffe://a/ns/x/sa/z'), access.allows(undefined)]).toEqual([true, false, false]);
  });

  it('HTTP with RDS, or an inline route configuration', () => {
    const rds = compileListener(listener([hcm({ rds: { config_source: { ads: {} }, route_config_name: 'outbound:8080' } })]))!;
    expect(rds.filter).toEqual({ kind: 'http', routes: { rds: 'outbound:8080' }, statPrefix: 'http', upgrades: [] });
    const inline = compileListener(
      listener([hcm({ route_config: { name: 'inbound:8080', virtual_hosts: [{ name: 'vh', domains: ['*'], routes: [{ name: 'app', match: { prefix: '/' }, route: { cluster: 'inbound:8080' } }] }] } })]),
    )!;
    const routes = httpFilter(inline.filter).routes;
    expect('inline' in routes && routes.inline.select(facts('anything:1'))?.routeName).toBe('inbound:8080/vh/app');
  });

  it('upgrade_configs: the types enabled, lowercase and once; enabled false (also as an empty BoolValue) leaves one out; upgrade filters are a problem', () => {
    const compiled = compileListener(
      listener([hcm({ rds: { route_config_name: 'r' }, upgrade_configs: [{ upgrade_type: 'WebSocket' }, { upgrade_type: 'websocket' }, { upgrade_type: 'CONNECT', enabled: { value: false } }, { upgrade_type: 'h2c', enabled: false }, { upgrade_type: 'spdy/3', enabled: {} }] })]),
    )!;
    expect(httpFilter(compiled.filter).upgrades).toEqual(['websocket']);
    expect(() => compileListener(listener([hcm({ rds: { route_config_name: 'r' }, upgrade_configs: [{ upgrade_type: 'websocket', filters: [router] }] })]))).toThrow(/upgrade websocket: upgrade-specific filters/);
    expect(() => compileListener(listener([hcm({ rds: { route_config_name: 'r' }, upgrade_configs: [{}] })]))).toThrow(/upgrade_configs.*without upgrade_type/);
  });

  it('HTTP RBAC and network RBAC must both allow', () => {
    const compiled = compileListener(
      listener([
        { name: 'envoy.filters.network.rbac', typed_config: { '@type': NETWORK_RBAC_TYPE_URL, rules: { action: 'DENY', policies: { p: { permissions: [{ any: true }], principals: [{ authenticated: { principal_name: { exact: 'spiffe://a/bad' } } }] } } } } },
        hcm({ rds: { route_config_name: 'r' }, http_filters: [{ name: 'envoy.filters.http.rbac', typed_config: { '@type': HTTP_RBAC_TYPE_URL, rules: { policies: { p: { permissions: [{ any: true }], principals: [{ authenticated: { principal_name: { prefix: 'spiffe://a/' } } }] } } } } }, router] }),
      ]),
    )!;
    const access = compiled.filter.access!;
    expect([access.allows('spiffe://a/good'), access.allows('spiffe://a/bad'), access.allows('spiffe://b/x')]).toEqual([true, false, false]);
  });

  it('terminates TLS with the chain\'s DownstreamTlsContext', () => {
    const socket = { name: 'envoy.transport_sockets.tls', typed_config: { '@type': DOWNSTREAM_TLS_TYPE_URL, require_client_certificate: { value: true } } };
    const compiled = compileListener({ ...listener([]), traffic_direction: 'INBOUND', filter_chains: [{ filters: [tcpProxy({ cluster: 'db' })], transport_socket: socket }] })!;
    expect(compiled.tls).toEqual({ requireClientCertificate: true, alpn: [] });
    expect(compiled.direction).toBe('inbound');
    expect(compileListener({ ...listener([tcpProxy({ cluster: 'a' })]), traffic_direction: undefined })?.direction).toBe('unspecified');
  });

  it('skips API listeners and the ingress\'s listeners silently', () => {
    expect(compileListener({ name: 'svc.ns.mesh:80', api_listener: { api_listener: { '@type': HCM_TYPE_URL } } })).toBeUndefined();
    expect(compileListener({ ...listener([]), filter_chains: [{ filters: [tcpProxy({ cluster: 'a' })] }, { filters: [tcpProxy({ cluster: 'b' })] }] })).toBeUndefined();
    expect(compileListener({ ...listener([]), filter_chains: [{ filter_chain_match: { server_names: ['a.mesh'] }, filters: [tcpProxy({ cluster: 'a' })] }] })).toBeUndefined();
    expect(compileListener({ ...listener([tcpProxy({ cluster: 'a' })]), default_filter_chain: { filters: [tcpProxy({ cluster: 'b' })] } })).toBeUndefined();
  });

  it('refuses filters it does not know, saying which', () => {
    const ext = { name: 'x', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.ext_authz.v3.ExtAuthz' } };
    expect(() => compileListener(listener([ext]))).toThrow('unsupported filter x');
    expect(() => compileListener(listener([tcpProxy({ cluster: 'a' }), ext]))).toThrow('unsupported filter x after envoy.filters.network.tcp_proxy');
    expect(() => compileListener(listener([hcm({ rds: { route_config_name: 'r' }, http_filters: [{ name: 'envoy.filters.http.cors', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors' } }, router] })]))).toThrow(
      'filter envoy.filters.network.http_connection_manager: unsupported HTTP filter envoy.filters.http.cors',
    );
    expect(() => compileListener(listener([hcm({ rds: { route_config_name: 'r' }, http_filters: [] })]))).toThrow('the last HTTP filter must be the router');
    expect(() => compileListener(listener([]))).toThrow('no TCP proxy or HTTP connection manager');
  });

  it('refuses what would change routing or the connection unseen', () => {
    expect(() => compileListener(listener([hcm({ rds: { route_config_name: 'r' }, strip_any_host_port: true })]))).toThrow(ConfigProblem);
    expect(() => compileListener(listener([hcm({})]))).toThrow('no rds or route_config');
    expect(() => compileListener({ ...listener([]), filter_chains: [{ filter_chain_match: { destination_port: { value: 80 } }, filters: [tcpProxy({ cluster: 'a' })] }] })).toThrow(ConfigProblem);
    expect(() => compileListener({ ...listener([tcpProxy({ cluster: 'a' })]), listener_filters: [{ name: 'envoy.filters.listener.proxy_protocol', typed_config: { '@type': 'type.googleapis.com/x.ProxyProtocol' } }] })).toThrow(
      'unsupported listener filter envoy.filters.listener.proxy_protocol',
    );
    expect(() => compileListener({ ...listener([tcpProxy({ cluster: 'a' })]), address: { pipe: { path: '/tmp/s' } } })).toThrow(/^address: no socket address/);
    expect(() => compileListener({ ...listener([]), filter_chains: [] })).toThrow('no filter chain');
    expect(() => compileListener(listener([hcm({ route_config: { name: 'rc', virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, redirect: {} }] }] } })]))).toThrow(
      'filter envoy.filters.network.http_connection_manager: route_config rc: virtual host v: route #0: unsupported action redirect',
    );
  });
});
