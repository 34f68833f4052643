import { describe, expect, it } from 'vitest';
import type { ZoneStatusRecord } from '../store/records.js';
import { DEFAULT_OFFLINE_AFTER_MISSED, zoneStatusFrom } from './zone-status.js';

const seenAt = Date.parse('2025-03-01T12:00:00.000Z');
const record = (overrides: Partial<ZoneStatusRecord> = {}): ZoneStatusRecord => ({
  lastSeen: new Date(seenAt).toISOString(),
  cpVersion: '0.1.0',
  intervalMs: 1000,
  ingressAddress: '10.0.0.1:10001',
  applied: { acme: 5, globex: 2 },
  ...overrides,
});

describe('zoneStatusFrom', () => {
  it('defaults to three missed heartbeats', () => {
    expect(DEFAULT_OFFLINE_AFTER_MISSED).toBe(3);
  });

  it('is online while the last heartbeat is younger than missed × interval', () => {
    expect(zoneStatusFrom(record(), [], seenAt, 3).state).toBe('online');
    expect(zoneStatusFrom(record(), [], seenAt + 2999, 3).state).toBe('online');
  });

  it('is offline once missed × interval has passed', () => {
    expect(zoneStatusFrom(record(), [], seenAt + 3000, 3).state).toBe('offline');
    expect(zoneStatusFrom(record(), [], seenAt + 60_000, 3).state).toBe('offline');
  });

  it('uses the zone\'s own heartbeat interval and the given number of missed beats', () => {
    expect(zoneStatusFrom(record({ intervalMs: 200 }), [], seenAt + 700, 3).state).toBe('offline');
    expect(zoneStatusFrom(record({ intervalMs: 200 }), [], seenAt + 700, 5).state).toBe('online');
  });

  it('reports what the last heartbeat said', () => {
    const status = zoneStatusFrom(record(), [], seenAt + 10, 3);
    expect(status).toEqual({ state: 'online', lastSeen: '2025-03-01T12:00:00.000Z', cpVersion: '0.1.0', ingressAddress: '10.0.0.1:10001', tenants: [] });
  });

  it('keeps the last heartbeat\'s details while offline', () => {
    const status = zoneStatusFrom(record(), [], seenAt + 10_000, 3);
    expect(status.state).toBe('offline');
    expect(status.lastSeen).toBe('2025-03-01T12:00:00.000Z');
    expect(status.cpVersion).toBe('0.1.0');
  });

  it('is offline with nulls when the zone never sent a heartbeat', () => {
    const status = zoneStatusFrom(undefined, [{ name: 'acme', revision: 4 }], seenAt, 3);
    expect(status).toEqual({
      state: 'offline',
      lastSeen: null,
      cpVersion: null,
      ingressAddress: null,
      tenants: [{ name: 'acme', revision: 4, appliedRevision: null, upToDate: false }],
    });
  });

  it('reports per tenant the revision applied and whether it is up to date', () => {
    const status = zoneStatusFrom(record(), [
      { name: 'acme', revision: 5 },
      { name: 'globex', revision: 3 },
      { name: 'initech', revision: 1 },
    ], seenAt, 3);
    expect(status.tenants).toEqual([
      { name: 'acme', revision: 5, appliedRevision: 5, upToDate: true },
      { name: 'globex', revision: 3, appliedRevision: 2, upToDate: false },
      { name: 'initech', revision: 1, appliedRevision: null, upToDate: false },
    ]);
  });

  it('counts a zone ahead of the record (applied > revision) as up to date', () => {
    const status = zoneStatusFrom(record({ applied: { acme: 9 } }), [{ name: 'acme', revision: 5 }], seenAt, 3);
    expect(status.tenants[0]).toEqual({ name: 'acme', revision: 5, appliedRevision: 9, upToDate: true });
  });

  it('treats applied revision 0 as a real value, not as missing', () => {
    const status = zoneStatusFrom(record({ applied: { acme: 0 } }), [{ name: 'acme', revision: 0 }], seenAt, 3);
    expect(status.tenants[0]).toEqual({ name: 'acme', revision: 0, appliedRevision: 0, upToDate: true });
  });
});
