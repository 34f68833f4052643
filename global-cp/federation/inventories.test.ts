import { describe, expect, it } from 'vitest';
import type { InventoryRejection } from '../../core/federation/inventory-check.js';
import type { ZoneInventory } from '../../core/schemas/federation.js';
import { acceptedInventories, type InventoryEntry } from './inventories.js';

const inventory = (zone: string): ZoneInventory => ({
  zone,
  tenant: 'acme',
  ingressAddress: null,
  services: [{ namespace: 'shop', name: 'web', ports: [{ port: 80 }], localities: [] }],
  publishedAt: '2025-01-01T00:00:00.000Z',
});

const entry = (key: string, revision: number, value: unknown, operation = 'PUT'): InventoryEntry => ({
  key,
  revision,
  operation,
  json: () => (typeof value === 'string' ? JSON.parse(value) : value) as unknown,
});

function recorder() {
  const rejected: InventoryRejection[] = [];
  const accepted: string[] = [];
  return { rejected, accepted, outcomes: { rejected: (r: InventoryRejection) => void rejected.push(r), accepted: (t: string, z: string) => void accepted.push(`${t}/${z}`) } };
}

describe('acceptedInventories', () => {
  it('returns the valid inventories, filed under their key\'s zone and the bucket\'s tenant', () => {
    const { outcomes, accepted, rejected } = recorder();
    const found = acceptedInventories('acme', [entry('inventory.eu-1', 3, { ...inventory('forged'), tenant: 'globex' }), entry('inventory.us-1', 4, inventory('us-1'))], outcomes);
    expect(found.map((i) => [i.zone, i.tenant])).toEqual([['eu-1', 'acme'], ['us-1', 'acme']]);
    expect(accepted).toEqual(['acme/eu-1', 'acme/us-1']);
    expect(rejected).toEqual([]);
  });

  it('leaves out an inventory that fails its schema or is not JSON, and tells why, while keeping the other zones', () => {
    const { outcomes, rejected } = recorder();
    const tooManyPorts = { ...inventory('eu-1'), services: [{ ...inventory('eu-1').services[0]!, ports: Array.from({ length: 65 }, (_, i) => ({ port: i + 1 })) }] };
    const found = acceptedInventories('acme', [entry('inventory.eu-1', 3, tooManyPorts), entry('inventory.us-1', 4, inventory('us-1')), entry('inventory.ap-1', 5, '{not json')], outcomes);
    expect(found.map((i) => i.zone)).toEqual(['us-1']);
    expect(rejected).toEqual([
      { tenant: 'acme', zone: 'eu-1', revision: 3, problem: expect.objectContaining({ path: '/services/0/ports', service: 'shop/web' }) as unknown },
      { tenant: 'acme', zone: 'ap-1', revision: 5, problem: { path: '', message: 'not JSON' } },
    ]);
  });

  it('skips deleted keys and keys that are not inventories', () => {
    const { outcomes, rejected } = recorder();
    const found = acceptedInventories('acme', [entry('inventory.eu-1', 3, undefined, 'DEL'), entry('tenant', 4, { revision: 1 })], outcomes);
    expect(found).toEqual([]);
    expect(rejected).toEqual([]);
  });
});
