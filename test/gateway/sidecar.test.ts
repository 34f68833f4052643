/**
 * meshfed's sidecar against a real zone CP, with real sockets on loopback:
 * web-1 (client) → its sidecar's outbound listener → mTLS → echo sidecars'
 * inbound listeners → echo applications.
 */
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../../gateway/main.js';
import { api, eventually } from '../helpers/federation.js';
import { EchoApp, load, request, startSidecar, type EchoReply } from './mesh-fixture.js';
import { ZoneFixture, metricValue } from './zone-fixture.js';

const TENANT = 'acme';
const WEB_OUT = '127.0.0.30';
const ECHO_HOST = 'echo.demo.mesh:8080';

describe('sidecar data plane in one zone', () => {
  let zone: ZoneFixture;
  let apps: EchoApp[];
  let webApp: EchoApp;
  let echoSidecars: RunningGateway[];
  let web: RunningGateway;
  let tcpApp: net.Server;
  let grpcApp: http2.Http2Server;

  const viaWeb = (path = '/', headers: Record<string, string> = {}) => request(WEB_OUT, 8080, ECHO_HOST, path, { headers });

  beforeAll(async () => {
    zone = await ZoneFixture.start([{ name: TENANT }], { svidTtlMs: 8_000 });
    apps = [await EchoApp.start('echo-1'), await EchoApp.start('echo-2')];
    webApp = await EchoApp.start('web-1');
    echoSidecars = await Promise.all(
      apps.map((app, i) => startSidecar(zone, { tenant: TENANT, service: 'echo', instance: app.instance, address: `127.0.0.${21 + i}`, port: 8080, appPort: app.port, outboundAddress: `127.0.0.${41 + i}` })),
    );
    // A raw TCP service (echoes bytes, upper-cased) and an HTTP/2 (gRPC-like) one, each behind a sidecar.
    tcpApp = net.createServer((socket) => socket.on('data', (chunk: Buffer) => socket.write(chunk.toString().toUpperCase())));
    grpcApp = http2.createServer((request, response) => {
      response.writeHead(200, { 'content-type': 'application/grpc' });
      response.addTrailers({ 'grpc-status': '0' });
      response.end(`h2 from ${request.headers[':authority']}`);
    });
    await new Promise<void>((resolve) => tcpApp.listen(0, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => grpcApp.listen(0, '127.0.0.1', resolve));
    echoSidecars.push(
      await startSidecar(zone, { tenant: TENANT, service: 'kv', instance: 'kv-1', address: '127.0.0.24', port: 6379, appPort: (tcpApp.address() as AddressInfo).port, protocol: 'tcp', outboundAddress: '127.0.0.44' }),
      await startSidecar(zone, { tenant: TENANT, service: 'rpc', instance: 'rpc-1', address: '127.0.0.25', port: 7000, appPort: (grpcApp.address() as AddressInfo).port, protocol: 'grpc', outboundAddress: '127.0.0.45' }),
    );
    web = await startSidecar(zone, { tenant: TENANT, service: 'web', instance: 'web-1', address: '127.0.0.31', port: 9000, appPort: webApp.port, outboundAddress: WEB_OUT });
    await eventually(async () => {
      const result = await viaWeb();
      expect(result.status, result.body).toBe(200);
    }, 20_000);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([web, ...(echoSidecars ?? [])].map((g) => g?.stop().catch(() => undefined)));
    await Promise.all([...(apps ?? []), webApp].map((a) => a?.kill()));
    tcpApp?.close();
    grpcApp?.close();
    await zone?.stop();
  });

  it('carries requests over mTLS between sidecars, balanced over both instances, with the caller identity and a traceparent', async () => {
    const replies = await Promise.all(Array.from({ length: 20 }, () => viaWeb('/hello?x=1')));
    const bodies = replies.map((r) => JSON.parse(r.body) as EchoReply);
    expect(replies.every((r) => r.status === 200)).toBe(true);
    expect(new Set(bodies.map((b) => b.instance))).toEqual(new Set(['echo-1', 'echo-2']));
    expect(bodies[0]!.path).toBe('/hello?x=1');
    // The inbound sidecar says who called, from the verified client certificate.
    expect(bodies[0]!.headers['x-forwarded-client-cert']).toBe('By=spiffe://acme.mesh/ns/demo/sa/echo;URI=spiffe://acme.mesh/ns/demo/sa/web');
    expect(String(bodies[0]!.headers.traceparent)).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  });

  it('keeps the trace id of an incoming traceparent and refuses a forged client-cert header', async () => {
    const incoming = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const reply = JSON.parse((await viaWeb('/', { traceparent: incoming, 'x-forwarded-client-cert': 'URI=spiffe://acme.mesh/ns/demo/sa/admin' })).body) as EchoReply;
    expect(String(reply.headers.traceparent)).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-(?!b7ad6b7169203331)[0-9a-f]{16}-01$/);
    expect(reply.headers['x-forwarded-client-cert']).toBe('By=spiffe://acme.mesh/ns/demo/sa/echo;URI=spiffe://acme.mesh/ns/demo/sa/web');
  });

  it('carries a WebSocket upgrade over mTLS between sidecars and pipes it both ways', async () => {
    const upgraded = await new Promise<{ headers: http.IncomingHttpHeaders; socket: Socket }>((resolve, reject) => {
      const req = http.request({ host: WEB_OUT, port: 8080, path: '/ws', headers: { host: ECHO_HOST, connection: 'Upgrade', upgrade: 'websocket' } });
      req.on('upgrade', (res, socket) => resolve({ headers: res.headers, socket }));
      req.on('response', (res) => reject(new Error(`not upgraded: ${res.statusCode}`)));
      req.on('error', reject);
      req.end();
    });
    try {
      expect(upgraded.headers['x-instance']).toMatch(/^echo-[12]$/);
      expect(upgraded.headers['x-caller']).toBe('By=spiffe://acme.mesh/ns/demo/sa/echo;URI=spiffe://acme.mesh/ns/demo/sa/web');
      for (const word of ['ping', 'pong']) {
        const echoed = new Promise<string>((resolve) => upgraded.socket.once('data', (c: Buffer) => resolve(c.toString())));
        upgraded.socket.write(word);
        expect(await echoed).toBe(word.toUpperCase());
      }
    } finally {
      upgraded.socket.destroy();
    }
  });

  it('proxies raw TCP over mTLS', async () => {
    await eventually(async () => expect(await tcpExchange('hello')).toBe('HELLO'), 15_000);
  });

  it('proxies HTTP/2 with trailers (gRPC-like) over mTLS negotiated by ALPN', async () => {
    await eventually(async () => {
      const client = http2.connect(`http://${WEB_OUT}:7000`);
      try {
        const stream = client.request({ ':method': 'POST', ':path': '/pkg.Rpc/Call', ':authority': 'rpc.demo.mesh:7000', 'content-type': 'application/grpc', te: 'trailers' });
        stream.end('x');
        let body = '';
        stream.on('data', (c: Buffer) => (body += c.toString()));
        const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) => stream.on('trailers', resolve));
        const headers = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
          stream.on('response', resolve);
          stream.on('error', reject);
        });
        await new Promise((resolve) => stream.on('end', resolve));
        expect(headers[':status']).toBe(200);
        expect(body).toBe('h2 from rpc.demo.mesh:7000');
        expect((await trailers)['grpc-status']).toBe('0');
      } finally {
        client.close();
      }
    }, 15_000);
  });

  it('answers 404 for a host no route knows', async () => {
    const result = await request(WEB_OUT, 8080, 'nothing.demo.mesh:8080');
    expect(result.status).toBe(404);
  });

  it('loses no request while one application dies and comes back, and sends it traffic again', async () => {
    const [first] = apps;
    const during = load(() => viaWeb(), 300, 8);
    await new Promise((r) => setTimeout(r, 100));
    await first!.kill();
    const result = await during;
    expect(result.errors).toEqual([]);
    expect(result.instances.filter((i) => i === 'echo-2').length).toBeGreaterThan(150);

    await first!.listen();
    await eventually(async () => {
      const again = await load(() => viaWeb(), 40, 4);
      expect(again.errors).toEqual([]);
      expect(again.instances).toContain('echo-1');
    }, 40_000);
  }, 60_000);

  it('enforces TrafficPermission on the caller identity: 403 for web when only frontend may call', async () => {
    const put = await api(zone.globalCp.url, 'PUT', `/tenants/${TENANT}/policies/TrafficPermission/echo-callers`, {
      apiVersion: 'meshfed.io/v1alpha1',
      kind: 'TrafficPermission',
      metadata: { name: 'echo-callers' },
      spec: { targetRef: { kind: 'Service', name: 'echo', namespace: 'demo' }, rules: [{ action: 'Allow', sources: [{ namespace: 'demo', serviceAccount: 'frontend' }] }] },
    });
    expect([200, 201]).toContain(put.status);
    await eventually(async () => expect((await viaWeb()).status).toBe(403), 15_000);
    // TCP: the connection is closed, nothing reaches the application.
    await putPermission('kv', 'frontend');
    await eventually(async () => expect(await tcpExchange('hello')).toBe(''), 15_000);
    await putPermission('kv', 'web');
    await eventually(async () => expect(await tcpExchange('again')).toBe('AGAIN'), 15_000);
    expect(await metricValue(echoSidecars[0]!.registry, 'meshfed_gateway_rbac_denied_total') + (await metricValue(echoSidecars[1]!.registry, 'meshfed_gateway_rbac_denied_total'))).toBeGreaterThan(0);

    const allow = await api(zone.globalCp.url, 'PUT', `/tenants/${TENANT}/policies/TrafficPermission/echo-callers`, {
      apiVersion: 'meshfed.io/v1alpha1',
      kind: 'TrafficPermission',
      metadata: { name: 'echo-callers' },
      spec: { targetRef: { kind: 'Service', name: 'echo', namespace: 'demo' }, rules: [{ action: 'Allow', sources: [{ namespace: 'demo', serviceAccount: 'web' }] }] },
    });
    expect([200, 201]).toContain(allow.status);
    await eventually(async () => expect((await viaWeb()).status).toBe(200), 15_000);
  }, 40_000);

  it('drops no request across config changes and SVID renewals under load', async () => {
    const renewalsBefore = await metricValue(web.registry, 'meshfed_gateway_svid_renewals_total', { result: 'ok' });
    const during = load(() => viaWeb(), 1_500, 8);
    // Config changes: a timeout policy comes and goes while requests flow.
    for (const seconds of [5, 7, 9]) {
      const put = await api(zone.globalCp.url, 'PUT', `/tenants/${TENANT}/policies/Timeout/echo-timeout`, {
        apiVersion: 'meshfed.io/v1alpha1',
        kind: 'Timeout',
        metadata: { name: 'echo-timeout' },
        spec: { targetRef: { kind: 'Service', name: 'echo', namespace: 'demo' }, request: `${seconds}s` },
      });
      expect([200, 201], JSON.stringify(put.body)).toContain(put.status);
      await new Promise((r) => setTimeout(r, 700));
    }
    const result = await during;
    expect(result.errors).toEqual([]);
    // 8 s SVIDs renew at half life: at least one renewal happened under load.
    await eventually(async () => expect(await metricValue(web.registry, 'meshfed_gateway_svid_renewals_total', { result: 'ok' })).toBeGreaterThan(renewalsBefore), 10_000);
    const after = await load(() => viaWeb(), 50, 4);
    expect(after.errors).toEqual([]);
  }, 60_000);

  async function putPermission(service: string, serviceAccount: string): Promise<void> {
    const put = await api(zone.globalCp.url, 'PUT', `/tenants/${TENANT}/policies/TrafficPermission/${service}-callers`, {
      apiVersion: 'meshfed.io/v1alpha1',
      kind: 'TrafficPermission',
      metadata: { name: `${service}-callers` },
      spec: { targetRef: { kind: 'Service', name: service, namespace: 'demo' }, rules: [{ action: 'Allow', sources: [{ namespace: 'demo', serviceAccount }] }] },
    });
    expect([200, 201]).toContain(put.status);
  }

  /** Sends `text` through web's outbound TCP listener; what comes back before the connection closes or 1 s passes. */
  function tcpExchange(text: string): Promise<string> {
    return new Promise((resolve) => {
      let received = '';
      const socket = net.connect({ host: WEB_OUT, port: 6379 }, () => socket.write(text));
      const done = () => {
        clearTimeout(timer);
        socket.destroy();
        resolve(received);
      };
      const timer = setTimeout(done, 1_000);
      socket.on('data', (c: Buffer) => {
        received += c.toString();
        if (received.length >= text.length) done();
      });
      socket.on('error', done);
      socket.on('close', done);
    });
  }

  it('keeps routing while the zone CP goes away mid-load and comes back', async () => {
    const during = load(() => viaWeb(), 600, 4);
    await new Promise((r) => setTimeout(r, 100));
    await zone.stopZone();
    try {
      const result = await during;
      expect(result.errors).toEqual([]);
      expect(new Set(result.instances)).toEqual(new Set(['echo-1', 'echo-2']));
      expect(await metricValue(web.registry, 'meshfed_gateway_xds_connected')).toBe(0);
    } finally {
      await zone.startZone();
    }
    // The sidecars reconnect and keep serving.
    await eventually(async () => expect(await metricValue(web.registry, 'meshfed_gateway_xds_connected')).toBe(1), 30_000);
    expect((await load(() => viaWeb(), 50, 4)).errors).toEqual([]);
  }, 60_000);
});
