import { describe, expect, it } from 'vitest';
import { emptyTenantView } from '../../sync/tenant-view.js';
import { ZONE, ACME, DB_SIDECAR, GLOBEX, inventory, locality, policy, PROXYLESS_CLIENT, WEB_SIDECAR } from './fixtures.js';
import {
  buildTenantModel,
  proxyResources,
  serviceEndpointResources,
  serviceOutboundResources,
  tenantEndpointResources,
  tenantSnapshotFromView,
  type TenantSnapshot,
} from './index.js';

describe('tenant isolation', () => {
  const acme = buildTenantModel(ACME);

  it('gives a proxy of one tenant nothing of another, even with identical service names', () => {
    for (const proxy of [WEB_SIDECAR, DB_SIDECAR, PROXYLESS_CLIENT]) {
      const text = JSON.stringify(proxyResources(acme, proxy));
      for (const foreign of ['globex', '10.9.0.1', '192.0.2.99', 'secret']) expect(text).not.toContain(foreign);
    }
  });

  it('refuses to generate for a proxy of another tenant', () => {
    expect(() => proxyResources(acme, { ...WEB_SIDECAR, tenant: 'globex' })).toThrow(/belongs to tenant "globex"/);
    expect(() => proxyResources(buildTenantModel(GLOBEX), WEB_SIDECAR)).toThrow(/not "globex"/);
  });

  it('ignores another tenant\'s endpoints and inventories slipped into a snapshot', () => {
    const polluted: TenantSnapshot = { ...ACME, localEndpoints: [...ACME.localEndpoints, ...GLOBEX.localEndpoints], remoteInventories: [...ACME.remoteInventories, ...GLOBEX.remoteInventories] };
    expect(JSON.stringify(proxyResources(buildTenantModel(polluted), WEB_SIDECAR))).toBe(JSON.stringify(proxyResources(acme, WEB_SIDECAR)));
  });

  it('builds a snapshot from a tenant view without this zone\'s own inventory or other tenants\' endpoints', () => {
    const view = {
      ...emptyTenantView('acme', 'acme.mesh'),
      policies: { 'Timeout/t': policy('Timeout', 't', { targetRef: { kind: 'Tenant' }, connect: '1s' }) },
      inventories: { 'zone-a': inventory('zone-a', '192.0.2.1:1', []), 'zone-b': inventory('zone-b', '192.0.2.2:1', []) },
    };
    const snapshot = tenantSnapshotFromView(view, ZONE, [...ACME.localEndpoints, ...GLOBEX.localEndpoints]);
    expect(snapshot.remoteInventories.map((i) => i.zone)).toEqual(['zone-b']);
    expect(snapshot.localEndpoints.every((e) => e.tenant === 'acme')).toBe(true);
    expect(snapshot.policies.map((p) => p.metadata.name)).toEqual(['t']);
    expect(tenantSnapshotFromView(view, 'zone-a', []).remoteInventories.map((i) => i.zone)).toEqual(['zone-b']);
  });
});

describe('proxyResources', () => {
  const acme = buildTenantModel(ACME);

  it('leaves out outbound listeners on ports the sidecar\'s own application holds, and says so', () => {
    const db = proxyResources(acme, DB_SIDECAR);
    expect(db.listener.map((l) => l.name)).not.toContain('outbound:5432');
    expect(db.listener.map((l) => l.name)).toContain('inbound:5432');
    expect(db.warnings).toEqual([{ code: 'outbound-port-taken', message: expect.stringContaining('outbound:5432') }]);
    expect(proxyResources(acme, WEB_SIDECAR).listener.map((l) => l.name)).toContain('outbound:5432');
  });

  it('refuses an ingress: it is generated for all its tenants at once', () => {
    expect(() => proxyResources(acme, { ...WEB_SIDECAR, kind: 'ingress' })).toThrow(/ingressResources/);
  });

  it('has no TLS for a proxy without mTLS, but the same remote zones: failover does not depend on the transport', () => {
    const text = JSON.stringify(proxyResources(acme, { ...WEB_SIDECAR, mtls: false }));
    expect(text).not.toMatch(/"transport_socket(_matches)?"|UpstreamTlsContext/);
    expect(text).toContain('192.0.2.20');
    expect(JSON.stringify(proxyResources(acme, WEB_SIDECAR))).toContain('192.0.2.20');
  });
});

describe('caching', () => {
  it('keeps the model and resources of every service whose inputs did not change', () => {
    const before = buildTenantModel(ACME);
    const changed = ACME.localEndpoints.map((e) => (e.instance === 'db-1' ? { ...e, healthy: false } : e));
    const after = buildTenantModel({ ...ACME, localEndpoints: changed }, before);
    for (const service of after.services) {
      const same = service.key !== 'shop/db';
      expect(service === before.byKey.get(service.key), service.key).toBe(same);
      expect(serviceEndpointResources(service, WEB_SIDECAR.locality, { mtls: true }) === serviceEndpointResources(before.byKey.get(service.key)!, WEB_SIDECAR.locality, { mtls: true })).toBe(same);
      expect(serviceOutboundResources(after, service, { mtls: true }) === serviceOutboundResources(before, before.byKey.get(service.key)!, { mtls: true })).toBe(same);
    }
  });

  it('shares endpoints between proxies of one zone, whatever their subzone', () => {
    const model = buildTenantModel(ACME);
    const mtls = { mtls: true };
    expect(tenantEndpointResources(model, locality('eu-west', 'zone-a', 'rack-1'), mtls)).toBe(tenantEndpointResources(model, locality('eu-west', 'zone-a', 'rack-2'), mtls));
    expect(tenantEndpointResources(model, locality('eu-west', 'zone-a'), mtls)).not.toBe(tenantEndpointResources(model, locality('eu-west', 'zone-b'), mtls));
  });

});
