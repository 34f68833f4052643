import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SvidManager } from '../../gateway/certs/index.js';
import { AdsClient, type AdsClientOptions, type XdsSnapshot } from '../../gateway/xds/index.js';
import { eventually } from '../helpers/federation.js';
import { startMtlsShim } from './mtls-shim.js';
import { ZoneFixture, testLogger } from './zone-fixture.js';

const text = (value: unknown) => JSON.stringify(value);
const names = (map: ReadonlyMap<string, unknown>) => [...map.keys()].sort();

/** Static stability: the gateway keeps its config while the zone CP is away, a restarted gateway serves its saved one, and both resync. */
describe('gateway ADS client across zone CP and gateway restarts', () => {
  let fixture: ZoneFixture;
  let shim: Awaited<ReturnType<typeof startMtlsShim>>;
  let svids: SvidManager;
  let dir: string;
  const stoppable: Array<{ stop(): Promise<void> }> = [];

  beforeAll(async () => {
    fixture = await ZoneFixture.start([{ name: 'acme' }], { plaintextXdsListen: { host: '127.0.0.1', port: 0 } });
    await fixture.register('acme', 'web', 'web-1', '127.0.0.41', 8080);
    await fixture.register('acme', 'api', 'api-1', '127.0.0.42', 9090, 'grpc');
    svids = new SvidManager({ address: fixture.zone.grpcAddress, caFile: fixture.zone.grpcCaFile, token: fixture.token('acme', 'web'), registry: new Registry(), log: testLogger() });
    stoppable.push(svids);
    svids.start();
    const svid = await svids.ready();
    shim = await startMtlsShim({ zoneStateDir: fixture.stateDir, upstream: fixture.zone.plaintextXdsAddress!, trustBundlePem: svid.trustBundlePem });
    dir = await mkdtemp(join(tmpdir(), 'meshfed-gateway-'));
  }, 60_000);

  afterAll(async () => {
    for (const s of stoppable.reverse()) await s.stop();
    await shim?.stop();
    await fixture?.stop();
  });

  /** A gateway's two ADS clients: the ingress straight to the TLS port, a sidecar through the mTLS shim. */
  const gateway = async (ingressToken: string) => {
    const common = { caFile: fixture.zone.grpcCaFile, log: testLogger(), reconnect: { initialMs: 100, factor: 1.6, maxMs: 500, jitter: 0.2 } } satisfies Partial<AdsClientOptions>;
    const clients = {
      ingress: new AdsClient({ ...common, address: fixture.zone.grpcAddress, token: ingressToken, node: { id: 'gw-1', kind: 'ingress', ingressPort: 10001 }, snapshotFile: join(dir, 'ingress.json'), registry: new Registry() }),
      sidecar: new AdsClient({
        ...common,
        address: shim.address,
        token: fixture.token('acme', 'web'),
        node: { id: 'web-1', kind: 'sidecar', service: 'web', instance: 'web-1' },
        identity: svids,
        snapshotFile: join(dir, 'sidecar.json'),
        registry: new Registry(),
      }),
    };
    const seen = { ingress: [] as XdsSnapshot[], sidecar: [] as XdsSnapshot[] };
    for (const kind of ['ingress', 'sidecar'] as const) {
      stoppable.push(clients[kind]);
      clients[kind].onSnapshot((s) => seen[kind].push(s));
    }
    await Promise.all([clients.ingress.start(), clients.sidecar.start()]);
    return { clients, seen };
  };

  const endpointsText = (snapshot: XdsSnapshot | undefined) => text([...(snapshot?.endpoints.values() ?? [])]);
  const allAcked = async (id: string) =>
    eventually(async () => {
      const p = await fixture.proxy(id);
      for (const type of ['Listener', 'Cluster', 'ClusterLoadAssignment']) expect(p.types[type]?.ackedVersion, `${id} ${type}`).toBe(p.types[type]?.sentVersion);
    }, 15_000);

  it('keeps its snapshot while the zone CP is stopped and resyncs when it is back; a restarted gateway serves its saved snapshot at once', async () => {
    const ingressToken = await fixture.ingressToken();
    const first = await gateway(ingressToken);
    const both = (g: typeof first) => [g.clients.ingress, g.clients.sidecar];
    await eventually(() => {
      for (const client of both(first)) expect(endpointsText(client.snapshot())).toContain('127.0.0.42');
    });
    const before = { ingress: first.clients.ingress.snapshot()!, sidecar: first.clients.sidecar.snapshot()! };

    await fixture.stopZone();
    await eventually(() => {
      for (const client of both(first)) expect(client.connected()).toBe(false);
    });
    // Reconnects keep failing meanwhile; the config stays.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(first.clients.ingress.snapshot()).toBe(before.ingress);
    expect(first.clients.sidecar.snapshot()).toBe(before.sidecar);

    await fixture.startZone();
    await allAcked('ingress/gw-1');
    await allAcked('acme/web-1');
    await eventually(() => {
      for (const client of both(first)) expect(client.connected()).toBe(true);
    });
    // The same config as before the outage: nothing new to emit.
    expect(first.clients.ingress.snapshot()).toBe(before.ingress);
    expect(first.clients.sidecar.snapshot()).toBe(before.sidecar);
    // And live again.
    await fixture.register('acme', 'api', 'api-2', '127.0.0.43', 9090, 'grpc');
    await eventually(() => {
      for (const client of both(first)) expect(endpointsText(client.snapshot())).toContain('127.0.0.43');
    });
    const last = { ingress: first.clients.ingress.snapshot()!, sidecar: first.clients.sidecar.snapshot()! };
    await eventually(() => expect(existsSync(join(dir, 'ingress.json')) && existsSync(join(dir, 'sidecar.json'))).toBe(true));
    await Promise.all(both(first).map((c) => c.stop()));

    // The gateway restarts while the zone CP is away: it serves what it saved, with no one to ask.
    await fixture.stopZone();
    const restarted = await gateway(ingressToken);
    for (const kind of ['ingress', 'sidecar'] as const) {
      expect(restarted.seen[kind]).toHaveLength(1);
      const saved = restarted.seen[kind][0]!;
      expect(names(saved.listeners)).toEqual(names(last[kind].listeners));
      expect(names(saved.routes)).toEqual(names(last[kind].routes));
      expect(names(saved.clusters)).toEqual(names(last[kind].clusters));
      expect(endpointsText(saved)).toBe(endpointsText(last[kind]));
      expect(saved.versions).toEqual(last[kind].versions);
      expect(restarted.clients[kind].connected()).toBe(false);
    }

    await fixture.startZone();
    await allAcked('ingress/gw-1');
    await allAcked('acme/web-1');
    expect(restarted.seen.ingress).toHaveLength(1);
    expect(restarted.seen.sidecar).toHaveLength(1);
    await fixture.deregister('acme', 'api', 'api-2');
    await eventually(() => {
      for (const client of both(restarted)) expect(endpointsText(client.snapshot())).not.toContain('127.0.0.43');
    });
  }, 90_000);
});
