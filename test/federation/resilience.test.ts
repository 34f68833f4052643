import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../deploy/local/free-port.js';
import { startLocalNats, type LocalService } from '../../deploy/local/services.js';
import { eventually, registerZone } from '../helpers/federation.js';
import {
  Cleanup,
  contentOf,
  createTenant,
  desiredContent,
  expectConverged,
  getJson,
  metricValue,
  metricsText,
  must,
  putRetry,
  servicesOf,
  startGlobal,
  startZone,
  writeServices,
  zoneStatus,
} from './fixtures.js';

/**
 * Static stability: NATS (a server of this file's own, on a fixed port and
 * data dir, so it can be stopped and started again) goes away and comes back.
 * The shared NATS server of the run is never touched.
 */

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** A nats-server -js that can be stopped and started again on the same port and data dir. */
async function ownNats(): Promise<{ url: string; stop(): Promise<void>; start(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'meshfed-nats-'));
  const port = await freePort();
  let server: LocalService | undefined = await startLocalNats(dir, port);
  const handle = {
    url: server.url,
    async stop() {
      await server?.stop();
      server = undefined;
    },
    async start() {
      server ??= await startLocalNats(dir, port);
    },
  };
  // Registered first, so it stops after every control plane that uses it.
  cleanup.defer(async () => {
    await handle.stop();
    await rm(dir, { recursive: true, force: true });
  });
  return handle;
}

const connectedMetric = async (url: string) => metricValue(await metricsText(url), 'meshfed_zone_nats_connected', { component: 'zone-cp' });

describe('NATS outages', () => {
  it('NATS restarted in the middle of a stream of writes: every zone converges to exactly the final state', async () => {
    const nats = await ownNats();
    const gcp = await startGlobal(cleanup, { natsUrl: nats.url });
    const t1 = await registerZone(gcp.url, 'z1', 'eu');
    const t2 = await registerZone(gcp.url, 'z2', 'us');
    await createTenant(gcp.url, 'acme', ['z1', 'z2']);
    await createTenant(gcp.url, 'globex', ['z2']);
    const dir = await mkdtemp(join(tmpdir(), 'meshfed-services-'));
    cleanup.defer(() => rm(dir, { recursive: true, force: true }));
    await writeServices(join(dir, 'z1.yaml'), 'ingressAddress: 127.0.0.1:10001\ntenants:\n  acme:\n    - { namespace: shop, name: web, ports: [{ port: 8080 }], localities: [{ region: eu, zone: z1, endpoints: 2, healthy: 2 }] }\n');
    const z1 = await startZone(cleanup, gcp, 'z1', t1, { extra: { servicesFile: join(dir, 'z1.yaml') } });
    const z2 = await startZone(cleanup, gcp, 'z2', t2);
    await expectConverged(z1.cp, gcp.url, 'acme');
    await expectConverged(z2.cp, gcp.url, 'globex');
    expect(await connectedMetric(z1.cp.url)).toBe(1);

    let written = 0;
    const write = async (n: number) => {
      for (let i = 0; i < n; i++, written++) {
        await putRetry(gcp.url, 'acme', `p${written % 10}`, 1 + (written % 10), { n: String(written) });
        if (written % 4 === 0) await putRetry(gcp.url, 'globex', `g${written % 3}`, 1 + (written % 7), { n: String(written) });
      }
    };
    await putRetry(gcp.url, 'acme', 'doomed', 1);
    await write(40);
    await nats.stop();
    const beforeOutage = contentOf(z1.cp.tenants().acme);
    await write(40);
    await must(gcp.url, 'DELETE', '/tenants/acme/policies/Retry/doomed', 204);
    // The zones keep serving what they had, and say NATS is gone.
    expect((await getJson(`${z1.cp.url}/readyz`)).status).toBe(200);
    expect(contentOf(z1.cp.tenants().acme)).toEqual(beforeOutage);
    // Soft, so convergence below is still checked when this fails.
    const reportedDown = await eventually(async () => expect(await connectedMetric(z1.cp.url)).toBe(0), 2000).then(() => true, () => false);
    expect.soft(reportedDown, 'meshfed_zone_nats_connected is 0 while NATS is down').toBe(true);
    const state = await getJson<{ natsConnected: boolean }>(`${z1.cp.url}/api/v1/state`);
    expect.soft(state.body.natsConnected, 'GET /api/v1/state natsConnected while NATS is down').toBe(false);
    await nats.start();
    await write(40);

    const acme = await desiredContent(gcp.url, 'acme');
    const globex = await desiredContent(gcp.url, 'globex');
    // acme: created (1), "doomed" created and deleted (2), 120 policy writes.
    expect(acme.revision).toBe(1 + 2 + 120);
    expect(Object.keys(acme.policies).sort()).toEqual(['Retry/p0', 'Retry/p1', 'Retry/p2', 'Retry/p3', 'Retry/p4', 'Retry/p5', 'Retry/p6', 'Retry/p7', 'Retry/p8', 'Retry/p9']);
    expect(globex.revision).toBe(1 + 30);
    // The publisher retries with back-off, and the zones' watchers notice the restart by missed heartbeats: this takes ~10 s.
    await expectConverged(z1.cp, gcp.url, 'acme', 20_000);
    await expectConverged(z2.cp, gcp.url, 'acme', 5000);
    await expectConverged(z2.cp, gcp.url, 'globex', 5000);
    expect(await connectedMetric(z1.cp.url)).toBe(1);
    await eventually(async () =>
      expect((await zoneStatus(gcp.url, 'z2')).tenants).toEqual([
        { name: 'acme', revision: 123, appliedRevision: 123, upToDate: true },
        { name: 'globex', revision: 31, appliedRevision: 31, upToDate: true },
      ]),
    );
    // The inventory survived the restart, and z2 still sees it.
    expect((await servicesOf(gcp.url, 'acme')).map((s) => [s.name, s.zones.map((z) => z.zone)])).toEqual([['web', ['z1']]]);
    expect(Object.keys(z2.cp.tenants().acme!.inventories).sort()).toEqual(['z1', 'z2']);
  }, 30_000);

  it('with NATS down, a restarted zone CP serves its saved snapshot and a new one is not ready; both catch up when NATS is back', async () => {
    const nats = await ownNats();
    const gcp = await startGlobal(cleanup, { natsUrl: nats.url });
    const t1 = await registerZone(gcp.url, 'z1', 'eu');
    const t2 = await registerZone(gcp.url, 'z2', 'eu');
    await createTenant(gcp.url, 'acme', ['z1']);
    await createTenant(gcp.url, 'globex', ['z2']);
    await putRetry(gcp.url, 'acme', 'base', 2);
    await putRetry(gcp.url, 'globex', 'base', 3);
    const first = await startZone(cleanup, gcp, 'z1', t1);
    const saved = await expectConverged(first.cp, gcp.url, 'acme');
    await first.cp.stop();

    await nats.stop();
    await putRetry(gcp.url, 'acme', 'base', 9);
    await putRetry(gcp.url, 'acme', 'later', 1);

    const z1 = await startZone(cleanup, gcp, 'z1', t1, { stateDir: first.stateDir });
    expect(await getJson(`${z1.cp.url}/readyz`)).toEqual({ status: 200, body: { status: 'ready', reason: 'serving the saved snapshot' } });
    expect(contentOf(z1.cp.tenants().acme)).toEqual(saved);
    const state = await getJson<{ authenticated: boolean; natsConnected: boolean; tenants: object }>(`${z1.cp.url}/api/v1/state`);
    expect(state.body).toMatchObject({ authenticated: true, natsConnected: false });
    expect(Object.keys(state.body.tenants)).toEqual(['acme']);
    const metrics = await metricsText(z1.cp.url);
    expect(metricValue(metrics, 'meshfed_zone_nats_connected', { component: 'zone-cp' })).toBe(0);
    expect(metricValue(metrics, 'meshfed_zone_applied_revision', { tenant: 'acme', component: 'zone-cp' })).toBe(2);

    // A zone CP without a snapshot has nothing to serve yet.
    const z2 = await startZone(cleanup, gcp, 'z2', t2);
    expect(await getJson(`${z2.cp.url}/readyz`)).toEqual({ status: 503, body: { status: 'not ready', reason: 'waiting for NATS and the global CP' } });
    expect(z2.cp.tenants()).toEqual({});

    await nats.start();
    const caughtUp = await expectConverged(z1.cp, gcp.url, 'acme', 20_000);
    expect(caughtUp.revision).toBe(4);
    expect(caughtUp.policies['Retry/base']!.spec.attempts).toBe(9);
    await expectConverged(z2.cp, gcp.url, 'globex', 10_000);
    await eventually(async () => expect(await getJson(`${z1.cp.url}/readyz`)).toEqual({ status: 200, body: { status: 'ready', reason: 'in sync with NATS' } }));
    await eventually(async () => expect(await getJson(`${z2.cp.url}/readyz`)).toEqual({ status: 200, body: { status: 'ready', reason: 'in sync with NATS' } }));
    expect(await connectedMetric(z1.cp.url)).toBe(1);
  }, 30_000);

  it('with the global CP down, a restarted zone CP serves its snapshot and follows NATS on the strength of its saved token', async () => {
    const gcp = await startGlobal(cleanup);
    const token = await registerZone(gcp.url, 'z1', 'eu');
    await createTenant(gcp.url, 'acme', ['z1']);
    await putRetry(gcp.url, 'acme', 'base', 2);
    const first = await startZone(cleanup, gcp, 'z1', token);
    const saved = await expectConverged(first.cp, gcp.url, 'acme');
    await first.cp.stop();
    await gcp.stop();

    // The zone CP comes back while its global CP is unreachable.
    const z1 = await startZone(cleanup, gcp, 'z1', token, { stateDir: first.stateDir });
    expect(await getJson(`${z1.cp.url}/readyz`)).toEqual({ status: 200, body: { status: 'ready', reason: 'serving the saved snapshot' } });
    expect(contentOf(z1.cp.tenants().acme)).toEqual(saved);
    expect((await getJson<{ authenticated: boolean }>(`${z1.cp.url}/api/v1/state`)).body.authenticated).toBe(false);

    // Another global CP replica (on another address the zone does not know) publishes a change; the zone still follows NATS.
    const replica = await startGlobal(cleanup, { federationId: gcp.federationId, prefix: `${gcp.federationId}:` });
    const changed = await putRetry(replica.url, 'acme', 'base', 6);
    const content = await expectConverged(z1.cp, replica.url, 'acme', 15_000);
    expect(content).toEqual({ revision: 3, policies: { 'Retry/base': changed } });
  }, 30_000);
});
