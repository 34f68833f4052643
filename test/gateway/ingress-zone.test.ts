import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SIGNING_ALGORITHM, exportPrivateKeyPem, generateKeyPair, randomSerial, x509 } from '../../core/pki/crypto.js';
import { ingressSni } from '../../core/xds/names.js';
import { IngressGateway } from '../../gateway/ingress/index.js';
import { AdsClient } from '../../gateway/xds/index.js';
import { eventually } from '../helpers/federation.js';
import { ZoneFixture, metricValue, testLogger } from './zone-fixture.js';

interface Backend {
  server: tls.Server;
  port: number;
  cert: string;
  fingerprint256: string;
}

/** A workload's TLS endpoint with its own self-signed certificate, echoing `<name>:<bytes>`. */
async function startBackend(name: string): Promise<Backend> {
  const keys = await generateKeyPair();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=${name}`,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
  });
  const cert = certificate.toString('pem');
  const server = tls.createServer({ cert, key: await exportPrivateKeyPem(keys.privateKey) }, (socket) => {
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => socket.write(`${name}:${chunk.toString()}`));
  });
  const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
  return { server, port, cert, fingerprint256: new X509Certificate(cert).fingerprint256 };
}

async function freePort(): Promise<number> {
  const probe = net.createServer();
  const port = await new Promise<number>((resolve) => probe.listen(0, '127.0.0.1', () => resolve((probe.address() as net.AddressInfo).port)));
  await new Promise((r) => probe.close(r));
  return port;
}

/**
 * The east-west ingress against a real zone CP (with the global CP, NATS and
 * Redis behind it): it joins with an ingress token and no SVID, takes its
 * config over ADS, and forwards a TLS connection, untouched, to the local
 * endpoint of the tenant and service its SNI names.
 */
describe('ingress gateway with a real zone CP', () => {
  let fixture: ZoneFixture;
  let acme: Backend;
  let globex: Backend;
  let ads: AdsClient | undefined;
  let gateway: IngressGateway | undefined;
  let ingressPort: number;
  let registry: Registry;
  const sockets: tls.TLSSocket[] = [];

  beforeAll(async () => {
    fixture = await ZoneFixture.start([{ name: 'acme' }, { name: 'globex' }]);
    [acme, globex] = await Promise.all([startBackend('acme'), startBackend('globex')]);
    await fixture.register('acme', 'echo', 'echo-1', '127.0.0.1', acme.port, 'tcp');
    ingressPort = await freePort();
    registry = new Registry();
    gateway = new IngressGateway({ port: ingressPort, bindAddress: '127.0.0.1', registry, log: testLogger(), drainMs: 0 });
    ads = new AdsClient({
      address: fixture.zone.grpcAddress,
      caFile: fixture.zone.grpcCaFile,
      token: await fixture.ingressToken(),
      node: { id: 'ingress-1', kind: 'ingress', ingressPort, locality: { region: 'eu-west', zone: 'zone-a' } },
      registry: new Registry(),
      log: testLogger(),
      debounceMs: 10,
    });
    const applied = gateway;
    ads.onSnapshot((snapshot) => void applied.apply(snapshot).catch((error: Error) => testLogger().error({ err: error.message }, 'ingress apply failed')));
    await ads.start();
  }, 60_000);

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await ads?.stop();
    await gateway?.stop();
    for (const b of [acme, globex]) if (b) await new Promise((r) => b.server.close(r));
    await fixture?.stop();
  });

  function connect(sni: string, backend: Backend): Promise<tls.TLSSocket | 'closed'> {
    // Trusting only the backend's own certificate pins who answers; its name is not the SNI (mesh peers check SPIFFE IDs, not host names).
    const socket = tls.connect({ host: '127.0.0.1', port: ingressPort, servername: sni, ca: backend.cert, checkServerIdentity: () => undefined });
    sockets.push(socket);
    return new Promise((resolve) => {
      socket.once('secureConnect', () => resolve(socket));
      socket.once('close', () => resolve('closed'));
      socket.on('error', () => undefined);
    });
  }

  const rejected = (reason: string) => metricValue(registry, 'meshfed_ingress_rejected_total', { reason });

  async function exchange(socket: tls.TLSSocket | 'closed', text: string): Promise<string> {
    if (socket === 'closed') throw new Error('the ingress closed the connection');
    const answer = new Promise<string>((resolve, reject) => {
      socket.once('data', (d: Buffer) => resolve(d.toString()));
      socket.once('close', () => reject(new Error('closed before answering')));
    });
    socket.write(text);
    return answer;
  }

  it('forwards a TLS connection with the SNI of a tenant\'s service to its registered endpoint, end to end', async () => {
    await eventually(() => expect(gateway!.ready()).toBe(true), 20_000);
    expect(gateway!.problems()).toEqual([]);
    const socket = await eventually(async () => {
      const s = await connect(ingressSni('acme', 'echo', 'demo', acme.port), acme);
      expect(s).not.toBe('closed');
      return s as tls.TLSSocket;
    }, 20_000);
    expect(socket.authorized).toBe(true);
    expect(socket.getPeerX509Certificate()?.fingerprint256).toBe(acme.fingerprint256); // the workload's own certificate: TLS was not terminated
    expect(await exchange(socket, 'ping')).toBe('acme:ping');
    const proxy = await fixture.proxy('ingress/ingress-1');
    expect(proxy.kind).toBe('ingress');
  });

  it('refuses SNIs it has no route for: another service, a placed tenant without local endpoints, a tenant not placed here', async () => {
    const before = { unknown: await rejected('unknown-sni'), notPlaced: await rejected('tenant-not-placed') };
    expect(await connect(ingressSni('acme', 'other', 'demo', acme.port), acme)).toBe('closed');
    expect(await connect(ingressSni('globex', 'echo', 'demo', acme.port), acme)).toBe('closed');
    expect(await connect(ingressSni('nobody', 'echo', 'demo', acme.port), acme)).toBe('closed');
    expect(await rejected('unknown-sni')).toBe(before.unknown + 1);
    // The ingress learns only the tenants with something to forward to: globex (placed, no endpoint yet) counts as not placed here.
    expect(await rejected('tenant-not-placed')).toBe(before.notPlaced + 2);
  });

  it('follows registrations: a new tenant\'s endpoint becomes reachable; a removed one refuses new connections while an open one keeps working', async () => {
    const open = await connect(ingressSni('acme', 'echo', 'demo', acme.port), acme);
    expect(await exchange(open, 'first')).toBe('acme:first');

    await fixture.register('globex', 'echo', 'echo-1', '127.0.0.1', globex.port, 'tcp');
    const toGlobex = await eventually(async () => {
      const s = await connect(ingressSni('globex', 'echo', 'demo', globex.port), globex);
      expect(s).not.toBe('closed');
      return s;
    }, 20_000);
    expect(await exchange(toGlobex, 'hello')).toBe('globex:hello');
    // globex's SNI never reaches acme's endpoint, even on acme's port.
    expect(await connect(ingressSni('globex', 'echo', 'demo', acme.port), acme)).toBe('closed');

    await fixture.deregister('acme', 'echo', 'echo-1');
    await eventually(async () => expect(await connect(ingressSni('acme', 'echo', 'demo', acme.port), acme)).toBe('closed'), 20_000);
    expect(await exchange(open, 'still')).toBe('acme:still');
  });
});
