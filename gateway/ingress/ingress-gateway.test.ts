import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../core/log.js';
import { SIGNING_ALGORITHM, exportPrivateKeyPem, generateKeyPair, randomSerial, x509 } from '../../core/pki/crypto.js';
import { INGRESS_LISTENER_NAME, clusterName, ingressSni } from '../../core/xds/names.js';
import { TYPE_URL, decodeResource, encodeResource, type ResourceType } from '../../core/xds/protos.js';
import { eventually } from '../../test/helpers/eventually.js';
import type { XdsSnapshot } from '../xds/snapshot.js';
import { IngressGateway, outlierOutcomeOf, type IngressGatewayOptions } from './ingress-gateway.js';

const ACME_SNI = ingressSni('acme', 'echo', 'demo', 8443);
const GLOBEX_SNI = ingressSni('globex', 'echo', 'demo', 8443);

interface Backend {
  name: string;
  server: tls.Server;
  port: number;
  cert: string;
  fingerprint256: string;
  accepted: number;
}

/** A TLS echo server with its own self-signed identity, answering `<name>:<bytes>`: the client trusts only this one certificate. */
async function startBackend(name: string): Promise<Backend> {
  const keys = await generateKeyPair();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=${name}`,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: ACME_SNI }, { type: 'dns', value: GLOBEX_SNI }])],
  });
  const cert = certificate.toString('pem');
  const backend = { name, cert, fingerprint256: new X509Certificate(cert).fingerprint256, accepted: 0, port: 0 } as Backend;
  backend.server = tls.createServer({ cert, key: await exportPrivateKeyPem(keys.privateKey) }, (socket) => {
    backend.accepted++;
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => socket.write(`${name}:${chunk.toString()}`));
  });
  backend.port = await new Promise<number>((resolve) => backend.server.listen(0, '127.0.0.1', () => resolve((backend.server.address() as net.AddressInfo).port)));
  return backend;
}

interface RouteSpec {
  tenant: string;
  endpoints: number[];
  outlierDetection?: Record<string, unknown>;
}

const ingressCluster = (tenant: string) => `ingress|${tenant}|${clusterName('echo', 'demo', 8443)}`;

/** The config meshfed's zone CP sends an ingress (shape of zone-cp/xds/generate/ingress.ts), through protobuf and back as the ADS client holds it. */
function snapshotOf(routes: RouteSpec[], version = '1'): XdsSnapshot {
  const wire = (type: ResourceType, resource: Record<string, unknown>) => decodeResource(encodeResource(TYPE_URL[type], resource));
  const listener = {
    name: INGRESS_LISTENER_NAME,
    address: { socket_address: { address: '0.0.0.0', port_value: 10001 } },
    traffic_direction: 'INBOUND',
    filter_chains: routes.map(({ tenant }) => {
      const sni = ingressSni(tenant, 'echo', 'demo', 8443);
      const tcpProxy = { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', stat_prefix: sni, cluster: ingressCluster(tenant) };
      return { name: sni, filter_chain_match: { server_names: [sni] }, filters: [{ name: 'envoy.filters.network.tcp_proxy', typed_config: tcpProxy }] };
    }),
  };
  const clusters = routes.map(({ tenant, outlierDetection }) => ({
    name: ingressCluster(tenant),
    type: 'EDS',
    eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' } },
    connect_timeout: { seconds: 2 },
    lb_policy: 'ROUND_ROBIN',
    common_lb_config: { locality_weighted_lb_config: {} },
    ...(outlierDetection ? { outlier_detection: outlierDetection } : {}),
  }));
  const assignments = routes.map(({ tenant, endpoints }) => ({
    cluster_name: ingressCluster(tenant),
    endpoints: [
      {
        locality: { region: 'eu-west', zone: 'zone-a' },
        lb_endpoints: endpoints.map((port) => ({ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } }, health_status: 'HEALTHY' })),
        load_balancing_weight: { value: 1 },
      },
    ],
  }));
  return {
    listeners: new Map(routes.length ? [[INGRESS_LISTENER_NAME, wire('listener', listener)]] : []),
    routes: new Map(),
    clusters: new Map(clusters.map((c) => [c.name, wire('cluster', c)])),
    endpoints: new Map(assignments.map((a) => [a.cluster_name, wire('endpoint', a)])),
    versions: { listener: version, route: '', cluster: version, endpoint: version },
  };
}

async function metric(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const { values } = await registry.getSingleMetric(name)!.get();
  return values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((sum, v) => sum + v.value, 0);
}

describe('IngressGateway', () => {
  let acme: Backend;
  let globex: Backend;
  let deadPort: number;
  let gateway: IngressGateway | undefined;
  let registry: Registry;
  const clients: tls.TLSSocket[] = [];

  beforeAll(async () => {
    [acme, globex] = await Promise.all([startBackend('acme'), startBackend('globex')]);
    const dead = net.createServer();
    deadPort = await new Promise<number>((resolve) => dead.listen(0, '127.0.0.1', () => resolve((dead.address() as net.AddressInfo).port)));
    await new Promise((r) => dead.close(r));
  });

  afterAll(async () => {
    for (const b of [acme, globex]) await new Promise((r) => (b ? b.server.close(r) : r(undefined)));
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await gateway?.stop();
    gateway = undefined;
  });

  function newGateway(overrides: Partial<IngressGatewayOptions> = {}): IngressGateway {
    registry = new Registry();
    gateway = new IngressGateway({ port: 0, bindAddress: '127.0.0.1', registry, log: createLogger('ingress-gateway-test', 'silent'), drainMs: 0, ...overrides });
    return gateway;
  }

  const port = () => gateway!.address()!.port;

  /** Connects with an SNI, trusting only `backend`'s certificate; resolves with the socket once the handshake is done, or 'closed'. */
  function connect(sni: string, backend: Backend, to = port()): Promise<tls.TLSSocket | 'closed'> {
    const socket = tls.connect({ host: '127.0.0.1', port: to, servername: sni, ca: backend.cert });
    clients.push(socket);
    return new Promise((resolve) => {
      socket.once('secureConnect', () => resolve(socket));
      socket.once('close', () => resolve('closed'));
      socket.on('error', () => undefined);
    });
  }

  async function exchange(socket: tls.TLSSocket | 'closed', text: string): Promise<string> {
    if (socket === 'closed') throw new Error('the connection was closed');
    const answer = new Promise<string>((resolve, reject) => {
      socket.once('data', (d: Buffer) => resolve(d.toString()));
      socket.once('close', () => reject(new Error('closed before answering')));
    });
    socket.write(text);
    return answer;
  }

  it('listens on the first snapshot and forwards each tenant\'s SNI, TLS end to end, to that tenant\'s backend', async () => {
    const g = newGateway();
    expect(g.ready()).toBe(false);
    await g.apply(snapshotOf([{ tenant: 'acme', endpoints: [acme.port] }, { tenant: 'globex', endpoints: [globex.port] }]));
    expect(g.ready()).toBe(true);
    expect(g.problems()).toEqual([]);

    const toAcme = await connect(ACME_SNI, acme);
    expect(toAcme).not.toBe('closed');
    const acmeSocket = toAcme as tls.TLSSocket;
    expect(acmeSocket.authorized).toBe(true);
    expect(acmeSocket.getPeerX509Certificate()?.fingerprint256).toBe(acme.fingerprint256);
    expect(await exchange(acmeSocket, 'hello')).toBe('acme:hello');
    expect(await exchange(await connect(GLOBEX_SNI, globex), 'hi')).toBe('globex:hi');
    expect(await metric(registry, 'meshfed_ingress_connections_total', { tenant: 'acme', result: 'ok' })).toBe(1);
  });

  it('closes an unknown SNI and the SNI of a tenant not in its config; nothing reaches a backend', async () => {
    const g = newGateway();
    await g.apply(snapshotOf([{ tenant: 'acme', endpoints: [acme.port] }]));
    const before = acme.accepted + globex.accepted;
    expect(await connect(ingressSni('acme', 'other', 'demo', 8443), acme)).toBe('closed');
    expect(await connect(GLOBEX_SNI, globex)).toBe('closed');
    expect(await connect(ingressSni('initech', 'echo', 'demo', 8443), acme)).toBe('closed');
    expect(acme.accepted + globex.accepted).toBe(before);
    expect(await metric(registry, 'meshfed_ingress_rejected_total', { reason: 'unknown-sni' })).toBe(1);
    expect(await metric(registry, 'meshfed_ingress_rejected_total', { reason: 'tenant-not-placed' })).toBe(2);
  });

  it('keeps an open connection across a snapshot that removes its route, and refuses new ones to that SNI', async () => {
    const g = newGateway();
    await g.apply(snapshotOf([{ tenant: 'acme', endpoints: [acme.port] }, { tenant: 'globex', endpoints: [globex.port] }]));
    const open = await connect(ACME_SNI, acme);
    expect(await exchange(open, 'one')).toBe('acme:one');
    const listeningOn = port();

    await g.apply(snapshotOf([{ tenant: 'globex', endpoints: [globex.port] }], '2'));
    expect(port()).toBe(listeningOn);
    expect(await connect(ACME_SNI, acme)).toBe('closed');
    expect(await exchange(open, 'two')).toBe('acme:two');
    expect(await exchange(await connect(GLOBEX_SNI, globex), 'three')).toBe('globex:three');

    // A snapshot without any listener (no tenant has local endpoints): still listening, refusing everything.
    await g.apply(snapshotOf([], '3'));
    expect(g.ready()).toBe(true);
    expect(await connect(GLOBEX_SNI, globex)).toBe('closed');
    expect(await exchange(open, 'four')).toBe('acme:four');
  });

  it('ejects an endpoint that refuses connections and sends the traffic to the other one, across snapshots', async () => {
    const g = newGateway({ connectAttempts: 1 });
    const outlierDetection = { split_external_local_origin_errors: true, consecutive_local_origin_failure: { value: 1 }, max_ejection_percent: { value: 50 }, base_ejection_time: { seconds: 60 } };
    const snapshot = (version: string) => snapshotOf([{ tenant: 'acme', endpoints: [deadPort, acme.port], outlierDetection }], version);
    await g.apply(snapshot('1'));
    const cluster = ingressCluster('acme');
    // Round robin reaches the dead endpoint within two connections; with one attempt, that connection is closed.
    let refused = 0;
    for (let i = 0; i < 2 && refused === 0; i++) if ((await connect(ACME_SNI, acme)) === 'closed') refused++;
    expect(refused).toBe(1);
    expect(g.ejected(cluster)).toEqual([`127.0.0.1:${deadPort}`]);
    expect(await metric(registry, 'meshfed_ingress_outlier_ejections_total', { tenant: 'acme', cluster, reason: 'consecutive-local-origin-failure' })).toBe(1);
    expect(await metric(registry, 'meshfed_ingress_ejected_endpoints', { cluster })).toBe(1);
    for (let i = 0; i < 4; i++) expect(await exchange(await connect(ACME_SNI, acme), `n${i}`)).toBe(`acme:n${i}`);

    // A new snapshot with the same endpoints keeps the ejection.
    await g.apply(snapshot('2'));
    expect(g.ejected(cluster)).toEqual([`127.0.0.1:${deadPort}`]);
    for (let i = 0; i < 4; i++) expect(await exchange(await connect(ACME_SNI, acme), `m${i}`)).toBe(`acme:m${i}`);
    expect(await metric(registry, 'meshfed_ingress_connections_total', { tenant: 'acme', result: 'connect-failure' })).toBe(1);
  });

  it('applies its default outlier detection to clusters that come without one', async () => {
    const g = newGateway({ connectAttempts: 2, defaultOutlierDetection: { consecutive5xx: 1, maxEjectionPercent: 50 } });
    await g.apply(snapshotOf([{ tenant: 'acme', endpoints: [deadPort, acme.port] }]));
    for (let i = 0; i < 3; i++) expect(await exchange(await connect(ACME_SNI, acme), `x${i}`)).toBe(`acme:x${i}`); // the second attempt saves the first
    expect(g.ejected(ingressCluster('acme'))).toEqual([`127.0.0.1:${deadPort}`]);
  });

  it('stop() refuses new connections at once, lets open ones finish for the drain period, then closes them', async () => {
    const g = newGateway({ drainMs: 400 });
    await g.apply(snapshotOf([{ tenant: 'acme', endpoints: [acme.port] }]));
    const listeningOn = port();
    const open = await connect(ACME_SNI, acme);
    expect(await exchange(open, 'before')).toBe('acme:before');
    const closed = new Promise<number>((resolve) => (open as tls.TLSSocket).once('close', () => resolve(Date.now())));
    const started = Date.now();
    const stopping = g.stop();
    expect(g.ready()).toBe(false);
    expect(await connect(ACME_SNI, acme, listeningOn)).toBe('closed');
    expect(await exchange(open, 'during')).toBe('acme:during');
    expect(await closed).toBeGreaterThanOrEqual(started + 350);
    await stopping;
    expect(g.openConnections()).toBe(0);
    await g.apply(snapshotOf([{ tenant: 'acme', endpoints: [acme.port] }])); // ignored once stopped
    expect(g.ready()).toBe(false);
  });

  it('a stop() with nothing open returns at once, listening or not', async () => {
    await newGateway({ drainMs: 60_000 }).stop();
    const g = newGateway({ drainMs: 60_000 });
    await g.apply(snapshotOf([{ tenant: 'acme', endpoints: [acme.port] }]));
    const started = Date.now();
    await g.stop();
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('reports a port it cannot listen on, and listens on a later apply', async () => {
    const blocker = net.createServer();
    const taken = await new Promise<number>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as net.AddressInfo).port)));
    const g = newGateway({ port: taken });
    await expect(g.apply(snapshotOf([{ tenant: 'acme', endpoints: [acme.port] }]))).rejects.toThrow(/cannot listen on 127\.0\.0\.1:\d+/);
    expect(g.ready()).toBe(false);
    await new Promise((r) => blocker.close(r));
    await g.apply(snapshotOf([{ tenant: 'acme', endpoints: [acme.port] }], '2'));
    await eventually(() => expect(g.ready()).toBe(true));
    expect(await exchange(await connect(ACME_SNI, acme), 'late')).toBe('acme:late');
  });
});

describe('outlierOutcomeOf', () => {
  it('counts a TCP connect as the whole request: success ends a run of failures, split or not', () => {
    expect(outlierOutcomeOf('connect-failure', false)).toEqual({ kind: 'connect-failure' });
    expect(outlierOutcomeOf('ok', false)).toEqual({ kind: 'response', status: 200 });
    expect(outlierOutcomeOf('ok', true)).toEqual({ kind: 'connect-success' });
  });
});
