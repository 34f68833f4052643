import { X509Certificate, randomBytes } from 'node:crypto';
import net from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../core/log.js';
import { SIGNING_ALGORITHM, exportPrivateKeyPem, generateKeyPair, randomSerial, x509 } from '../../core/pki/crypto.js';
import { clusterName, ingressSni } from '../../core/xds/names.js';
import { eventually } from '../../test/helpers/eventually.js';
import { IngressServer, type IngressServerOptions, type UpstreamEndpoint, type UpstreamOutcome } from './ingress-server.js';
import type { IngressRoutingTable } from './sni-router.js';

const ACME_SNI = ingressSni('acme', 'echo', 'demo', 8443); // 8443.echo.demo.acme.mesh
const GLOBEX_SNI = ingressSni('globex', 'echo', 'demo', 8443);
const EMPTY_SNI = ingressSni('acme', 'empty', 'demo', 8443);
const ECHO = clusterName('echo', 'demo', 8443);
const GLOBEX_ECHO = `globex|${ECHO}`;
const EMPTY = clusterName('empty', 'demo', 8443);
const TABLE: IngressRoutingTable = {
  [ACME_SNI]: { tenant: 'acme', cluster: ECHO },
  [GLOBEX_SNI]: { tenant: 'globex', cluster: GLOBEX_ECHO },
  [EMPTY_SNI]: { tenant: 'acme', cluster: EMPTY },
};

/** The backend's own TLS identity, self-signed: the client trusts only it, so a handshake proves TLS went end to end. */
async function backendIdentity(): Promise<{ cert: string; key: string; fingerprint256: string }> {
  const keys = await generateKeyPair();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: 'CN=echo backend',
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: ACME_SNI }, { type: 'dns', value: GLOBEX_SNI }])],
  });
  const cert = certificate.toString('pem');
  return { cert, key: await exportPrivateKeyPem(keys.privateKey), fingerprint256: new X509Certificate(cert).fingerprint256 };
}

const listen = (server: net.Server) =>
  new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));

async function metric(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const { values } = await registry.getSingleMetric(name)!.get();
  return values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((sum, v) => sum + v.value, 0);
}

/** Resolves once the socket has closed; the result says whether the TLS handshake had completed. */
function outcome(socket: tls.TLSSocket): Promise<'secure' | 'closed'> {
  return new Promise((resolve) => {
    socket.once('secureConnect', () => resolve('secure'));
    socket.once('close', () => resolve('closed'));
    socket.on('error', () => undefined);
  });
}

/** Writes `data` and collects the same number of bytes back. */
async function echo(socket: net.Socket | tls.TLSSocket, data: Buffer): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let received = 0;
  const done = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      if (received >= data.length) {
        socket.off('data', onData);
        resolve();
      }
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error(`closed after ${received} of ${data.length} bytes`)));
  });
  socket.write(data);
  await done;
  return Buffer.concat(chunks);
}

/**
 * A socket to `port` whose first `dripBytes` bytes go out one per TCP
 * segment, a few milliseconds apart; then it passes bytes through.
 */
function drippingConnection(port: number, dripBytes: number): Duplex {
  const raw = net.connect({ host: '127.0.0.1', port, noDelay: true });
  let dripped = 0;
  const duplex = new Duplex({
    write(chunk: Buffer, _encoding, callback) {
      void (async () => {
        let i = 0;
        for (; i < chunk.length && dripped < dripBytes; i++, dripped++) {
          raw.write(chunk.subarray(i, i + 1));
          await new Promise((r) => setTimeout(r, 2));
        }
        if (i < chunk.length) raw.write(chunk.subarray(i));
        callback();
      })();
    },
    read() {
      raw.resume();
    },
    final(callback) {
      raw.end();
      callback();
    },
    destroy(error, callback) {
      raw.destroy();
      callback(error);
    },
  });
  raw.on('data', (chunk: Buffer) => {
    if (!duplex.push(chunk)) raw.pause();
  });
  raw.on('end', () => duplex.push(null));
  raw.on('error', (error) => duplex.destroy(error));
  return duplex;
}

describe('IngressServer', () => {
  let identity: Awaited<ReturnType<typeof backendIdentity>>;
  let backend: tls.Server;
  let backendPort: number;
  const backendServernames: string[] = [];
  let plainBackend: net.Server;
  let plainPort: number;
  let ingress: IngressServer | undefined;
  let ingressPort: number;
  let registry: Registry;
  let results: Array<[string, UpstreamEndpoint, UpstreamOutcome]>;
  const clients: Array<net.Socket | Duplex> = [];

  beforeAll(async () => {
    identity = await backendIdentity();
    backend = tls.createServer({ cert: identity.cert, key: identity.key }, (socket) => {
      backendServernames.push(String(socket.servername));
      socket.on('error', () => undefined);
      socket.pipe(socket);
    });
    backendPort = await listen(backend);
    // Reads everything up to the client's FIN, then answers with the byte count: proves half-close passes through.
    plainBackend = net.createServer({ allowHalfOpen: true }, (socket) => {
      let bytes = 0;
      socket.on('data', (chunk: Buffer) => (bytes += chunk.length));
      socket.on('end', () => socket.end(`received ${bytes}`));
      socket.on('error', () => undefined);
    });
    plainPort = await listen(plainBackend);
  });

  afterAll(async () => {
    await new Promise((r) => (backend ? backend.close(r) : r(undefined)));
    await new Promise((r) => (plainBackend ? plainBackend.close(r) : r(undefined)));
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await ingress?.stop();
    ingress = undefined;
  });

  async function startIngress(overrides: Partial<IngressServerOptions> = {}): Promise<IngressServer> {
    registry = new Registry();
    results = [];
    ingress = new IngressServer({
      table: TABLE,
      placedTenants: ['acme'],
      pickEndpoint: (cluster) => (cluster === ECHO || cluster === GLOBEX_ECHO ? { host: '127.0.0.1', port: backendPort } : undefined),
      onResult: (cluster, endpoint, result) => results.push([cluster, endpoint, result]),
      registry,
      log: createLogger('ingress-test', 'silent'),
      ...overrides,
    });
    ingressPort = (await ingress.start({ host: '127.0.0.1', port: 0 })).port;
    return ingress;
  }

  function connect(servername: string | undefined, port = ingressPort): tls.TLSSocket {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: identity.cert, ...(servername ? { servername } : {}) });
    clients.push(socket);
    return socket;
  }

  async function openEcho(servername = ACME_SNI): Promise<tls.TLSSocket> {
    const socket = connect(servername);
    expect(await outcome(socket)).toBe('secure');
    return socket;
  }

  it('forwards TLS untouched: the client completes a handshake with the backend and bytes pass both ways', async () => {
    await startIngress();
    const socket = await openEcho();
    expect(socket.authorized).toBe(true);
    expect(socket.getPeerX509Certificate()?.fingerprint256).toBe(identity.fingerprint256);
    await eventually(() => expect(backendServernames.at(-1)).toBe(ACME_SNI)); // the backend read the SNI itself
    const payload = randomBytes(1 << 20);
    expect((await echo(socket, payload)).equals(payload)).toBe(true);
    expect(results).toEqual([[ECHO, { host: '127.0.0.1', port: backendPort }, 'ok']]);
    expect(await metric(registry, 'meshfed_ingress_connections_total', { tenant: 'acme', service: 'echo.demo', result: 'ok' })).toBe(1);
    expect(await metric(registry, 'meshfed_ingress_active_connections', { tenant: 'acme' })).toBe(1);
    // Byte counters are read from open sockets at scrape time too.
    expect(await metric(registry, 'meshfed_ingress_bytes_in_total', { tenant: 'acme', service: 'echo.demo' })).toBeGreaterThan(1 << 20);
    socket.end();
    await eventually(async () => {
      expect(ingress!.activeConnections('acme')).toBe(0);
      expect(await metric(registry, 'meshfed_ingress_active_connections', { tenant: 'acme' })).toBe(0);
    });
    expect(await metric(registry, 'meshfed_ingress_bytes_out_total', { tenant: 'acme', service: 'echo.demo' })).toBeGreaterThan(1 << 20);
    expect(await metric(registry, 'meshfed_ingress_rejected_total')).toBe(0);
  });

  it('passes a half-close through: the client ends its side and still reads the answer', async () => {
    await startIngress({ pickEndpoint: () => ({ host: '127.0.0.1', port: plainPort }) });
    // A real ClientHello with the SNI, then plain bytes: the ingress only reads the first.
    const capture = net.createServer();
    const capturePort = await listen(capture);
    const hello = await new Promise<Buffer>((resolve) => {
      capture.once('connection', (s) => s.once('data', (d: Buffer) => (resolve(d), s.destroy())));
      tls.connect({ host: '127.0.0.1', port: capturePort, servername: ACME_SNI }).on('error', () => undefined);
    });
    await new Promise((r) => capture.close(r));
    const client = net.connect({ host: '127.0.0.1', port: ingressPort, allowHalfOpen: true });
    clients.push(client);
    const answer = new Promise<string>((resolve) => {
      let text = '';
      client.on('data', (d: Buffer) => (text += d.toString()));
      client.on('end', () => resolve(text));
    });
    client.write(hello);
    client.end(Buffer.alloc(100_000, 1));
    expect(await answer).toBe(`received ${hello.length + 100_000}`);
  });

  it('closes and counts an unknown SNI, a tenant not placed here, a missing SNI and non-TLS bytes; nothing reaches a backend', async () => {
    await startIngress();
    const before = backendServernames.length;
    expect(await outcome(connect(ingressSni('acme', 'other', 'demo', 8443)))).toBe('closed');
    expect(await outcome(connect(GLOBEX_SNI))).toBe('closed'); // globex has a route but is not placed in this zone
    expect(await outcome(connect(undefined))).toBe('closed');
    expect(await outcome(connect('example.com'))).toBe('closed');
    const http = net.connect({ host: '127.0.0.1', port: ingressPort });
    clients.push(http);
    http.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((r) => http.once('close', r));
    for (const reason of ['unknown-sni', 'tenant-not-placed', 'no-sni', 'invalid-sni', 'not-tls']) {
      expect(await metric(registry, 'meshfed_ingress_rejected_total', { reason }), reason).toBe(1);
    }
    expect(await metric(registry, 'meshfed_ingress_connections_total')).toBe(0);
    expect(results).toEqual([]);
    expect(backendServernames.length).toBe(before);
  });

  it('closes and counts a connection whose cluster has no endpoint', async () => {
    await startIngress();
    expect(await outcome(connect(EMPTY_SNI))).toBe('closed');
    expect(await metric(registry, 'meshfed_ingress_rejected_total', { reason: 'no-endpoint' })).toBe(1);
    expect(await metric(registry, 'meshfed_ingress_connections_total', { tenant: 'acme', service: 'empty.demo', result: 'no-endpoint' })).toBe(1);
    expect(ingress!.activeConnections('acme')).toBe(0);
  });

  it('tries another endpoint when one refuses, reports both outcomes, and gives up after the configured attempts', async () => {
    const dead = net.createServer();
    const deadPort = await listen(dead);
    await new Promise((r) => dead.close(r));
    const picks = [deadPort, backendPort];
    await startIngress({ pickEndpoint: () => ({ host: '127.0.0.1', port: picks.shift() ?? deadPort }) });
    const socket = await openEcho();
    expect((await echo(socket, Buffer.from('hello'))).toString()).toBe('hello');
    expect(results.map((r) => [r[1].port, r[2]])).toEqual([
      [deadPort, 'connect-failure'],
      [backendPort, 'ok'],
    ]);
    expect(await outcome(connect(ACME_SNI))).toBe('closed'); // both attempts hit the dead port
    expect(await metric(registry, 'meshfed_ingress_rejected_total', { reason: 'connect-failure' })).toBe(1);
    expect(await metric(registry, 'meshfed_ingress_connections_total', { result: 'connect-failure' })).toBe(1);
    await eventually(() => expect(ingress!.activeConnections('acme')).toBe(1));
  });

  it('enforces the per-tenant connection limit and frees the slot when a connection closes', async () => {
    await startIngress({ maxConnectionsPerTenant: 2, placedTenants: ['acme', 'globex'] });
    const first = await openEcho();
    await openEcho();
    expect(await outcome(connect(ACME_SNI))).toBe('closed');
    expect(await metric(registry, 'meshfed_ingress_rejected_total', { reason: 'tenant-limit' })).toBe(1);
    expect(await metric(registry, 'meshfed_ingress_connections_total', { tenant: 'acme', result: 'tenant-limit' })).toBe(1);
    await openEcho(GLOBEX_SNI); // another tenant has its own limit
    first.end();
    await eventually(() => expect(ingress!.activeConnections('acme')).toBe(1));
    const again = await openEcho();
    expect((await echo(again, Buffer.from('again'))).toString()).toBe('again');
  });

  it('keeps open connections across update() while new ones follow the new table', async () => {
    const server = await startIngress();
    const socket = await openEcho();
    server.update({}, []);
    expect(await outcome(connect(ACME_SNI))).toBe('closed');
    expect(await metric(registry, 'meshfed_ingress_rejected_total', { reason: 'tenant-not-placed' })).toBe(1);
    expect((await echo(socket, Buffer.from('still here'))).toString()).toBe('still here');
    server.update({ [GLOBEX_SNI]: TABLE[GLOBEX_SNI]! }, ['globex'], () => ({ host: '127.0.0.1', port: backendPort }));
    await openEcho(GLOBEX_SNI);
    expect(await outcome(connect(ACME_SNI))).toBe('closed');
    expect((await echo(socket, Buffer.from('and still'))).toString()).toBe('and still');
  });

  it('routes a ClientHello that arrives byte by byte', async () => {
    await startIngress();
    const raw = drippingConnection(ingressPort, 4096);
    clients.push(raw);
    const socket = tls.connect({ socket: raw, servername: ACME_SNI, ca: identity.cert });
    clients.push(socket);
    expect(await outcome(socket)).toBe('secure');
    expect((await echo(socket, Buffer.from('drip'))).toString()).toBe('drip');
  });

  it('closes a client that sends nothing, or only part of a ClientHello, after the handshake timeout', async () => {
    await startIngress({ handshakeTimeoutMs: 300 });
    const started = Date.now();
    const silent = net.connect({ host: '127.0.0.1', port: ingressPort });
    const partial = net.connect({ host: '127.0.0.1', port: ingressPort });
    clients.push(silent, partial);
    partial.write(Buffer.from([22, 3, 1, 1, 0, 1, 0, 0]));
    await Promise.all([new Promise((r) => silent.once('close', r)), new Promise((r) => partial.once('close', r))]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(await metric(registry, 'meshfed_ingress_rejected_total', { reason: 'handshake-timeout' })).toBe(2);
  });

  it('closes a ClientHello over the size cap without waiting for the rest', async () => {
    await startIngress();
    const client = net.connect({ host: '127.0.0.1', port: ingressPort });
    clients.push(client);
    client.write(Buffer.from([22, 3, 1, 0x40, 0, 1, 0, 0x50, 0])); // announces a 20 KiB ClientHello
    await new Promise((r) => client.once('close', r));
    expect(await metric(registry, 'meshfed_ingress_rejected_total', { reason: 'malformed-client-hello' })).toBe(1);
  });

  it('stop() closes open connections', async () => {
    const server = await startIngress();
    const socket = await openEcho();
    const closed = new Promise((r) => socket.once('close', r));
    await server.stop();
    await closed;
    ingress = undefined;
  });
});
