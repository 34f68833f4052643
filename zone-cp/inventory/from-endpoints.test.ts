import { describe, expect, it } from 'vitest';
import type { LocalEndpoint } from '../discovery/model.js';
import { inventoryFromEndpoints } from './from-endpoints.js';

const endpoint = (over: Partial<LocalEndpoint>): LocalEndpoint => ({
  tenant: 'acme',
  namespace: 'shop',
  service: 'web',
  instance: 'web-1',
  address: '10.0.0.1',
  ports: [{ port: 8080, protocol: 'http' }],
  serviceAccount: 'web',
  tags: {},
  locality: { region: 'eu-west', zone: 'zone-a' },
  healthy: true,
  ...over,
});

describe('inventoryFromEndpoints', () => {
  it('counts endpoints and healthy ones per locality, per tenant, without addresses', () => {
    const inventory = inventoryFromEndpoints([
      endpoint({}),
      endpoint({ instance: 'web-2', healthy: false }),
      endpoint({ instance: 'web-3', locality: { region: 'eu-west', zone: 'zone-a', subzone: 'rack-1' }, ports: [{ port: 9090, protocol: 'grpc' }, { port: 8080 }] }),
      endpoint({ tenant: 'globex', instance: 'g-1' }),
    ]);
    expect(Object.keys(inventory).sort()).toEqual(['acme', 'globex']);
    expect(inventory.acme).toEqual([
      {
        namespace: 'shop',
        name: 'web',
        ports: [{ port: 8080, protocol: 'http' }, { port: 9090, protocol: 'grpc' }],
        localities: [
          { region: 'eu-west', zone: 'zone-a', endpoints: 2, healthy: 1 },
          { region: 'eu-west', zone: 'zone-a', subzone: 'rack-1', endpoints: 1, healthy: 1 },
        ],
      },
    ]);
    expect(JSON.stringify(inventory)).not.toContain('10.0.0.1');
  });
});
