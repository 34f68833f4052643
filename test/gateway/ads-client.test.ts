import { Registry } from 'prom-client';
import { x509 } from '../../core/pki/crypto.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SvidManager, type Svid, type SvidSource } from '../../gateway/certs/index.js';
import { AdsClient, missingReferences, validateResource, type AdsClientOptions, type XdsSnapshot } from '../../gateway/xds/index.js';
import { eventually } from '../helpers/federation.js';
import { ZoneFixture, metricValue, testLogger } from './zone-fixture.js';
import { startMtlsShim } from './mtls-shim.js';

const TYPES = { listener: 'Listener', route: 'RouteConfiguration', cluster: 'Cluster', endpoint: 'ClusterLoadAssignment' } as const;
const text = (value: unknown) => JSON.stringify(value);

/** An SVID source the test switches by hand. */
class SwitchableSvids implements SvidSource {
  private readonly listeners = new Set<(svid: Svid) => void>();
  constructor(private svid: Svid | undefined) {}
  current(): Svid | undefined {
    return this.svid;
  }
  onUpdate(listener: (svid: Svid) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  set(svid: Svid): void {
    this.svid = svid;
    for (const listener of this.listeners) listener(svid);
  }
}

/**
 * The gateway's ADS client against a real zone CP. Sidecars reach it through
 * an mTLS shim (mtls-shim.ts) relaying to its plaintext xDS port, because the
 * zone CP's own TLS port refuses every SVID today (see the first test); the
 * ingress, which presents none, talks to the TLS port directly.
 */
describe('gateway ADS client', () => {
  let fixture: ZoneFixture;
  let shim: Awaited<ReturnType<typeof startMtlsShim>>;
  const stoppable: Array<{ stop(): Promise<void> }> = [];

  beforeAll(async () => {
    fixture = await ZoneFixture.start([{ name: 'acme' }], { plaintextXdsListen: { host: '127.0.0.1', port: 0 } });
    await fixture.register('acme', 'web', 'web-1', '127.0.0.31', 8080);
    await fixture.register('acme', 'api', 'api-1', '127.0.0.32', 9090, 'grpc');
    const bundle = (await svidFor('web')).current()!.trustBundlePem;
    shim = await startMtlsShim({ zoneStateDir: fixture.stateDir, upstream: fixture.zone.plaintextXdsAddress!, trustBundlePem: bundle });
  }, 60_000);

  afterAll(async () => {
    for (const s of stoppable.reverse()) await s.stop();
    await shim?.stop();
    await fixture?.stop();
  });

  const svidFor = async (serviceAccount: string) => {
    const svids = new SvidManager({ address: fixture.zone.grpcAddress, caFile: fixture.zone.grpcCaFile, token: fixture.token('acme', serviceAccount), registry: new Registry(), log: testLogger(), retry: { initialMs: 100, factor: 1.6, maxMs: 500, jitter: 0.2 } });
    stoppable.push(svids);
    svids.start();
    await svids.ready();
    return svids;
  };

  const sidecar = (identity: SvidSource, id: string, extra: Partial<AdsClientOptions> = {}) => {
    const snapshots: XdsSnapshot[] = [];
    const client = new AdsClient({
      address: shim.address,
      caFile: fixture.zone.grpcCaFile,
      token: fixture.token('acme', 'web'),
      node: { id, kind: 'sidecar', service: 'web', instance: 'web-1', locality: { region: 'eu-west', zone: 'zone-a' } },
      identity,
      registry: new Registry(),
      log: testLogger(),
      reconnect: { initialMs: 100, factor: 1.6, maxMs: 1000, jitter: 0.2 },
      ...extra,
    });
    client.onSnapshot((s) => snapshots.push(s));
    stoppable.push(client);
    return { client, snapshots };
  };

  const apiEndpoints = (snapshot: XdsSnapshot | undefined) => text(snapshot?.endpoints.get('api.demo.mesh:9090'));
  const allAcked = async (id: string) =>
    eventually(async () => {
      const p = await fixture.proxy(id);
      for (const type of Object.values(TYPES)) expect(p.types[type]?.ackedVersion, type).toBe(p.types[type]?.sentVersion);
      return p;
    });

  it("gets config straight from the zone CP's TLS port with the SVID it issued", async () => {
    const { client, snapshots } = sidecar(await svidFor('web'), 'web-direct', { address: fixture.zone.grpcAddress });
    await client.start();
    await eventually(() => expect(snapshots.length).toBeGreaterThan(0), 4_000);
  });

  it("gets a sidecar's listeners, routes, clusters and endpoints over mTLS, and ACKs every version it was sent", async () => {
    const svids = await svidFor('web');
    const { client, snapshots } = sidecar(svids, 'web-1');
    await client.start();
    await eventually(() => expect(snapshots.length).toBeGreaterThan(0));
    const snapshot = snapshots.at(-1)!;
    // Its own port 8080 is inbound only; the API listeners are the tenant's, shared with proxyless clients.
    expect([...snapshot.listeners.keys()].sort()).toEqual(['api.demo.mesh:9090', 'inbound:8080', 'outbound:9090', 'web.demo.mesh:8080']);
    expect([...snapshot.routes.keys()]).toContain('outbound:9090');
    expect(missingReferences(snapshot)).toEqual({ routes: [], clusters: [], endpoints: [] });
    expect([...snapshot.clusters.keys()]).toEqual(expect.arrayContaining(['api.demo.mesh:9090', 'web.demo.mesh:8080', 'inbound:8080']));
    expect(apiEndpoints(snapshot)).toContain('127.0.0.32');
    // Exactly one snapshot for the whole first config: LDS, RDS, CDS and EDS arrived together.
    expect(snapshots).toHaveLength(1);
    expect(client.connected()).toBe(true);
    // It presented its SVID as client certificate.
    const leafSerial = new x509.X509Certificate(svids.current()!.certChainPem[0]!).serialNumber;
    expect(shim.presented).toContainEqual({ serial: leafSerial, spiffeId: 'spiffe://acme.mesh/ns/demo/sa/web' });

    const proxy = await allAcked('acme/web-1');
    expect(proxy).toMatchObject({ kind: 'sidecar', userAgent: 'meshfed-gateway' });
    expect(proxy.types.Listener!.subscribed).toBe('*');
    expect(proxy.types.Cluster!.subscribed).toBe('*');
    expect(proxy.types.RouteConfiguration!.subscribed).toEqual([...snapshot.routes.keys()].sort());
    expect(proxy.types.ClusterLoadAssignment!.subscribed).toEqual(expect.arrayContaining(['api.demo.mesh:9090', 'web.demo.mesh:8080']));
    for (const [type, name] of Object.entries(TYPES)) expect(proxy.types[name]!.ackedVersion).toBe(client.status()[type as keyof typeof TYPES].version);
    expect(snapshot.versions.endpoint).toBe(proxy.types.ClusterLoadAssignment!.ackedVersion);
  });

  it('receives a push when an endpoint changes', async () => {
    const { client, snapshots } = sidecar(await svidFor('web'), 'web-push');
    await client.start();
    await eventually(() => expect(apiEndpoints(snapshots.at(-1))).toContain('127.0.0.32'));
    const count = snapshots.length;
    await fixture.register('acme', 'api', 'api-2', '127.0.0.33', 9090, 'grpc');
    await eventually(() => expect(apiEndpoints(snapshots.at(-1))).toContain('127.0.0.33'));
    expect(snapshots.length).toBe(count + 1);
    await eventually(async () => expect((await fixture.proxy('acme/web-push')).types.ClusterLoadAssignment!.ackedVersion).toBe(snapshots.at(-1)!.versions.endpoint));
  });

  it('NACKs a config its validator rejects, keeps the previous one, and takes the next good one', async () => {
    const strict: typeof validateResource = (type, resource) =>
      validateResource(type, resource) ?? (type === 'endpoint' && text(resource).includes('127.0.0.34') ? 'endpoint 127.0.0.34 is not allowed here' : undefined);
    const registry = new Registry();
    const { client, snapshots } = sidecar(await svidFor('web'), 'web-strict', { validate: strict, registry });
    const { client: plain } = sidecar(await svidFor('web'), 'web-plain');
    await Promise.all([client.start(), plain.start()]);
    await eventually(() => expect(snapshots.length).toBeGreaterThan(0));
    await allAcked('acme/web-strict');
    const good = client.snapshot();
    const goodVersion = client.status().endpoint.version;

    await fixture.register('acme', 'api', 'api-3', '127.0.0.34', 9090, 'grpc');
    await eventually(() => expect(client.status().endpoint.lastNack).toMatch(/127\.0\.0\.34 is not allowed/));
    const proxy = await eventually(async () => {
      const p = await fixture.proxy('acme/web-strict');
      expect(p.types.ClusterLoadAssignment!.lastNack).toMatch(/127\.0\.0\.34 is not allowed/);
      return p;
    });
    expect(proxy.types.ClusterLoadAssignment!.ackedVersion).toBe(goodVersion);
    expect(proxy.types.ClusterLoadAssignment!.sentVersion).not.toBe(goodVersion);
    expect(client.status().endpoint.version).toBe(goodVersion);
    expect(client.snapshot()).toBe(good);
    expect(apiEndpoints(client.snapshot())).not.toContain('127.0.0.34');
    expect(await metricValue(registry, 'meshfed_gateway_xds_responses_total', { type: 'ClusterLoadAssignment', result: 'nack' })).toBe(1);
    // The same config passes a proxy with the default checks.
    await eventually(() => expect(apiEndpoints(plain.snapshot())).toContain('127.0.0.34'));

    await fixture.deregister('acme', 'api', 'api-3');
    await eventually(() => expect(client.status().endpoint.lastNack).toBeNull());
    await eventually(async () => expect((await fixture.proxy('acme/web-strict')).types.ClusterLoadAssignment!.lastNack).toBeNull());
    // Back to the content it had: the same version, ACKed this time.
    expect(client.status().endpoint.version).toBe(goodVersion);
    expect((await fixture.proxy('acme/web-strict')).types.ClusterLoadAssignment!.ackedVersion).toBe(goodVersion);
  });

  it('reconnects with its new client certificate when the SVID changes, keeping its snapshot', async () => {
    const first = (await svidFor('web')).current()!;
    const second = (await svidFor('web')).current()!;
    const serial = (svid: Svid) => new x509.X509Certificate(svid.certChainPem[0]!).serialNumber;
    const identity = new SwitchableSvids(first);
    const registry = new Registry();
    const { client, snapshots } = sidecar(identity, 'web-rotate', { registry });
    await client.start();
    await eventually(() => expect(snapshots.length).toBeGreaterThan(0));
    const connectedAt = (await fixture.proxy('acme/web-rotate')).connectedAt;
    const held = client.snapshot();
    identity.set(second);
    await eventually(async () => expect((await fixture.proxy('acme/web-rotate')).connectedAt).not.toBe(connectedAt));
    expect(shim.presented.map((p) => p.serial)).toEqual(expect.arrayContaining([serial(first), serial(second)]));
    expect(shim.presented.findIndex((p) => p.serial === serial(second))).toBeGreaterThan(shim.presented.findIndex((p) => p.serial === serial(first)));
    expect(await metricValue(registry, 'meshfed_gateway_xds_reconnects_total')).toBe(1);
    await allAcked('acme/web-rotate');
    // The same config again: nothing new to emit.
    expect(client.snapshot()).toBe(held);
  });

  it('waits for an SVID before it connects as a sidecar', async () => {
    const identity = new SwitchableSvids(undefined);
    const { client, snapshots } = sidecar(identity, 'web-late');
    await client.start();
    await new Promise((r) => setTimeout(r, 300));
    expect(client.connected()).toBe(false);
    expect((await fixture.proxies()).map((p) => p.id)).not.toContain('acme/web-late');
    identity.set((await svidFor('web')).current()!);
    await eventually(() => expect(snapshots.length).toBeGreaterThan(0));
  });

  it('serves the ingress on the TLS port, which it joins without a client certificate', async () => {
    const snapshots: XdsSnapshot[] = [];
    const client = new AdsClient({
      address: fixture.zone.grpcAddress,
      caFile: fixture.zone.grpcCaFile,
      token: await fixture.ingressToken(),
      node: { id: 'gw-1', kind: 'ingress', ingressPort: 10001 },
      registry: new Registry(),
      log: testLogger(),
    });
    stoppable.push(client);
    client.onSnapshot((s) => snapshots.push(s));
    await client.start();
    await eventually(() => expect(snapshots.length).toBeGreaterThan(0));
    const snapshot = snapshots.at(-1)!;
    expect([...snapshot.listeners.keys()]).toEqual(['ingress:sni']);
    expect([...snapshot.clusters.keys()]).toEqual(expect.arrayContaining(['ingress|acme|api.demo.mesh:9090', 'ingress|acme|web.demo.mesh:8080']));
    expect(text(snapshot.endpoints.get('ingress|acme|api.demo.mesh:9090'))).toContain('127.0.0.32');
    const proxy = await eventually(async () => {
      const p = await fixture.proxy('ingress/gw-1');
      for (const type of ['Listener', 'Cluster', 'ClusterLoadAssignment']) expect(p.types[type]?.ackedVersion, type).toBe(p.types[type]?.sentVersion);
      return p;
    });
    expect(proxy.port).toBe('mtls');
  });
});
