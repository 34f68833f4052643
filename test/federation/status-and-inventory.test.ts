import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Zone } from '../../core/schemas/zone.js';
import { ConfigError } from '../../core/errors.js';
import { eventually, registerZone, startTestZoneCp, tempStateDir, zoneCpConfig } from '../helpers/federation.js';
import {
  Cleanup,
  createTenant,
  expectConverged,
  getJson,
  metricValue,
  metricsText,
  must,
  placeTenant,
  putRetry,
  readSnapshot,
  servicesOf,
  startGlobal,
  startZone,
  tenantsOf,
  writeServices,
  zoneStatus,
} from './fixtures.js';

/** What the global CP learns from zones (heartbeats, inventory) and what a zone CP shows about itself. */

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const Z1_SERVICES = `
ingressAddress: 127.0.0.1:10001
tenants:
  acme:
    - namespace: shop
      name: web
      ports: [{ port: 8080, protocol: http }]
      localities:
        - { region: eu, zone: z1, endpoints: 3, healthy: 2 }
    - namespace: shop
      name: payments
      ports: [{ port: 9090, protocol: grpc }]
      localities:
        - { region: eu, zone: z1, subzone: rack-1, endpoints: 2, healthy: 2 }
        - { region: eu, zone: z1, subzone: rack-2, endpoints: 2, healthy: 1 }
  globex:
    - namespace: erp
      name: ledger
      ports: [{ port: 5432, protocol: tcp }]
      localities:
        - { region: eu, zone: z1, endpoints: 1, healthy: 1 }
  initech:
    - namespace: secret
      name: not-placed-here
      ports: [{ port: 1 }]
      localities: []
`;

const Z2_SERVICES = `
ingressAddress: 127.0.0.1:10002
tenants:
  acme:
    - namespace: shop
      name: web
      ports: [{ port: 8080, protocol: http }, { port: 8443, protocol: http2 }]
      localities:
        - { region: eu, zone: z2, endpoints: 4, healthy: 4 }
`;

const z1Web = { namespace: 'shop', name: 'web', ports: [{ port: 8080, protocol: 'http' }], localities: [{ region: 'eu', zone: 'z1', endpoints: 3, healthy: 2 }] };
const z1Payments = {
  namespace: 'shop',
  name: 'payments',
  ports: [{ port: 9090, protocol: 'grpc' }],
  localities: [
    { region: 'eu', zone: 'z1', subzone: 'rack-1', endpoints: 2, healthy: 2 },
    { region: 'eu', zone: 'z1', subzone: 'rack-2', endpoints: 2, healthy: 1 },
  ],
};
const z1Ledger = { namespace: 'erp', name: 'ledger', ports: [{ port: 5432, protocol: 'tcp' }], localities: [{ region: 'eu', zone: 'z1', endpoints: 1, healthy: 1 }] };
const z2Web = {
  namespace: 'shop',
  name: 'web',
  ports: [{ port: 8080, protocol: 'http' }, { port: 8443, protocol: 'http2' }],
  localities: [{ region: 'eu', zone: 'z2', endpoints: 4, healthy: 4 }],
};

const inventory = (zone: string, tenant: string, ingressAddress: string | null, services: unknown[]) => ({ zone, tenant, ingressAddress, services, publishedAt: expect.any(String) });

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'meshfed-services-'));
  cleanup.defer(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('zone status at the global CP', () => {
  it('GET /zones shows state, lastSeen, cpVersion and per-tenant applied revision; a zone that stops heartbeating turns offline and back online', async () => {
    const gcp = await startGlobal(cleanup);
    const token = await registerZone(gcp.url, 'z1', 'eu');
    await registerZone(gcp.url, 'z2', 'eu');
    await createTenant(gcp.url, 'acme', ['z1']);
    await createTenant(gcp.url, 'globex', ['z1', 'z2']);
    await putRetry(gcp.url, 'acme', 'base', 2);
    const started = Date.now();
    const z1 = await startZone(cleanup, gcp, 'z1', token, { extra: { ingressAddress: '10.0.0.1:15443', version: '9.8.7' } });

    const online = await eventually(async () => {
      const status = await zoneStatus(gcp.url, 'z1');
      expect(status).toEqual({
        state: 'online',
        lastSeen: expect.any(String),
        cpVersion: '9.8.7',
        ingressAddress: '10.0.0.1:15443',
        tenants: [
          { name: 'acme', revision: 2, appliedRevision: 2, upToDate: true },
          { name: 'globex', revision: 1, appliedRevision: 1, upToDate: true },
        ],
      });
      return status;
    });
    expect(Date.parse(online.lastSeen!)).toBeGreaterThanOrEqual(started - 1000);
    expect(Date.parse(online.lastSeen!)).toBeLessThanOrEqual(Date.now());
    // lastSeen moves with every heartbeat.
    await eventually(async () => expect(Date.parse((await zoneStatus(gcp.url, 'z1')).lastSeen!)).toBeGreaterThan(Date.parse(online.lastSeen!)));

    // A zone that never reported is offline, with nothing applied.
    const list = await must<{ items: Zone[] }>(gcp.url, 'GET', '/zones', 200);
    expect(list.items.map((z) => [z.metadata.name, z.status.state])).toEqual([
      ['z1', 'online'],
      ['z2', 'offline'],
    ]);
    expect(list.items[1]!.status).toEqual({ state: 'offline', lastSeen: null, cpVersion: null, ingressAddress: null, tenants: [{ name: 'globex', revision: 1, appliedRevision: null, upToDate: false }] });
    let metrics = await metricsText(gcp.url);
    expect(metricValue(metrics, 'meshfed_zone_online', { zone: 'z1', component: 'global-cp' })).toBe(1);
    expect(metricValue(metrics, 'meshfed_zone_online', { zone: 'z2', component: 'global-cp' })).toBe(0);

    // Stopped: no more heartbeats. After 3 missed ones (3 × 200 ms) it is offline, and a change made meanwhile is not applied.
    // The clock starts before stop(), which itself takes a while (it saves the snapshot).
    const stoppedAt = Date.now();
    await z1.cp.stop();
    await putRetry(gcp.url, 'acme', 'base', 5);
    const offline = await eventually(async () => {
      const status = await zoneStatus(gcp.url, 'z1');
      expect(status.state).toBe('offline');
      return status;
    }, 5000);
    // Offline only after 3 missed beats (600 ms) from the last one, which was at most one interval (200 ms) before the stop.
    expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(400);
    expect(offline.tenants).toEqual([
      { name: 'acme', revision: 3, appliedRevision: 2, upToDate: false },
      { name: 'globex', revision: 1, appliedRevision: 1, upToDate: true },
    ]);
    expect(offline.cpVersion).toBe('9.8.7');
    expect(Date.parse(offline.lastSeen!)).toBeLessThanOrEqual(stoppedAt + 50);
    metrics = await metricsText(gcp.url);
    expect(metricValue(metrics, 'meshfed_zone_online', { zone: 'z1', component: 'global-cp' })).toBe(0);

    // Back: online again and caught up.
    const z1Again = await startZone(cleanup, gcp, 'z1', token, { stateDir: z1.stateDir, extra: { ingressAddress: '10.0.0.1:15443', version: '9.8.8' } });
    await eventually(async () =>
      expect(await zoneStatus(gcp.url, 'z1')).toMatchObject({
        state: 'online',
        cpVersion: '9.8.8',
        tenants: [
          { name: 'acme', revision: 3, appliedRevision: 3, upToDate: true },
          { name: 'globex', revision: 1, appliedRevision: 1, upToDate: true },
        ],
      }),
    );
    await expectConverged(z1Again.cp, gcp.url, 'acme');
    metrics = await metricsText(gcp.url);
    expect(metricValue(metrics, 'meshfed_zone_online', { zone: 'z1', component: 'global-cp' })).toBe(1);
  }, 30_000);
});

describe("the zone CP's own endpoints", () => {
  it('serves /healthz, /readyz, /metrics and GET /api/v1/state', async () => {
    const gcp = await startGlobal(cleanup);
    const token = await registerZone(gcp.url, 'z1', 'eu');
    await createTenant(gcp.url, 'acme', ['z1']);
    await createTenant(gcp.url, 'globex', ['z1']);
    const policy = await putRetry(gcp.url, 'acme', 'base', 2);
    const z1 = await startZone(cleanup, gcp, 'z1', token);
    await z1.cp.synced();
    await expectConverged(z1.cp, gcp.url, 'acme');

    expect(await getJson(`${z1.cp.url}/healthz`)).toEqual({ status: 200, body: { status: 'ok' } });
    expect(await getJson(`${z1.cp.url}/readyz`)).toEqual({ status: 200, body: { status: 'ready', reason: 'in sync with NATS' } });
    const metrics = await metricsText(z1.cp.url);
    expect(metricValue(metrics, 'meshfed_zone_applied_revision', { tenant: 'acme', component: 'zone-cp' })).toBe(2);
    expect(metricValue(metrics, 'meshfed_zone_applied_revision', { tenant: 'globex', component: 'zone-cp' })).toBe(1);
    expect(metricValue(metrics, 'meshfed_zone_nats_connected', { component: 'zone-cp' })).toBe(1);
    expect(metricValue(metrics, 'meshfed_zone_last_sync_timestamp_seconds', { component: 'zone-cp' })).toBeGreaterThan(Date.now() / 1000 - 30);

    const state = await getJson<{ zone: string; version: string; authenticated: boolean; natsConnected: boolean; lastSyncAt: string; snapshotSavedAt: string; tenants: Record<string, { revision: number; policies: object; trustDomain: string }> }>(
      `${z1.cp.url}/api/v1/state`,
    );
    expect(state.status).toBe(200);
    expect(state.body).toMatchObject({ zone: 'z1', version: 'test', authenticated: true, natsConnected: true });
    expect(Object.keys(state.body.tenants).sort()).toEqual(['acme', 'globex']);
    expect(state.body.tenants.acme).toMatchObject({ name: 'acme', trustDomain: 'acme.mesh', revision: 2, policies: { 'Retry/base': policy } });
    expect(Number.isNaN(Date.parse(state.body.lastSyncAt))).toBe(false);
  }, 30_000);
});

describe('zone tokens', () => {
  it('a wrong token, or another zone’s token, is refused at start with a clear message', async () => {
    const gcp = await startGlobal(cleanup);
    await registerZone(gcp.url, 'z1', 'eu');
    const other = await registerZone(gcp.url, 'z2', 'eu');
    const stateDir = await tempStateDir();
    cleanup.defer(() => rm(stateDir, { recursive: true, force: true }));

    const wrong = startTestZoneCp(zoneCpConfig(gcp, 'z1', `mfz_${'x'.repeat(43)}`, stateDir));
    await expect(wrong).rejects.toBeInstanceOf(ConfigError);
    await expect(wrong).rejects.toThrow(`zone "z1": the global CP at ${gcp.url} refused the token: the zone token is wrong or revoked (401)`);

    const stolen = startTestZoneCp(zoneCpConfig(gcp, 'z1', other, stateDir));
    await expect(stolen).rejects.toThrow(`zone "z1": the global CP at ${gcp.url} refused the token: the token is not this zone's token (403: a zone token may not zone sync)`);
  }, 30_000);

  it('a revoked token stops the sync: /readyz answers 503 with the reason, and a restart is refused', async () => {
    const gcp = await startGlobal(cleanup);
    const token = await registerZone(gcp.url, 'z1', 'eu');
    await createTenant(gcp.url, 'acme', ['z1']);
    const z1 = await startZone(cleanup, gcp, 'z1', token, { extra: { reauthIntervalMs: 200 } });
    await expectConverged(z1.cp, gcp.url, 'acme');
    expect((await getJson(`${z1.cp.url}/readyz`)).status).toBe(200);

    // A zone with tenants cannot be deleted: empty it first, then delete it, which revokes its token.
    await placeTenant(gcp.url, 'acme', []);
    await eventually(() => expect(tenantsOf(z1.cp)).toEqual([]));
    await must(gcp.url, 'DELETE', '/zones/z1', 204);

    // A re-authentication in flight while the zone is deleted passed the token check before the delete
    // and finds no zone after it (404); one sent after it is refused at the token (401). Both are refusals.
    await eventually(async () => {
      const ready = await getJson<{ status: string; reason: string }>(`${z1.cp.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(ready.body.status).toBe('not ready');
      expect(ready.body.reason).toMatch(/^zone token refused: (the zone token is wrong or revoked \(401\)|zone "z1" is not registered at the global CP \(404\))$/);
    });
    const state = await getJson<{ authenticated: boolean; natsConnected: boolean }>(`${z1.cp.url}/api/v1/state`);
    expect(state.body).toMatchObject({ authenticated: false, natsConnected: false });
    expect(metricValue(await metricsText(z1.cp.url), 'meshfed_zone_nats_connected', { component: 'zone-cp' })).toBe(0);
    // The snapshot no longer vouches for the token.
    await eventually(async () => expect((await readSnapshot(z1.stateDir)).authenticatedTokenHash).toBeNull());

    await z1.cp.stop();
    await expect(startTestZoneCp(zoneCpConfig(gcp, 'z1', token, z1.stateDir))).rejects.toThrow(
      `zone "z1": the global CP at ${gcp.url} refused the token: the zone token is wrong or revoked (401)`,
    );
  }, 30_000);
});

describe('inventory', () => {
  it('a services file shows up in the federated view and in the views of the same tenant’s other zones, never another tenant’s', async () => {
    const gcp = await startGlobal(cleanup);
    const tokens = { z1: await registerZone(gcp.url, 'z1', 'eu'), z2: await registerZone(gcp.url, 'z2', 'eu'), z3: await registerZone(gcp.url, 'z3', 'us') };
    await createTenant(gcp.url, 'acme', ['z1', 'z2']);
    await createTenant(gcp.url, 'globex', ['z1', 'z3']);
    await createTenant(gcp.url, 'initech', ['z3']);
    const dir = await tempDir();
    const z1File = join(dir, 'z1.yaml');
    const z2File = join(dir, 'z2.yaml');
    await writeServices(z1File, Z1_SERVICES);
    await writeServices(z2File, Z2_SERVICES);
    const z1 = await startZone(cleanup, gcp, 'z1', tokens.z1, { extra: { servicesFile: z1File } });
    const z2 = await startZone(cleanup, gcp, 'z2', tokens.z2, { extra: { servicesFile: z2File } });
    const z3 = await startZone(cleanup, gcp, 'z3', tokens.z3);

    const webZ1 = { zone: 'z1', endpoints: 3, healthy: 2, ingressAddress: '127.0.0.1:10001', stale: false, publishedAt: expect.any(String), localities: z1Web.localities };
    const webZ2 = { zone: 'z2', endpoints: 4, healthy: 4, ingressAddress: '127.0.0.1:10002', stale: false, publishedAt: expect.any(String), localities: z2Web.localities };
    const paymentsZ1 = { zone: 'z1', endpoints: 4, healthy: 3, ingressAddress: '127.0.0.1:10001', stale: false, publishedAt: expect.any(String), localities: z1Payments.localities };
    await eventually(async () =>
      expect(await servicesOf(gcp.url, 'acme')).toEqual([
        { namespace: 'shop', name: 'payments', hostname: 'payments.shop.mesh', ports: [9090], endpoints: 4, healthy: 3, zones: [paymentsZ1] },
        { namespace: 'shop', name: 'web', hostname: 'web.shop.mesh', ports: [8080, 8443], endpoints: 7, healthy: 6, zones: [webZ1, webZ2] },
      ]),
    );
    await eventually(async () =>
      expect(await servicesOf(gcp.url, 'globex')).toEqual([
        {
          namespace: 'erp',
          name: 'ledger',
          hostname: 'ledger.erp.mesh',
          ports: [5432],
          endpoints: 1,
          healthy: 1,
          zones: [{ zone: 'z1', endpoints: 1, healthy: 1, ingressAddress: '127.0.0.1:10001', stale: false, publishedAt: expect.any(String), localities: z1Ledger.localities }],
        },
      ]),
    );

    // A tenant token reads its own tenant's view.
    const viewer = await must<{ token: string }>(gcp.url, 'POST', '/tenants/acme/tokens', 201, { role: 'viewer' });
    expect((await servicesOf(gcp.url, 'acme', viewer.token)).map((s) => s.name)).toEqual(['payments', 'web']);

    // Zones see the inventories of their tenants' other zones (and their own).
    await eventually(() => {
      expect(z2.cp.tenants().acme!.inventories).toEqual({
        z1: inventory('z1', 'acme', '127.0.0.1:10001', [z1Web, z1Payments]),
        z2: inventory('z2', 'acme', '127.0.0.1:10002', [z2Web]),
      });
      expect(z3.cp.tenants().globex!.inventories).toEqual({
        z1: inventory('z1', 'globex', '127.0.0.1:10001', [z1Ledger]),
        z3: inventory('z3', 'globex', null, []),
      });
      expect(z3.cp.tenants().initech!.inventories).toEqual({ z3: inventory('z3', 'initech', null, []) });
      expect(z1.cp.tenants().acme!.inventories.z2).toEqual(inventory('z2', 'acme', '127.0.0.1:10002', [z2Web]));
    });
    // Nothing of acme ever reaches z3, which only holds globex and initech.
    expect(tenantsOf(z3.cp)).toEqual(['globex', 'initech']);
    const z3State = JSON.stringify(z3.cp.tenants());
    for (const word of ['acme', 'payments', 'web', 'not-placed-here', '10002']) expect(z3State).not.toContain(word);
    expect(JSON.stringify(z2.cp.tenants())).not.toContain('ledger');

    // The file is watched: an edit shows up everywhere.
    await writeServices(
      z1File,
      Z1_SERVICES.replace('endpoints: 3, healthy: 2', 'endpoints: 5, healthy: 5').replace(/ {4}- namespace: shop\n {6}name: payments[\s\S]*?(?= {2}globex:)/, ''),
    );
    await eventually(async () =>
      expect(await servicesOf(gcp.url, 'acme')).toEqual([
        {
          namespace: 'shop',
          name: 'web',
          hostname: 'web.shop.mesh',
          ports: [8080, 8443],
          endpoints: 9,
          healthy: 9,
          zones: [{ ...webZ1, endpoints: 5, healthy: 5, localities: [{ region: 'eu', zone: 'z1', endpoints: 5, healthy: 5 }] }, webZ2],
        },
      ]),
    );
    await eventually(() =>
      expect(z2.cp.tenants().acme!.inventories.z1!.services).toEqual([{ ...z1Web, localities: [{ region: 'eu', zone: 'z1', endpoints: 5, healthy: 5 }] }]),
    );

    // A zone that stops heartbeating keeps its inventory, marked stale.
    await z1.cp.stop();
    await eventually(async () => {
      const web = (await servicesOf(gcp.url, 'acme'))[0]!;
      expect(web.zones.map((z) => [z.zone, z.endpoints, z.stale])).toEqual([
        ['z1', 5, true],
        ['z2', 4, false],
      ]);
      expect(web.endpoints).toBe(9);
    }, 5000);
    const ledger = await servicesOf(gcp.url, 'globex');
    expect(ledger.map((s) => s.zones.map((z) => [z.zone, z.stale]))).toEqual([[['z1', true]]]);
    expect(z2.cp.tenants().acme!.inventories.z1!.services).toHaveLength(1);

    // z1's file names initech, which is not placed in z1: nothing of it was ever published, anywhere.
    expect(await servicesOf(gcp.url, 'initech')).toEqual([]);
    expect(z3.cp.tenants().initech!.inventories).toEqual({ z3: inventory('z3', 'initech', null, []) });
  }, 30_000);

  it('a zone’s inventory is withdrawn when its tenant leaves the zone, and published again when it comes back', async () => {
    const gcp = await startGlobal(cleanup);
    const t1 = await registerZone(gcp.url, 'z1', 'eu');
    const t2 = await registerZone(gcp.url, 'z2', 'eu');
    await createTenant(gcp.url, 'acme', ['z1', 'z2']);
    const dir = await tempDir();
    const z1File = join(dir, 'z1.yaml');
    await writeServices(z1File, Z1_SERVICES);
    const z1 = await startZone(cleanup, gcp, 'z1', t1, { extra: { servicesFile: z1File } });
    const z2 = await startZone(cleanup, gcp, 'z2', t2);
    const z1Acme = inventory('z1', 'acme', '127.0.0.1:10001', [z1Web, z1Payments]);
    await eventually(() => expect(z2.cp.tenants().acme!.inventories.z1).toEqual(z1Acme));

    await placeTenant(gcp.url, 'acme', ['z2']);
    await eventually(() => expect(tenantsOf(z1.cp)).toEqual([]));
    await eventually(async () => expect(await servicesOf(gcp.url, 'acme')).toEqual([]));
    await eventually(() => expect(Object.keys(z2.cp.tenants().acme!.inventories)).toEqual(['z2']));

    await placeTenant(gcp.url, 'acme', ['z1', 'z2']);
    await eventually(() => expect(tenantsOf(z1.cp)).toEqual(['acme']));
    await eventually(() => expect(z2.cp.tenants().acme!.inventories.z1).toEqual(z1Acme), 5000);
    await eventually(async () => expect((await servicesOf(gcp.url, 'acme')).map((s) => s.name)).toEqual(['payments', 'web']));
  }, 30_000);
});

