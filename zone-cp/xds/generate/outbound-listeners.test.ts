import { describe, expect, it } from 'vitest';
import { DB_SIDECAR, endpoint, inventory, policy, WEB_SIDECAR } from './fixtures.js';
import type { TenantSnapshot } from './input.js';
import { buildTenantModel } from './model.js';
import { outboundPortListeners, outboundPortsTakenBy } from './outbound-listeners.js';

function outbound(snapshot: Partial<TenantSnapshot>) {
  const model = buildTenantModel({ name: 'acme', trustDomain: 'acme.mesh', policies: [], localEndpoints: [], remoteInventories: [], ...snapshot });
  return outboundPortListeners(model.services);
}

const svc = (service: string, port: number, protocol: 'http' | 'grpc' | 'tcp', namespace = 'shop') =>
  endpoint({ service, namespace, instance: `${service}-1`, address: `10.0.${port % 250}.${service.length}`, ports: [{ port, protocol }] });

describe('outboundPortListeners', () => {
  it('serves every HTTP service of a port on 127.0.0.1:<port>, told apart by Host (with and without the port)', () => {
    const { listeners, routes, warnings } = outbound({ localEndpoints: [svc('a', 80, 'http'), svc('bb', 80, 'grpc')] });
    expect(warnings).toEqual([]);
    expect(listeners.map((l) => l.name)).toEqual(['outbound:80']);
    expect(listeners[0]!.resource).toMatchObject({ address: { socket_address: { address: '127.0.0.1', port_value: 80 } }, traffic_direction: 'OUTBOUND' });
    const hcm = (listeners[0]!.resource.filter_chains as { filters: { typed_config: Record<string, unknown> }[] }[])[0]!.filters[0]!.typed_config;
    expect(hcm.rds).toEqual({ config_source: { ads: {}, resource_api_version: 'V3' }, route_config_name: 'outbound:80' });
    const hosts = (routes[0]!.resource.virtual_hosts as { name: string; domains: string[] }[]).map((v) => [v.name, v.domains]);
    expect(hosts).toEqual([
      ['a.shop.mesh:80', ['a.shop.mesh', 'a.shop.mesh:80']],
      ['bb.shop.mesh:80', ['bb.shop.mesh', 'bb.shop.mesh:80']],
    ]);
  });

  it('gives a TCP port to the first service by name, with the idle timeout, and warns', () => {
    const idle = policy('Timeout', 't', { targetRef: { kind: 'Tenant' }, idle: '1m' });
    const { listeners, routes, warnings } = outbound({ policies: [idle], localEndpoints: [svc('zz', 5432, 'tcp', 'aaa'), svc('db', 5432, 'tcp')] });
    expect(routes).toEqual([]);
    const tcp = (listeners[0]!.resource.filter_chains as { filters: { name: string; typed_config: Record<string, unknown> }[] }[])[0]!.filters[0]!;
    expect(tcp.name).toBe('envoy.filters.network.tcp_proxy');
    expect(tcp.typed_config).toMatchObject({ cluster: 'db.shop.mesh:5432', idle_timeout: { seconds: 60, nanos: 0 } });
    expect(warnings).toEqual([{ code: 'tcp-port-conflict', message: expect.stringContaining('shop/db (first by name) gets it') }]);
  });

  it('lets HTTP win a port shared with TCP, and warns', () => {
    const { listeners, warnings } = outbound({
      localEndpoints: [svc('web', 8080, 'http')],
      remoteInventories: [inventory('zone-b', '192.0.2.2:1', [{ namespace: 'shop', name: 'raw', ports: [{ port: 8080, protocol: 'tcp' }], localities: [] }])],
    });
    expect(JSON.stringify(listeners)).toContain('http_connection_manager');
    expect(warnings.map((w) => w.code)).toEqual(['tcp-port-conflict']);
  });
});

describe('outboundPortsTakenBy', () => {
  it('is the application ports, plus inbound ports when the inbound listener binds loopback or all addresses', () => {
    expect(outboundPortsTakenBy(WEB_SIDECAR)).toEqual(new Set([18080]));
    expect(outboundPortsTakenBy(DB_SIDECAR)).toEqual(new Set([5432]));
    expect(outboundPortsTakenBy({ ...WEB_SIDECAR, address: undefined })).toEqual(new Set([18080, 8080]));
    expect(outboundPortsTakenBy({ ...WEB_SIDECAR, address: '127.0.0.1' })).toEqual(new Set([18080, 8080]));
  });
});
