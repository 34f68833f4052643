import { describe, expect, it } from 'vitest';
import { DB_SIDECAR, endpoint, policy, WEB_SIDECAR } from './fixtures.js';
import { inboundResources } from './inbound.js';
import type { ProxyDescription, TenantSnapshot } from './input.js';
import { buildTenantModel } from './model.js';
import { permissionRbac, sourcePrincipal } from './rbac.js';
import { matchPolicy, buildPolicyIndex } from './policy-match.js';

const webRef = { kind: 'Service', name: 'web', namespace: 'shop' };

function inbound(proxy: ProxyDescription, snapshot: Partial<TenantSnapshot> = {}) {
  const model = buildTenantModel({ name: 'acme', trustDomain: 'acme.mesh', policies: [], localEndpoints: [], remoteInventories: [], ...snapshot });
  const { listeners, clusters } = inboundResources(model, proxy);
  return { listeners, clusters, json: JSON.stringify(listeners) };
}

const chainOf = (listener: { resource: Record<string, unknown> }) => (listener.resource.filter_chains as { filters: { name: string; typed_config: Record<string, unknown> }[]; transport_socket?: unknown }[])[0]!;

describe('inboundResources', () => {
  it('allows every caller of the tenant when no TrafficPermission applies: no RBAC filter, mTLS still required', () => {
    const { listeners, json } = inbound(WEB_SIDECAR);
    expect(json).not.toContain('rbac');
    expect(chainOf(listeners[0]!).transport_socket).toMatchObject({ typed_config: { require_client_certificate: { value: true } } });
  });

  it('puts the HTTP RBAC filter before the router, on the workload\'s own address, forwarding to the application port', () => {
    const { listeners, clusters } = inbound(WEB_SIDECAR, { policies: [policy('TrafficPermission', 'p', { targetRef: webRef, rules: [{ action: 'Allow', sources: [{ namespace: 'shop' }] }] })] });
    expect(listeners.map((l) => l.name)).toEqual(['inbound:8080']);
    expect(listeners[0]!.resource.address).toEqual({ socket_address: { address: '10.0.1.1', port_value: 8080 } });
    const hcm = chainOf(listeners[0]!).filters[0]!.typed_config as { http_filters: { name: string }[] };
    expect(hcm.http_filters.map((f) => f.name)).toEqual(['envoy.filters.http.rbac', 'envoy.filters.http.router']);
    expect(clusters).toEqual([
      {
        name: 'inbound:8080',
        resource: expect.objectContaining({ type: 'STATIC', load_assignment: { cluster_name: 'inbound:8080', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 18080 } } } }] }] } }),
      },
    ]);
  });

  it('uses the network RBAC filter before tcp_proxy on TCP ports, and binds all addresses when the workload\'s is unknown', () => {
    const tenantWide = policy('TrafficPermission', 'p', { targetRef: { kind: 'Tenant' }, rules: [{ action: 'Allow', sources: [{ namespace: 'shop', serviceAccount: 'web' }] }] });
    const { listeners, clusters } = inbound({ ...DB_SIDECAR, address: undefined }, { policies: [tenantWide] });
    expect(chainOf(listeners[0]!).filters.map((f) => f.name)).toEqual(['envoy.filters.network.rbac', 'envoy.filters.network.tcp_proxy']);
    expect(listeners[0]!.resource.address).toEqual({ socket_address: { address: '0.0.0.0', port_value: 5432 } });
    expect(clusters[0]!.resource.typed_extension_protocol_options).toBeUndefined();
  });

  it('takes the protocol from the catalogue when the registration omits it, and speaks HTTP/2 to a grpc application', () => {
    const localEndpoints = [endpoint({ service: 'api', instance: 'api-1', address: '10.0.0.1', ports: [{ port: 9090, protocol: 'grpc' }] })];
    const proxy: ProxyDescription = { ...WEB_SIDECAR, service: 'api', inbound: [{ port: 9090 }] };
    const { listeners, clusters } = inbound(proxy, { localEndpoints });
    expect(chainOf(listeners[0]!).filters[0]!.name).toBe('envoy.filters.network.http_connection_manager');
    expect(clusters[0]!.resource.typed_extension_protocol_options).toBeDefined();
  });

  it('keeps RBAC without mTLS, so a permission policy fails closed instead of open', () => {
    const { listeners } = inbound({ ...WEB_SIDECAR, mtls: false }, { policies: [policy('TrafficPermission', 'p', { targetRef: webRef, rules: [{ action: 'Allow', sources: [{ namespace: 'shop' }] }] })] });
    expect(chainOf(listeners[0]!).transport_socket).toBeUndefined();
    expect(JSON.stringify(listeners)).toContain('envoy.filters.http.rbac');
  });

  it('generates nothing for a sidecar without inbound ports', () => {
    expect(inbound({ ...WEB_SIDECAR, inbound: [] }).listeners).toEqual([]);
  });
});

describe('permissionRbac', () => {
  const rbacFor = (rules: unknown[]) => permissionRbac(matchPolicy(buildPolicyIndex([policy('TrafficPermission', 'p', { targetRef: webRef, rules })]), 'TrafficPermission', { name: 'web', namespace: 'shop' })!, 'acme.mesh');
  const authenticated = (matcher: Record<string, string>) => ({ authenticated: { principal_name: matcher } });

  it('allows any allowed source that is not denied, in one ALLOW policy (deny wins)', () => {
    expect(
      rbacFor([
        { action: 'Deny', sources: [{ spiffeId: 'spiffe://acme.mesh/ns/shop/sa/bad' }] },
        { action: 'Allow', sources: [{ namespace: 'shop' }] },
      ]),
    ).toEqual({
      action: 'ALLOW',
      policies: {
        'TrafficPermission/p': {
          permissions: [{ any: true }],
          principals: [{ and_ids: { ids: [authenticated({ prefix: 'spiffe://acme.mesh/ns/shop/sa/' }), { not_id: authenticated({ exact: 'spiffe://acme.mesh/ns/shop/sa/bad' }) }] } }],
        },
      },
    });
  });

  it('denies everything when only Deny rules exist ("no matching rule denies")', () => {
    expect(rbacFor([{ action: 'Deny', sources: [{ namespace: 'ops' }] }])).toEqual({ action: 'ALLOW', policies: {} });
  });

  it('matches identities exactly, by service account, or by namespace with * or no account', () => {
    expect(sourcePrincipal({ spiffeId: 'spiffe://acme.mesh/ns/a/sa/b' }, 'acme.mesh')).toEqual(authenticated({ exact: 'spiffe://acme.mesh/ns/a/sa/b' }));
    expect(sourcePrincipal({ namespace: 'a', serviceAccount: 'b' }, 'acme.mesh')).toEqual(authenticated({ exact: 'spiffe://acme.mesh/ns/a/sa/b' }));
    expect(sourcePrincipal({ namespace: 'a', serviceAccount: '*' }, 'acme.mesh')).toEqual(authenticated({ prefix: 'spiffe://acme.mesh/ns/a/sa/' }));
    expect(sourcePrincipal({ namespace: 'a' }, 'acme.mesh')).toEqual(authenticated({ prefix: 'spiffe://acme.mesh/ns/a/sa/' }));
  });

  it('never names another trust domain\'s identity', () => {
    expect(sourcePrincipal({ spiffeId: 'spiffe://globex.mesh/ns/a/sa/b' }, 'acme.mesh')).toBeUndefined();
    expect(sourcePrincipal({ spiffeId: 'spiffe://acme.mesh.evil/ns/a/sa/b' }, 'acme.mesh')).toBeUndefined();
    expect(rbacFor([{ action: 'Allow', sources: [{ spiffeId: 'spiffe://globex.mesh/ns/a/sa/b' }] }])).toEqual({ action: 'ALLOW', policies: {} });
  });
});
