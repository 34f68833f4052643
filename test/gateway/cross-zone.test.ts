/**
 * Two zones of one region, each with its zone CP and east-west ingress, and
 * sidecars: traffic from zone-a reaches zone-b through zone-b's ingress (mTLS
 * end to end between the sidecars, SNI routing at the ingress), fails over
 * from zone-a to zone-b without a visible error, and the ingress refuses a
 * tenant that is not placed in its zone.
 */
import tls from 'node:tls';
import { Registry } from 'prom-client';
import { SvidManager, type Svid } from '../../gateway/certs/index.js';
import { createLogger } from '../../core/log.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../../gateway/main.js';
import type { RunningZoneCp } from '../../zone-cp/main.js';
import { freePort } from '../../deploy/local/free-port.js';
import { api, eventually, registerZone, startFederatedGlobalCp, startTestZoneCp, tempStateDir, zoneCpConfig } from '../helpers/federation.js';
import { EchoApp, load, request, startSidecar, type EchoReply, type ZoneHandle } from './mesh-fixture.js';

const TENANT = 'acme';
const WEB_OUT = '127.0.0.50';
const ECHO_HOST = 'echo.demo.mesh:8080';

interface Zone extends ZoneHandle {
  name: string;
  zoneToken: string;
  ingressPort: number;
  ingress?: RunningGateway;
}

describe('cross-zone traffic through the east-west ingress', () => {
  let globalCp: Awaited<ReturnType<typeof startFederatedGlobalCp>>;
  const zones: Zone[] = [];
  const gateways: RunningGateway[] = [];
  const apps: EchoApp[] = [];
  let echoA: EchoApp;
  let echoB: EchoApp;

  const viaWeb = () => request(WEB_OUT, 8080, ECHO_HOST);

  async function startZone(name: string): Promise<Zone> {
    const zoneToken = await registerZone(globalCp.url, name, 'eu-west');
    const ingressPort = await freePort();
    const config = zoneCpConfig(globalCp, name, zoneToken, await tempStateDir(), { xdsDebounceMs: 10, ingressAddress: `127.0.0.1:${ingressPort}`, logLevel: process.env.ZLOG ?? 'silent' });
    const running: RunningZoneCp = await startTestZoneCp(config);
    await running.synced();
    return { name, zoneToken, ingressPort, zone: running, token: (tenant, sa, ns = 'demo') => running.issueDataplaneToken({ tenant, namespace: ns, serviceAccount: sa }) };
  }

  async function startIngress(zone: Zone): Promise<RunningGateway> {
    const response = await fetch(`${zone.zone.url}/api/v1/dataplane-tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${zone.zoneToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ingress: true }),
    });
    expect(response.status).toBe(201);
    const { token } = (await response.json()) as { token: string };
    return startGateway({
      mode: 'ingress',
      zoneCpGrpc: zone.zone.grpcAddress,
      caFile: zone.zone.grpcCaFile,
      token,
      listen: { host: '127.0.0.1', port: zone.ingressPort },
      adminListen: { host: '127.0.0.1', port: 0 },
      logLevel: process.env.GWLOG ?? 'silent',
      drainMs: 1_000,
    });
  }

  beforeAll(async () => {
    globalCp = await startFederatedGlobalCp();
    zones.push(await startZone('zone-a'), await startZone('zone-b'));
    for (const tenant of [TENANT, 'globex']) {
      const created = await api(globalCp.url, 'POST', '/tenants', { name: tenant, zones: tenant === TENANT ? ['zone-a', 'zone-b'] : ['zone-a'] });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
    }
    await Promise.all(zones.map((z) => z.zone.synced()));
    for (const zone of zones) {
      zone.ingress = await startIngress(zone);
      gateways.push(zone.ingress);
    }
    const [a, b] = zones as [Zone, Zone];
    echoA = await EchoApp.start('echo-a');
    echoB = await EchoApp.start('echo-b');
    const webApp = await EchoApp.start('web');
    apps.push(echoA, echoB, webApp);
    gateways.push(
      await startSidecar(a, { tenant: TENANT, service: 'echo', instance: 'echo-a', address: '127.0.0.51', port: 8080, appPort: echoA.port, outboundAddress: '127.0.0.52', locality: { region: 'eu-west', zone: 'zone-a' } }),
      await startSidecar(b, { tenant: TENANT, service: 'echo', instance: 'echo-b', address: '127.0.0.61', port: 8080, appPort: echoB.port, outboundAddress: '127.0.0.62', locality: { region: 'eu-west', zone: 'zone-b' } }),
      await startSidecar(a, { tenant: TENANT, service: 'web', instance: 'web-1', address: '127.0.0.53', port: 9000, appPort: webApp.port, outboundAddress: WEB_OUT, locality: { region: 'eu-west', zone: 'zone-a' } }),
    );
    // Both zones' instances are known to web's sidecar: its own zone answers.
    await eventually(async () => {
      const result = await load(viaWeb, 10, 2);
      expect(new Set(result.instances)).toEqual(new Set(['echo-a']));
    }, 30_000);
    await eventually(async () => expect(await endpointsKnown(zones[0]!, 'echo.demo.mesh:8080')).toBe(2), 30_000);
  }, 90_000);

  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.stop().catch(() => undefined)));
    await Promise.all(apps.map((a) => a.kill()));
    await Promise.all(zones.map((z) => z.zone.stop().catch(() => undefined)));
    await globalCp?.stop();
  });

  it('keeps traffic in its own zone while it is healthy', async () => {
    const result = await load(viaWeb, 60, 4);
    expect(result.errors).toEqual([]);
    expect(new Set(result.instances)).toEqual(new Set(['echo-a']));
  });

  it('fails over to the other zone through its ingress with no visible error, mTLS end to end, and back', async () => {
    const during = load(viaWeb, 400, 6);
    await new Promise((r) => setTimeout(r, 100));
    await echoA.kill();
    const result = await during;
    expect(result.errors, result.errors.join('\n')).toEqual([]);
    expect(result.instances).toContain('echo-b');
    // Once zone-a's instance reports unhealthy, everything goes to zone-b.
    await eventually(async () => {
      const reply = JSON.parse((await viaWeb()).body) as EchoReply;
      expect(reply.instance).toBe('echo-b');
      // The ingress did not terminate TLS: echo-b's sidecar saw web's own certificate.
      expect(reply.headers['x-forwarded-client-cert']).toBe('By=spiffe://acme.mesh/ns/demo/sa/echo;URI=spiffe://acme.mesh/ns/demo/sa/web');
    }, 15_000);
    expect(await ingressRouted(zones[1]!)).toBeGreaterThan(0);

    await echoA.listen();
    await eventually(async () => {
      const back = await load(viaWeb, 20, 2);
      expect(back.errors).toEqual([]);
      expect(new Set(back.instances)).toEqual(new Set(['echo-a']));
    }, 30_000);
  }, 60_000);

  it('refuses, at zone-b\'s ingress, a tenant placed only in zone-a, and unknown names', async () => {
    const b = zones[1]!;
    for (const servername of ['8080.echo.demo.globex.mesh', '8080.nothing.demo.acme.mesh', 'example.com']) {
      const outcome = await new Promise<string>((resolve) => {
        const socket = tls.connect({ host: '127.0.0.1', port: b.ingressPort, servername, rejectUnauthorized: false });
        socket.once('secureConnect', () => {
          socket.destroy();
          resolve('connected');
        });
        socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
        socket.once('close', () => resolve('closed'));
      });
      expect(outcome, servername).not.toBe('connected');
    }
  });

  /** Endpoints of a cluster in web's sidecar (its /status). */
  async function endpointsKnown(_zone: Zone, cluster: string): Promise<number> {
    const web = gateways.at(-1)!;
    const status = (await (await fetch(`${web.url}/status`)).json()) as { clusters: Array<{ name: string; load: { total: number[] } }> };
    return status.clusters.find((c) => c.name === cluster)?.load.total.reduce((a, b) => a + b, 0) ?? 0;
  }

  /** A workload SVID from zone-a. */
  async function svidFor(tenant: string, serviceAccount: string): Promise<Svid> {
    const a = zones[0]!;
    const manager = new SvidManager({ address: a.zone.grpcAddress, caFile: a.zone.grpcCaFile, token: a.token(tenant, serviceAccount), registry: new Registry(), log: createLogger('test', 'silent') });
    manager.start();
    try {
      return await manager.ready();
    } finally {
      await manager.stop();
    }
  }

  /** Opens mTLS with `svid` to host:port (SNI `servername`) and sends an HTTP request; what happened. */
  function mtlsAttempt(svid: Svid, host: string, port: number, servername?: string): Promise<string> {
    return new Promise((resolve) => {
      const socket = tls.connect({ host, port, ...(servername ? { servername } : {}), cert: svid.certChainPem.join('\n'), key: svid.keyPem, ca: svid.trustBundlePem, checkServerIdentity: () => undefined });
      let answer = '';
      socket.once('secureConnect', () => socket.write('GET / HTTP/1.1\r\nhost: echo.demo.mesh\r\nconnection: close\r\n\r\n'));
      socket.on('data', (c: Buffer) => (answer += c.toString()));
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(`error ${error.code ?? error.message}`));
      socket.once('close', () => resolve(answer ? `answer ${answer.split('\r\n')[0]}` : 'closed'));
    });
  }

  it('keeps tenant B away from tenant A by every path: no route, no handshake with A\'s sidecar, none through A\'s ingress', async () => {
    const globexApp = await EchoApp.start('globex-web');
    apps.push(globexApp);
    const globexSidecar = await startSidecar(zones[0]!, { tenant: 'globex', service: 'web', instance: 'gx-1', address: '127.0.0.81', port: 9000, appPort: globexApp.port, outboundAddress: '127.0.0.80' });
    gateways.push(globexSidecar);
    await eventually(async () => expect((await fetch(`${globexSidecar.url}/readyz`)).status).toBe(200), 20_000);
    // 1. Its config knows nothing of acme: no listener for acme's port, or no route for acme's host.
    const viaGlobex = await request('127.0.0.80', 8080, ECHO_HOST).then((r) => `status ${r.status}`, (e: NodeJS.ErrnoException) => `error ${e.code ?? e.message}`);
    expect(viaGlobex).toMatch(/status 404|error ECONNREFUSED/);
    // 2. Straight at acme's sidecar with globex's certificate: the handshake fails (neither trusts the other's root).
    const svid = await svidFor('globex', 'intruder');
    expect(await mtlsAttempt(svid, '127.0.0.51', 8080)).not.toMatch(/^answer/);
    // (The same request with an acme identity is answered: the refusal is about the tenant.)
    expect(await mtlsAttempt(await svidFor(TENANT, 'web'), '127.0.0.51', 8080)).toMatch(/^answer HTTP\/1.1 200/);
    // 3. Through zone-b's ingress with acme's SNI: bytes reach acme's sidecar, whose handshake refuses globex.
    expect(await mtlsAttempt(svid, '127.0.0.1', zones[1]!.ingressPort, '8080.echo.demo.acme.mesh')).not.toMatch(/^answer/);
    // 4. And acme's own traffic is untouched.
    expect((await viaWeb()).status).toBe(200);
  }, 60_000);

  async function ingressRouted(zone: Zone): Promise<number> {
    const text = await (await fetch(`${zone.ingress!.url}/metrics`)).text();
    return text
      .split('\n')
      .filter((line) => line.startsWith('meshfed_ingress_connections_total') && line.includes('result="routed"') || line.startsWith('meshfed_ingress_connections_total') && line.includes('"ok"'))
      .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
  }
});
