import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { Logger } from '../log.js';
import type { ZoneInventory } from '../schemas/federation.js';
import { InventoryRejections, checkZoneInventory, type InventoryProblem } from './inventory-check.js';

const valid: ZoneInventory = {
  zone: 'claimed',
  tenant: 'claimed',
  ingressAddress: '192.0.2.1:10001',
  services: [{ namespace: 'shop', name: 'web', ports: [{ port: 80 }], localities: [{ region: 'eu', zone: 'eu-1a', endpoints: 1, healthy: 1 }] }],
  publishedAt: '2025-01-01T00:00:00.000Z',
};

/** A logger that records level and message; enough for what InventoryRejections calls. */
function recordingLog() {
  const lines: Array<{ level: string; fields: Record<string, unknown>; message: string }> = [];
  const at = (level: string) => (fields: Record<string, unknown>, message: string) => void lines.push({ level, fields, message });
  return { lines, log: { warn: at('warn'), info: at('info'), debug: at('debug') } as unknown as Logger };
}

async function rejectedTotal(registry: Registry): Promise<Record<string, number>> {
  const metric = await registry.getSingleMetric('meshfed_federation_inventory_rejected_total')!.get();
  return Object.fromEntries(metric.values.map((v) => [`${v.labels.tenant}/${v.labels.zone}`, v.value]));
}

describe('checkZoneInventory', () => {
  it('accepts a valid inventory, filed under the tenant and zone of its key', () => {
    expect(checkZoneInventory(valid, { tenant: 'acme', zone: 'eu-1' })).toEqual({ ok: true, inventory: { ...valid, tenant: 'acme', zone: 'eu-1' } });
  });

  it('ignores fields a newer zone CP added (a rolling upgrade keeps its inventories), but not a wrong value next to them', () => {
    const newer = { ...valid, futureTop: 1, services: [{ ...valid.services[0]!, futureField: 'x', localities: [{ ...valid.services[0]!.localities[0]!, futureCount: 2 }] }] };
    expect(checkZoneInventory(newer, { tenant: 'acme', zone: 'eu-1' })).toMatchObject({ ok: true });
    const wrong = { ...newer, services: [{ ...newer.services[0]!, ports: [{ port: 'http' }] }] };
    expect(checkZoneInventory(wrong, { tenant: 'acme', zone: 'eu-1' })).toMatchObject({ ok: false, problem: { path: '/services/0/ports/0/port' } });
  });

  it.each([
    [undefined, ''],
    ['text', ''],
    [{ ...valid, services: undefined }, '/services'],
    [{ ...valid, services: [{ ...valid.services[0]!, ports: Array.from({ length: 65 }, (_, i) => ({ port: i + 1 })) }] }, '/services/0/ports'],
  ])('refuses %j with the first problem at %j', (value, path) => {
    const checked = checkZoneInventory(value, { tenant: 'acme', zone: 'eu-1' });
    expect(checked.ok).toBe(false);
    expect(!checked.ok && checked.problem.path).toBe(path);
  });

  it('names the service a problem is in, and keeps the problem short', () => {
    const long = 'x'.repeat(5000);
    const checked = checkZoneInventory({ ...valid, services: [valid.services[0], { ...valid.services[0], name: long }] }, { tenant: 'acme', zone: 'eu-1' });
    expect(checked.ok).toBe(false);
    const problem = !checked.ok ? checked.problem : undefined;
    expect(problem).toMatchObject({ path: '/services/1/name', service: `shop/${'x'.repeat(63)}` });
    expect(JSON.stringify(problem).length).toBeLessThan(400);
  });
});

describe('InventoryRejections', () => {
  const problem: InventoryProblem = { path: '/services/0/ports', message: 'Expected array length to be less or equal to 64' };

  it('counts each refused entry once by its revision, however often it is read (the global CP reads on every request)', async () => {
    const registry = new Registry();
    const { log, lines } = recordingLog();
    const rejections = new InventoryRejections(log, registry);
    for (let i = 0; i < 3; i++) rejections.rejected({ tenant: 'acme', zone: 'eu-1', revision: 7, problem });
    rejections.rejected({ tenant: 'acme', zone: 'us-1', revision: 7, problem });
    expect(await rejectedTotal(registry)).toEqual({ 'acme/eu-1': 1, 'acme/us-1': 1 });
    expect(lines.filter((l) => l.level === 'warn')).toHaveLength(2);
    expect(lines[0]!.fields).toMatchObject({ tenant: 'acme', inventoryZone: 'eu-1', revision: 7, path: problem.path, problem: problem.message });
  });

  it('warns once while a zone repeats the same problem, again for a new one or after a valid inventory', async () => {
    const registry = new Registry();
    const { log, lines } = recordingLog();
    const rejections = new InventoryRejections(log, registry);
    const reject = (revision: number, p = problem) => rejections.rejected({ tenant: 'acme', zone: 'eu-1', revision, problem: p });
    reject(1);
    reject(2);
    reject(3);
    expect(lines.map((l) => l.level)).toEqual(['warn', 'debug', 'debug']);
    reject(4, { path: '/ingressAddress', message: 'Expected union value' });
    rejections.accepted('acme', 'eu-1');
    rejections.accepted('acme', 'eu-1');
    reject(6);
    expect(lines.map((l) => l.level)).toEqual(['warn', 'debug', 'debug', 'warn', 'info', 'warn']);
    expect(await rejectedTotal(registry)).toEqual({ 'acme/eu-1': 5 });
  });
});
