import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, headers, jwtAuthenticator, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsNames } from '../../core/federation/names.js';
import { newUserKey } from '../../core/federation/nats-auth.js';
import { ensureNatsAuthority } from '../../deploy/local/nats-authority.js';
import { startLocalNats, type LocalService } from '../../deploy/local/services.js';
import type { RunningGlobalCp } from '../../global-cp/main.js';
import { loadCredentials } from '../../zone-cp/nats-credentials.js';
import type { RunningZoneCp } from '../../zone-cp/main.js';
import { api, eventually, registerZone, startFederatedGlobalCp, startTestZoneCp, tempStateDir, zoneCpConfig } from '../helpers/federation.js';

/** A NATS server with per-user authorization, a global CP holding the account key, and real zone CPs under the permissions it signs. */
describe('NATS authorization: a zone reaches only what is placed in it', () => {
  let nats: LocalService;
  let globalCp: RunningGlobalCp & { federationId: string; natsUrl: string };
  let zoneA: RunningZoneCp;
  let stateA: string;
  let tokens: Record<string, string>;
  const rogues: NatsConnection[] = [];

  beforeAll(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meshfed-natsauth-'));
    const authority = await ensureNatsAuthority(join(dir, 'auth'));
    nats = await startLocalNats(join(dir, 'nats'), undefined, authority.serverConfig);
    globalCp = await startFederatedGlobalCp({ natsUrl: nats.url, accountSeed: authority.authority.accountSeed });
    tokens = { 'zone-a': await registerZone(globalCp.url, 'zone-a', 'eu-west'), 'zone-b': await registerZone(globalCp.url, 'zone-b', 'eu-west') };
    expect((await api(globalCp.url, 'POST', '/tenants', { name: 'acme', zones: ['zone-a'] })).status).toBe(201);
    expect((await api(globalCp.url, 'POST', '/tenants', { name: 'globex', zones: ['zone-b'] })).status).toBe(201);
    expect((await api(globalCp.url, 'PUT', '/tenants/globex/policies/Timeout/secret', { spec: { targetRef: { kind: 'Tenant' }, connect: '7s' } })).status).toBe(201);
    stateA = await tempStateDir();
    zoneA = await startTestZoneCp(zoneCpConfig(globalCp, 'zone-a', tokens['zone-a']!, stateA));
  }, 60_000);

  afterAll(async () => {
    for (const r of rogues) await r.close().catch(() => undefined);
    await zoneA?.stop();
    await globalCp?.stop();
    await nats?.stop();
  });

  function rollupAll() {
    const h = headers();
    h.set('Nats-Rollup', 'all');
    return h;
  }

  async function readBucketKeys(kv: Awaited<ReturnType<ReturnType<NatsConnection['jetstream']>['views']['kv']>>): Promise<string[]> {
    const keys: string[] = [];
    for await (const key of await kv.keys()) keys.push(key);
    return keys;
  }

  /** Connects with zone-a's own credentials, as a compromised zone CP would. */
  async function connectAsZoneA(): Promise<NatsConnection> {
    const creds = (await loadCredentials(stateA))!;
    const nc = await connect({
      servers: nats.url,
      authenticator: jwtAuthenticator(creds.jwt, new TextEncoder().encode(creds.seed)),
      inboxPrefix: creds.inboxPrefix,
      timeout: 3000,
    });
    rogues.push(nc);
    return nc;
  }

  it('syncs its placed tenant under the signed permissions', async () => {
    expect((await api(globalCp.url, 'PUT', '/tenants/acme/policies/Timeout/t1', { spec: { targetRef: { kind: 'Tenant' }, connect: '1s' } })).status).toBe(201);
    await eventually(() => expect(zoneA.tenants().acme?.policies['Timeout/t1']?.spec).toEqual({ connect: '1s', targetRef: { kind: 'Tenant' } }));
    expect(Object.keys(zoneA.tenants())).toEqual(['acme']);
    const creds = (await loadCredentials(stateA))!;
    expect(creds.tenants).toEqual(['acme']);
    expect(creds.inboxPrefix).toBe('_INBOX_zone-a');
  }, 30_000);

  it('refuses anything else, even with the zone\'s own credentials', async () => {
    const names = natsNames(globalCp.federationId);
    const nc = await connectAsZoneA();
    const js = nc.jetstream();
    const acme = await js.views.kv(names.tenantBucket('acme'), { bindOnly: true });
    await acme.put('inventory.zone-a', '{}'); // its own inventory key: allowed
    await expect(acme.put('inventory.zone-b', '{"forged":true}')).rejects.toThrow(/Permissions Violation/);
    await expect(acme.put('policy.Timeout.t1', '{"forged":true}')).rejects.toThrow(/Permissions Violation/);
    // A rollup on its own inventory key would purge the whole bucket: the stream refuses it, and nothing is lost.
    const before = (await readBucketKeys(acme)).sort();
    await expect(js.publish(`$KV.${names.tenantBucket('acme')}.inventory.zone-a`, '{}', { headers: rollupAll() })).rejects.toThrow(/rollup/i);
    expect((await readBucketKeys(acme)).sort()).toEqual(before);
    expect(before).toEqual(expect.arrayContaining(['policy.Timeout.t1', 'tenant']));
    const globex = await js.views.kv(names.tenantBucket('globex'), { bindOnly: true });
    await expect(globex.get('policy.Timeout.secret')).rejects.toThrow(/Permissions Violation/);
    const placement = await js.views.kv(names.placementBucket, { bindOnly: true });
    await expect(placement.get('zone-b')).rejects.toThrow(/Permissions Violation/);
    await expect(placement.watch({ key: 'zone-b' })).rejects.toThrow(/Permissions Violation/);
    await expect(placement.watch({ key: '>' })).rejects.toThrow(/Permissions Violation/);
    // A forged heartbeat for zone-b never reaches the global CP.
    const forged = await connectAsZoneA();
    forged.publish(names.heartbeatSubject('zone-b'), JSON.stringify({ zone: 'zone-b', cpVersion: 'forged', intervalMs: 60_000, ingressAddress: null, applied: {}, sentAt: new Date().toISOString() }));
    await forged.flush().catch(() => undefined);
    await new Promise((r) => setTimeout(r, 500));
    const zoneB = await api<{ status: { state: string; cpVersion: string | null } }>(globalCp.url, 'GET', '/zones/zone-b');
    expect(zoneB.body.status).toMatchObject({ state: 'offline', cpVersion: null });
  }, 30_000);

  it('gains a tenant placed in it live, with renewed permissions, and loses it when removed', async () => {
    expect((await api(globalCp.url, 'PATCH', '/tenants/globex', { zones: ['zone-a', 'zone-b'] })).status).toBe(200);
    await eventually(() => expect(zoneA.tenants().globex?.policies['Timeout/secret']?.spec.connect).toBe('7s'), 20_000);
    expect((await loadCredentials(stateA))!.tenants).toEqual(['acme', 'globex']);

    expect((await api(globalCp.url, 'PATCH', '/tenants/globex', { zones: ['zone-b'] })).status).toBe(200);
    await eventually(() => expect(Object.keys(zoneA.tenants())).toEqual(['acme']), 20_000);
    // The renewed credentials no longer open globex.
    await eventually(async () => expect((await loadCredentials(stateA))!.tenants).toEqual(['acme']), 10_000);
    const nc = await connectAsZoneA();
    const globex = await nc.jetstream().views.kv(natsNames(globalCp.federationId).tenantBucket('globex'), { bindOnly: true });
    await expect(globex.get('policy.Timeout.secret')).rejects.toThrow(/Permissions Violation/);
  }, 60_000);

  it('signs only a zone\'s own key, for its own zone', async () => {
    const { publicKey } = newUserKey();
    const own = await api<{ jwt: string; tenants: string[] }>(globalCp.url, 'POST', '/zones/zone-b/nats-credentials', { publicKey }, tokens['zone-b']);
    expect(own.status).toBe(200);
    expect(own.body.tenants).toEqual(['globex']);
    expect((await api(globalCp.url, 'POST', '/zones/zone-a/nats-credentials', { publicKey }, tokens['zone-b'])).status).toBe(403);
    const bad = await api<{ details: Array<{ path: string }> }>(globalCp.url, 'POST', '/zones/zone-b/nats-credentials', { publicKey: 'SAAB' }, tokens['zone-b']);
    expect(bad.status).toBe(400);
    expect(bad.body.details[0]!.path).toBe('/body/publicKey');
  }, 30_000);
});
