import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { InventoryService, MAX_LOCALITIES_PER_SERVICE, MAX_PORTS_PER_SERVICE } from '../../core/schemas/federation.js';
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
    const { services: inventory, truncations } = inventoryFromEndpoints([
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
    expect(truncations).toEqual([]);
  });
});

const subzone = (i: number) => `rack-${String(i).padStart(3, '0')}`;

describe('inventoryFromEndpoints within the inventory schema', () => {
  it(`lists the lowest ${MAX_PORTS_PER_SERVICE} ports of a service that has more, and says so`, () => {
    const ports = Array.from({ length: MAX_PORTS_PER_SERVICE + 6 }, (_, i) => ({ port: 20_000 - i }));
    // Spread over instances, as universal registrations of one service may be (each within its own 64).
    const { services, truncations } = inventoryFromEndpoints([endpoint({ ports: ports.slice(0, 40) }), endpoint({ instance: 'web-2', ports: ports.slice(40) })]);
    const listed = services.acme![0]!.ports.map((p) => p.port);
    expect(listed).toHaveLength(MAX_PORTS_PER_SERVICE);
    // Ports 19931..20000: the lowest 64 are 19931..19994.
    expect(listed[0]).toBe(20_000 - MAX_PORTS_PER_SERVICE - 5);
    expect(listed.at(-1)).toBe(20_000 - 6);
    expect(truncations).toEqual([{ tenant: 'acme', namespace: 'shop', service: 'web', field: 'ports', kept: MAX_PORTS_PER_SERVICE, total: MAX_PORTS_PER_SERVICE + 6 }]);
    expect(Value.Check(InventoryService, services.acme![0])).toBe(true);
  });

  it(`lists the ${MAX_LOCALITIES_PER_SERVICE} localities with the most healthy endpoints, by name, and says so`, () => {
    const total = MAX_LOCALITIES_PER_SERVICE + 4;
    const endpoints: LocalEndpoint[] = [];
    // Locality i: one healthy endpoint, plus one more for the even ones; every locality also has an unhealthy one.
    for (let i = 0; i < total; i++) {
      const locality = { region: 'eu-west', zone: 'zone-a', subzone: subzone(i) };
      endpoints.push(endpoint({ instance: `a-${i}`, locality }), endpoint({ instance: `u-${i}`, locality, healthy: false }));
      if (i % 2 === 0) endpoints.push(endpoint({ instance: `b-${i}`, locality }));
    }
    const { services, truncations } = inventoryFromEndpoints(endpoints);
    const localities = services.acme![0]!.localities;
    expect(localities).toHaveLength(MAX_LOCALITIES_PER_SERVICE);
    // All 130 even ones (2 healthy) are kept; of the odd ones (1 healthy), the first by name, down to the cap.
    const kept = new Set(localities.map((l) => l.subzone));
    for (let i = 0; i < total; i += 2) expect(kept.has(subzone(i))).toBe(true);
    for (const i of [total - 7, total - 5, total - 3, total - 1]) expect(kept.has(subzone(i))).toBe(false);
    expect(localities.map((l) => l.subzone)).toEqual([...kept].sort());
    expect(truncations).toEqual([{ tenant: 'acme', namespace: 'shop', service: 'web', field: 'localities', kept: MAX_LOCALITIES_PER_SERVICE, total }]);
    expect(Value.Check(InventoryService, services.acme![0])).toBe(true);
  });

  it('cuts the same way whatever order the endpoints come in', () => {
    const endpoints = Array.from({ length: MAX_LOCALITIES_PER_SERVICE + 20 }, (_, i) => endpoint({ instance: `w-${i}`, locality: { region: 'eu-west', zone: 'zone-a', subzone: subzone(i) }, healthy: i % 3 !== 0 }));
    expect(inventoryFromEndpoints([...endpoints].reverse())).toEqual(inventoryFromEndpoints(endpoints));
  });

  it('leaves out only the service that cannot fit, keeping the rest of the tenant', () => {
    const { services, truncations } = inventoryFromEndpoints([
      endpoint({ service: 'Not_A_Label' }),
      endpoint({ service: 'ok', ports: [{ port: 80, name: 'n'.repeat(64) }] }),
      endpoint({ service: 'web' }),
    ]);
    expect(services.acme!.map((s) => s.name)).toEqual(['web']);
    expect(truncations).toEqual([
      expect.objectContaining({ service: 'Not_A_Label', field: 'service', kept: 0, total: 1, problem: expect.stringContaining('/name') }),
      expect.objectContaining({ service: 'ok', field: 'service', problem: expect.stringContaining('/ports/0/name') }),
    ]);
  });
});
