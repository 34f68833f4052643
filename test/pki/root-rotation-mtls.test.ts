import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { connect as tlsConnect, createServer, type PeerCertificate, type Server, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startTestGlobalCp, type TestGlobalCp } from '../helpers/global-cp.js';
import { issueSvid, requestZoneIntermediate, type Workload } from './pki-fixtures.js';

/**
 * Two workloads of one tenant keep talking mTLS while the tenant's root is
 * rotated and then retired. Certificates come the way they do in the mesh: a
 * zone intermediate signed by the global CP from the zone's CSR, SVIDs signed
 * by that intermediate; each side trusts exactly the tenant's trust bundle.
 */

const SERVER_ID = 'spiffe://acme.mesh/ns/shop/sa/payments';
const CLIENT_ID = 'spiffe://acme.mesh/ns/shop/sa/web';

const uriOf = (cert: PeerCertificate) => /URI:([^,\s]+)/.exec(cert.subjectaltname ?? '')?.[1];
const tlsContext = (w: Workload, bundle: string[]) => ({ cert: w.chainPem.join('\n'), key: w.keyPem, ca: bundle });

/**
 * A line-echo mTLS server: greets with the client's SPIFFE ID, then answers
 * every line. It refuses unverified clients itself, exactly as Node's
 * rejectUnauthorized would (destroy after the handshake), so the test can see
 * why a client was refused.
 */
class EchoServer {
  readonly server: Server;
  /** Why handshakes failed, as the server saw it. */
  readonly rejections: string[] = [];
  private readonly sockets = new Set<TLSSocket>();

  constructor(workload: Workload, bundle: string[]) {
    this.server = createServer({ ...tlsContext(workload, bundle), requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.3' }, (socket) => {
      if (!socket.authorized) {
        this.rejections.push(String(socket.authorizationError));
        socket.destroy();
        return;
      }
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      socket.on('error', () => undefined);
      socket.write(`hello ${uriOf(socket.getPeerCertificate()) ?? '?'}\n`);
      let buffered = '';
      socket.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        let nl;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          socket.write(`echo ${buffered.slice(0, nl)}\n`);
          buffered = buffered.slice(nl + 1);
        }
      });
    });
    this.server.on('tlsClientError', () => undefined);
  }

  async listen(): Promise<number> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return (this.server.address() as AddressInfo).port;
  }

  /** What a workload does when its zone hands it a new SVID or bundle: swap the context; live connections keep theirs. */
  swap(workload: Workload, bundle: string[]): void {
    this.server.setSecureContext(tlsContext(workload, bundle));
  }

  /** The server's reason for the last handshake it refused (it is logged just before the client sees the close). */
  async lastRejection(): Promise<string> {
    for (let i = 0; i < 40 && !this.rejections.length; i++) await new Promise((r) => setTimeout(r, 25));
    return this.rejections.at(-1) ?? 'none';
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A client connection that reads lines; `request` sends one and waits for its echo. */
class Client {
  private buffered = '';
  private readonly lines: string[] = [];
  private waiter: (() => void) | undefined;

  constructor(readonly socket: TLSSocket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered += chunk.toString();
      let nl;
      while ((nl = this.buffered.indexOf('\n')) >= 0) {
        this.lines.push(this.buffered.slice(0, nl));
        this.buffered = this.buffered.slice(nl + 1);
      }
      this.waiter?.();
    });
    socket.on('close', () => this.waiter?.());
  }

  async nextLine(timeoutMs = 3000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!this.lines.length) {
      if (this.socket.destroyed) throw new Error('connection closed');
      if (Date.now() > deadline) throw new Error('timed out waiting for a line');
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
        setTimeout(resolve, 50);
      });
    }
    return this.lines.shift()!;
  }

  async request(message: string): Promise<string> {
    this.socket.write(`${message}\n`);
    return this.nextLine();
  }
}

/**
 * Dials with `workload`'s SVID, trusting `bundle`, and checks the server's
 * SPIFFE ID. Resolves with the server's greeting, or "refused: <reason>" —
 * under TLS 1.3 a server's rejection of the client certificate arrives after
 * the client's handshake, as an error or a close instead of the greeting.
 */
async function dial(port: number, workload: Workload, bundle: string[]): Promise<{ outcome: string; client?: Client }> {
  return new Promise((resolve) => {
    const socket = tlsConnect({
      host: '127.0.0.1',
      port,
      ...tlsContext(workload, bundle),
      minVersion: 'TLSv1.3',
      checkServerIdentity: (_host, cert) => (uriOf(cert) === SERVER_ID ? undefined : new Error(`server is ${uriOf(cert) ?? 'no SPIFFE ID'}`)),
    });
    const client = new Client(socket);
    socket.once('error', (error: Error) => resolve({ outcome: `refused: ${error.message}` }));
    socket.once('secureConnect', () => {
      client.nextLine().then(
        (greeting) => resolve({ outcome: greeting, client }),
        (error: Error) => resolve({ outcome: `refused: ${error.message}` }),
      );
    });
  });
}

describe('live mTLS across a root rotation', () => {
  let cp: TestGlobalCp;
  let zoneToken: string;
  const servers: EchoServer[] = [];
  const clients: Client[] = [];

  const bundle = async () => (await cp.call('GET', '/api/v1/tenants/acme/trust-bundle', ADMIN_TOKEN)).json<{ roots: string[] }>().roots;
  const start = async (workload: Workload, trust: string[]) => {
    const server = new EchoServer(workload, trust);
    servers.push(server);
    return { server, port: await server.listen() };
  };
  const connect = async (port: number, workload: Workload, trust: string[]) => {
    const { outcome, client } = await dial(port, workload, trust);
    if (client) clients.push(client);
    return outcome;
  };

  beforeAll(async () => {
    cp = await startTestGlobalCp();
    zoneToken = (await cp.call('POST', '/api/v1/zones', ADMIN_TOKEN, { name: 'zone-a', region: 'eu-west', location: 'dc:a', kind: 'universal' })).json<{ token: string }>().token;
    expect((await cp.call('POST', '/api/v1/tenants', ADMIN_TOKEN, { name: 'acme', zones: ['zone-a'] })).statusCode).toBe(201);
  });
  afterAll(async () => {
    for (const c of clients) c.socket.destroy();
    await Promise.all(servers.map((s) => s.close()));
    await cp.close();
  });

  it('keeps a live connection through rotation, connects every mix of old and new SVIDs while both roots are trusted, and only new ones after retirement', async () => {
    // ---- before: everything under root 1
    const bundle1 = await bundle();
    expect(bundle1).toHaveLength(1);
    const zone1 = await requestZoneIntermediate(cp, 'zone-a', zoneToken, 'acme');
    const server1 = await issueSvid(zone1, SERVER_ID);
    const client1 = await issueSvid(zone1, CLIENT_ID);
    const { server, port } = await start(server1, bundle1);

    const { outcome: greeting, client: live } = await dial(port, client1, bundle1);
    expect(greeting).toBe(`hello ${CLIENT_ID}`);
    clients.push(live!);
    let seq = 0;
    const chat = async () => {
      const n = ++seq;
      expect(await live!.request(`ping ${n}`)).toBe(`echo ping ${n}`);
    };
    // Keep the live connection busy in the background through everything that follows.
    let chatting = true;
    let background = 0;
    const chatter = (async () => {
      while (chatting) {
        await chat();
        background++;
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    const progressed = async () => {
      const at = background;
      await new Promise((r) => setTimeout(r, 100));
      expect(background, 'the live connection keeps exchanging messages').toBeGreaterThan(at);
    };
    await progressed();

    // ---- rotate: root 2 signs, the bundle trusts both
    const rotated = await cp.call('POST', '/api/v1/tenants/acme/roots', ADMIN_TOKEN, {});
    expect(rotated.statusCode, rotated.body).toBe(201);
    const bundle12 = await bundle();
    expect(bundle12).toHaveLength(2);
    expect(bundle12).toContain(bundle1[0]);
    const root2 = bundle12.find((pem) => pem !== bundle1[0])!;
    const zone2 = await requestZoneIntermediate(cp, 'zone-a', zoneToken, 'acme');
    expect(zone2.reply.chain).toEqual([root2]);
    const server2 = await issueSvid(zone2, SERVER_ID);
    const client2 = await issueSvid(zone2, CLIENT_ID);

    // A peer that has not got the new bundle yet cannot talk to new SVIDs: why the bundle must reach
    // every workload before anything is signed under a new root (activate: false, then activate).
    const stale = await start(server1, bundle1);
    expect(await connect(stale.port, client2, bundle1)).toMatch(/^refused/);
    expect(await stale.server.lastRejection()).toMatch(/UNABLE_TO_GET_ISSUER_CERT_LOCALLY|unable to get local issuer certificate/);
    expect(stale.server.rejections).toHaveLength(1);
    expect(await connect(port, client1, bundle1)).toBe(`hello ${CLIENT_ID}`);

    // The server takes its new SVID and the two-root bundle; the live connection never notices.
    server.swap(server2, bundle12);
    await progressed();
    // A workload that has not rotated yet, but has the new bundle.
    const old = await start(server1, bundle12);

    expect(await connect(port, client1, bundle12), 'old client SVID → new server SVID').toBe(`hello ${CLIENT_ID}`);
    expect(await connect(old.port, client2, bundle12), 'new client SVID → old server SVID').toBe(`hello ${CLIENT_ID}`);
    expect(await connect(port, client2, bundle12), 'new client SVID → new server SVID').toBe(`hello ${CLIENT_ID}`);
    expect(await connect(old.port, client1, bundle12), 'old → old').toBe(`hello ${CLIENT_ID}`);
    // With only root 1 trusted, the new server certificate is refused by the client.
    expect(await connect(port, client1, bundle1)).toMatch(/^refused: .*(unable to get local issuer certificate|unable to verify)/);
    await progressed();

    // ---- retire root 1: the bundle is root 2 alone
    const serial1 = (await cp.call('GET', '/api/v1/tenants/acme/roots', ADMIN_TOKEN)).json<{ roots: Array<{ serial: string; certificate: string }> }>().roots.find((r) => r.certificate === bundle1[0])!.serial;
    const retired = await cp.call('DELETE', `/api/v1/tenants/acme/roots/${serial1}`, ADMIN_TOKEN);
    expect(retired.statusCode, retired.body).toBe(200);
    const bundle2 = await bundle();
    expect(bundle2).toEqual([root2]);
    server.swap(server2, bundle2);
    old.server.swap(server1, bundle2);

    expect(await connect(port, client2, bundle2), 'new ↔ new').toBe(`hello ${CLIENT_ID}`);
    // An old client SVID is refused by the server: under TLS 1.3 the client learns it after its handshake.
    expect(await connect(port, client1, bundle2), 'old client SVID → server').toMatch(/^refused/);
    expect(await server.lastRejection()).toMatch(/UNABLE_TO_GET_ISSUER_CERT_LOCALLY|unable to get local issuer certificate/);
    expect(server.rejections, 'the only client the server ever refused').toHaveLength(1);
    // An old server SVID is refused by a client that trusts only root 2.
    expect(await connect(old.port, client2, bundle2), 'new client → old server SVID').toMatch(/^refused: .*(unable to get local issuer certificate|unable to verify)/);
    // TLS checks certificates at the handshake only: retiring a root does not cut established connections.
    await progressed();

    chatting = false;
    await chatter;
    expect(background).toBeGreaterThan(10);
  }, 30_000);
});
