import { describe, expect, it } from 'vitest';
import type { InventoryService } from '../../core/schemas/federation.js';
import { inventoriesFor } from './inventory-publisher.js';

const web: InventoryService = { namespace: 'default', name: 'web', ports: [{ port: 80 }], localities: [{ region: 'eu', zone: 'eu-1a', endpoints: 2, healthy: 2 }] };
const NOW = '2025-05-05T05:05:05.000Z';

describe('inventoriesFor', () => {
  it('reports one inventory per placed tenant, in the order given', () => {
    const result = inventoriesFor('eu-1', ['acme', 'globex'], { acme: [web] }, '10.0.0.1:10001', NOW);
    expect(result).toEqual([
      { zone: 'eu-1', tenant: 'acme', ingressAddress: '10.0.0.1:10001', services: [web], publishedAt: NOW },
      { zone: 'eu-1', tenant: 'globex', ingressAddress: '10.0.0.1:10001', services: [], publishedAt: NOW },
    ]);
  });

  it('reports a placed tenant without services as an empty list, not a missing one', () => {
    expect(inventoriesFor('eu-1', ['acme'], {}, null, NOW)[0]!.services).toEqual([]);
  });

  it('never reports tenants that are not placed in the zone', () => {
    const result = inventoriesFor('eu-1', ['acme'], { acme: [web], other: [web] }, null, NOW);
    expect(result.map((i) => i.tenant)).toEqual(['acme']);
  });

  it('reports nothing when no tenant is placed', () => {
    expect(inventoriesFor('eu-1', [], { acme: [web] }, null, NOW)).toEqual([]);
  });

  it('carries a tenant\'s subset counts when it has them, and no field at all when it has none (services-file mode)', () => {
    const subsets = { tagKeys: ['version'], services: [] };
    const [acme, globex] = inventoriesFor('eu-1', ['acme', 'globex'], { acme: [web] }, null, NOW, { acme: subsets });
    expect(acme!.subsets).toEqual(subsets);
    expect(globex).not.toHaveProperty('subsets');
    expect(inventoriesFor('eu-1', ['acme'], { acme: [web] }, null, NOW)[0]).not.toHaveProperty('subsets');
  });

  it('carries a null ingress address through', () => {
    expect(inventoriesFor('eu-1', ['acme'], {}, null, NOW)[0]!.ingressAddress).toBeNull();
  });
});
