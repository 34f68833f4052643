import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../core/log.js';
import { eventually } from '../../test/helpers/eventually.js';
import type { DataplaneClaims } from '../dataplanes/tokens.js';
import type { LocalEndpoint } from './model.js';
import { UniversalDiscovery, livenessOf, registrationProblem } from './universal.js';

const claims: DataplaneClaims = { id: 'x', zone: 'zone-a', tenant: 'acme', namespace: 'shop', serviceAccount: 'web', issuedAt: 0, expiresAt: Infinity };
const body = { tenant: 'acme', namespace: 'shop', service: 'web', instance: 'web-1', address: '127.0.0.10', ports: [{ port: 8080 }] };
const locality = { region: 'eu-west', zone: 'zone-a' };

describe('livenessOf', () => {
  const liveness = { unhealthyAfterMs: 10, removeAfterMs: 100 };
  it('is reporting, then silent, then gone', () => {
    expect(livenessOf(0, 9, liveness)).toBe('reporting');
    expect(livenessOf(0, 10, liveness)).toBe('silent');
    expect(livenessOf(0, 100, liveness)).toBe('gone');
  });
});

describe('registrationProblem', () => {
  it('holds the body to the token and refuses host names and repeated ports', () => {
    expect(registrationProblem(claims, body)).toBeUndefined();
    expect(registrationProblem(claims, { ...body, tenant: 'other' })).toMatchObject({ path: '/body/tenant' });
    expect(registrationProblem(claims, { ...body, namespace: 'other' })).toMatchObject({ path: '/body/namespace' });
    expect(registrationProblem(claims, { ...body, address: 'web.example.com' })).toMatchObject({ path: '/body/address' });
    expect(registrationProblem(claims, { ...body, ports: [{ port: 1 }, { port: 1 }] })).toMatchObject({ path: '/body/ports/1/port' });
  });
});

describe('UniversalDiscovery', () => {
  it('registers, marks silent dataplanes unhealthy, removes them, and keeps registrations across a restart', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'meshfed-universal-'));
    const log = createLogger('test', 'silent');
    let latest: LocalEndpoint[] = [];
    const discovery = new UniversalDiscovery({ stateDir, defaultLocality: () => locality, liveness: { unhealthyAfterMs: 300, removeAfterMs: 900 }, log });
    await discovery.start((e) => (latest = e));
    expect(discovery.ready()).toBe(true);
    discovery.register(claims, body);
    expect(latest).toEqual([expect.objectContaining({ instance: 'web-1', serviceAccount: 'web', healthy: true, locality })]);
    await eventually(() => expect(latest[0]?.healthy).toBe(false), 2000);
    discovery.register(claims, body);
    expect(latest[0]?.healthy).toBe(true);
    await discovery.stop();

    const restarted = new UniversalDiscovery({ stateDir, defaultLocality: () => locality, liveness: { unhealthyAfterMs: 300, removeAfterMs: 900 }, log });
    await restarted.start((e) => (latest = e));
    expect(latest.map((e) => e.instance)).toEqual(['web-1']);
    await eventually(() => expect(latest).toEqual([]), 3000);
    restarted.register(claims, { ...body, instance: 'web-2', healthy: false });
    expect(latest).toEqual([expect.objectContaining({ instance: 'web-2', healthy: false })]);
    expect(restarted.deregister(claims, 'web', 'web-2')).toBe(true);
    expect(latest).toEqual([]);
    await restarted.stop();
  });
});
