import { describe, expect, it } from 'vitest';
import { ACME, endpoint, inventory } from './fixtures.js';
import { serviceCatalogue } from './services.js';

const empty = { name: 'acme', trustDomain: 'acme.mesh', policies: [], localEndpoints: [], remoteInventories: [] };

describe('serviceCatalogue', () => {
  it('is the union of local and remote services, sorted by namespace/name, with ports sorted', () => {
    const { services, warnings } = serviceCatalogue(ACME);
    expect(services.map((s) => `${s.namespace}/${s.name}:${s.ports.map((p) => `${p.port}/${p.protocol}`).join(',')}`)).toEqual([
      'billing/ledger:7070/http2',
      'ops/legacy-db:5432/tcp',
      'shop/db:5432/tcp',
      'shop/payments:9090/grpc',
      'shop/web:8080/http',
    ]);
    expect(services[0]!.hostname).toBe('ledger.billing.mesh');
    expect(warnings).toEqual([]);
  });

  it('merges ports reported by different instances and zones', () => {
    const { services } = serviceCatalogue({
      ...empty,
      localEndpoints: [endpoint({ service: 'api', instance: 'a-1', address: '10.0.0.1', ports: [{ port: 81 }] })],
      remoteInventories: [inventory('zone-b', null, [{ namespace: 'shop', name: 'api', ports: [{ port: 80, protocol: 'http', name: 'web' }], localities: [] }])],
    });
    expect(services[0]!.ports).toEqual([{ port: 80, protocol: 'http', name: 'web' }, { port: 81, protocol: 'tcp' }]);
  });

  it('takes the first declared protocol (local instances by name, then zones by name) and warns on a conflict', () => {
    const { services, warnings } = serviceCatalogue({
      ...empty,
      localEndpoints: [
        endpoint({ service: 'api', instance: 'b', address: '10.0.0.2', ports: [{ port: 80, protocol: 'grpc' }] }),
        endpoint({ service: 'api', instance: 'a', address: '10.0.0.1', ports: [{ port: 80 }] }),
      ],
      remoteInventories: [inventory('zone-b', null, [{ namespace: 'shop', name: 'api', ports: [{ port: 80, protocol: 'http' }], localities: [] }])],
    });
    expect(services[0]!.ports).toEqual([{ port: 80, protocol: 'grpc' }]);
    expect(warnings).toEqual([{ code: 'protocol-conflict', message: expect.stringContaining('endpoint b says grpc, zone zone-b says http') }]);
  });

  it('leaves out services that report no port', () => {
    const { services } = serviceCatalogue({ ...empty, remoteInventories: [inventory('zone-b', null, [{ namespace: 'shop', name: 'api', ports: [], localities: [] }])] });
    expect(services).toEqual([]);
  });
});
