import { describe, expect, it } from 'vitest';
import { INGRESS_LISTENER_NAME, parseIngressSni } from '../../../core/xds/names.js';
import { ACME, GLOBEX, INGRESS } from './fixtures.js';
import { ingressResources } from './ingress.js';
import { buildTenantModel } from './model.js';

const acme = buildTenantModel(ACME);
const globex = buildTenantModel(GLOBEX);

const chains = (set: ReturnType<typeof ingressResources>) =>
  (set.listener[0]!.resource.filter_chains as { filter_chain_match: { server_names: string[] }; filters: { typed_config: { cluster: string } }[] }[]).map((c): [string, string] => [
    c.filter_chain_match.server_names[0]!,
    c.filters[0]!.typed_config.cluster,
  ]);

describe('ingressResources', () => {
  it('reads the SNI with tls_inspector and passes each (tenant, service, port, subset) through to its local endpoints', () => {
    const set = ingressResources({ proxy: INGRESS, tenants: [acme], listenPort: 10001 });
    expect(set.listener.map((l) => l.name)).toEqual([INGRESS_LISTENER_NAME]);
    expect(set.listener[0]!.resource).toMatchObject({
      address: { socket_address: { address: '0.0.0.0', port_value: 10001 } },
      listener_filters: [{ name: 'envoy.filters.listener.tls_inspector' }],
    });
    expect(chains(set).filter(([sni]) => !sni.startsWith('s'))).toEqual([
      ['5432.db.shop.acme.mesh', 'ingress|acme|db.shop.mesh:5432'],
      ['8080.web.shop.acme.mesh', 'ingress|acme|web.shop.mesh:8080'],
      ['9090.payments.shop.acme.mesh', 'ingress|acme|payments.shop.mesh:9090'],
    ]);
    // Remote-only services (ledger, legacy-db) have nothing here to forward to.
    expect(JSON.stringify(set)).not.toMatch(/ledger|legacy-db/);
    for (const [sni] of chains(set)) expect(parseIngressSni(sni)).toMatchObject({ tenant: 'acme' });
  });

  it('has no TLS and no remote endpoints in its clusters: mTLS stays end to end', () => {
    const set = ingressResources({ proxy: INGRESS, tenants: [acme], listenPort: 10001 });
    expect(JSON.stringify(set.cluster)).not.toContain('transport_socket');
    expect(JSON.stringify(set.endpoint)).not.toMatch(/192\.0\.2|2001:db8|remote/);
  });

  it('serves only the tenants it is given', () => {
    expect(JSON.stringify(ingressResources({ proxy: INGRESS, tenants: [acme], listenPort: 1 }))).not.toContain('globex');
    const both = ingressResources({ proxy: INGRESS, tenants: [globex, acme, globex], listenPort: 1 });
    expect(chains(both).map(([sni]) => sni)).toContain('8080.web.shop.globex.mesh');
    expect(both.cluster.filter((c) => c.name.startsWith('ingress|globex|')).map((c) => c.name)).toEqual(['ingress|globex|web.shop.mesh:8080']);
  });

  it('opens no listener when no tenant has local endpoints', () => {
    const set = ingressResources({ proxy: INGRESS, tenants: [buildTenantModel({ ...ACME, localEndpoints: [] })], listenPort: 1 });
    expect(set.listener).toEqual([]);
    expect(set.warnings.map((w) => w.code)).toEqual(['ingress-empty']);
  });
});
