/**
 * The sidecar's HTTP engine on loopback, with configs built by hand (no
 * xDS): retries, circuit breaking, timeouts, outlier ejection, HTTP/2 with
 * trailers, and the plaintext listener taking HTTP/1.1 and HTTP/2 on one port.
 */
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../core/log.js';
import type { ClusterSettings, GatewayConfig, ListenerSettings, RouteAction, RouteTable } from '../config/model.js';
import type { LoadAssignment } from '../lb/index.js';
import type { AccessLogEntry } from '../observability/index.js';
import { parseRetryOn } from '../resilience/index.js';
import { ClusterSet } from './cluster-set.js';
import { ListenerSet } from './listener-set.js';

const log = createLogger('test', 'silent');

interface Backend {
  port: number;
  hits: number;
  close(): Promise<void>;
}

async function backend(handler: (req: http.IncomingMessage, res: http.ServerResponse, hit: number) => void): Promise<Backend> {
  const state = { hits: 0 };
  const server = http.createServer((req, res) => handler(req, res, ++state.hits));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    get hits() {
      return state.hits;
    },
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const assignment = (...ports: number[]): LoadAssignment => ({
  levels: [{ priority: 0, localities: [{ key: 'r/z/', weight: 1, endpoints: ports.map((port) => ({ address: '127.0.0.1', port, healthy: true })) }] }],
});

function cluster(name: string, extra: Partial<ClusterSettings> = {}): ClusterSettings {
  return { name, kind: 'eds', edsName: name, connectTimeoutMs: 1_000, http2: false, circuitBreaker: {}, ...extra };
}

function table(action: Partial<RouteAction> & { clusters: RouteAction['clusters'] }): RouteTable {
  return { name: 'out', select: (request) => (request.authority.startsWith('svc') ? { routeName: 'out/svc/default', timeouts: {}, ...action } : undefined) };
}

function config(listenerPort: number, routes: RouteTable, clusters: ClusterSettings[], assignments: Record<string, LoadAssignment>): GatewayConfig {
  const listener: ListenerSettings = { name: 'outbound:test', address: '127.0.0.1', port: listenerPort, direction: 'outbound', filter: { kind: 'http', routes: { rds: 'out' }, statPrefix: 'out', upgrades: ['websocket'] } };
  return {
    listeners: new Map([[listener.name, listener]]),
    routes: new Map([['out', routes]]),
    clusters: new Map(clusters.map((c) => [c.name, c])),
    assignments: new Map(Object.entries(assignments)),
    problems: [],
  };
}

describe('sidecar HTTP engine', () => {
  const entries: AccessLogEntry[] = [];
  const observer = { completed: (e: AccessLogEntry) => entries.push(e), retried: () => undefined, breakerRejected: () => undefined, ejected: () => undefined, tcpClosed: () => undefined };
  let clusters: ClusterSet;
  let listeners: ListenerSet;
  let port: number;
  const backends: Backend[] = [];

  beforeAll(async () => {
    // A free port for the listener.
    const probe = http.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
  });

  async function apply(cfg: GatewayConfig): Promise<void> {
    clusters ??= new ClusterSet({ identity: undefined, log });
    listeners ??= new ListenerSet({ identity: undefined, clusters, observer, log, drainMs: 500, replayLimitBytes: 1024 * 1024 });
    clusters.apply(cfg);
    await listeners.apply(cfg);
  }

  const get = (path = '/', headers: Record<string, string> = {}, method = 'GET', body?: string) =>
    new Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path, method, headers: { host: 'svc.demo.mesh', ...headers } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }));
      });
      req.on('error', reject);
      req.end(body);
    });

  afterEach(async () => {
    entries.length = 0;
    await Promise.all(backends.splice(0).map((b) => b.close()));
  });

  afterAll(async () => {
    await listeners?.stop(100);
    clusters?.stop();
  });

  it('retries a 503 on another endpoint, replaying the request body', async () => {
    const failing = await backend((_req, res) => {
      res.writeHead(503);
      res.end('down');
    });
    const good = await backend((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => res.end(`got ${body}`));
    });
    backends.push(failing, good);
    const retry = { conditions: parseRetryOn('5xx'), numRetries: 2, backoffBaseMs: 1, backoffMaxMs: 5 };
    await apply(config(port, table({ clusters: [{ name: 'c', weight: 1 }], retry }), [cluster('c')], { c: assignment(failing.port, good.port) }));
    for (let i = 0; i < 6; i++) {
      const result = await get('/', {}, 'POST', 'payload');
      expect(result.status).toBe(200);
      expect(result.body).toBe('got payload');
    }
    expect(failing.hits).toBeGreaterThan(0);
    expect(entries.some((e) => e.attempts === 2)).toBe(true);
  });

  it('gives up after num_retries with the last upstream answer, flagged URX', async () => {
    const failing = await backend((_req, res) => {
      res.writeHead(503);
      res.end('down');
    });
    backends.push(failing);
    const retry = { conditions: parseRetryOn('5xx'), numRetries: 2, backoffBaseMs: 1, backoffMaxMs: 5 };
    await apply(config(port, table({ clusters: [{ name: 'c', weight: 1 }], retry }), [cluster('c')], { c: assignment(failing.port) }));
    const result = await get();
    expect(result.status).toBe(503);
    expect(result.body).toBe('down');
    expect(failing.hits).toBe(3);
    await expect.poll(() => entries.at(-1)?.response_flags).toContain('URX');
  });

  it('streams a response as it comes (the first chunk is not held until the upstream ends) and passes a bodiless GET at once', async () => {
    const streaming = await backend((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write(`first ${req.headers['content-length'] ?? 'none'} ${req.headers['transfer-encoding'] ?? 'none'};`);
      setTimeout(() => res.end('second'), 400);
    });
    backends.push(streaming);
    await apply(config(port, table({ clusters: [{ name: 'c', weight: 1 }] }), [cluster('c')], { c: assignment(streaming.port) }));
    const started = performance.now();
    const chunks = await new Promise<Array<{ at: number; text: string }>>((resolve, reject) => {
      const seen: Array<{ at: number; text: string }> = [];
      const req = http.request({ host: '127.0.0.1', port, path: '/', headers: { host: 'svc.demo.mesh' } }, (res) => {
        res.on('data', (c: Buffer) => seen.push({ at: performance.now() - started, text: c.toString() }));
        res.on('end', () => resolve(seen));
      });
      req.on('error', reject);
      req.end();
    });
    expect(chunks.map((c) => c.text).join('')).toBe('first none none;second');
    expect(chunks[0]!.text).toBe('first none none;');
    expect(chunks[0]!.at).toBeLessThan(300);
    expect(chunks.at(-1)!.at).toBeGreaterThanOrEqual(380);
  });

  it('passes a WebSocket upgrade through, both ways with half-close; serves other upgrade types and upgrades with a body as plain requests; passes back a refusal', async () => {
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => res.end(`plain upgrade=${req.headers.upgrade ?? 'none'} connection=${req.headers.connection ?? 'none'} body=${body}`));
    });
    const upgradedSockets = new Set<Socket>();
    let hungClosed = false;
    server.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
      // Upgraded sockets are no longer the HTTP server's: closeAllConnections() would not end them.
      upgradedSockets.add(socket);
      if (req.headers['x-hang']) {
        // An HTTP server's sockets are half-open capable: the end from the sidecar is answered by hand.
        socket.on('end', () => socket.end());
        socket.once('close', () => (hungClosed = true));
        socket.resume();
        return;
      }
      if (req.headers['x-refuse']) {
        socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 7\r\n\r\nrefused');
        return;
      }
      socket.allowHalfOpen = true;
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nx-seen-traceparent: ${req.headers.traceparent ? 'yes' : 'no'}\r\n\r\n`);
      if (head.length) socket.write(head.toString().toUpperCase());
      socket.on('data', (chunk: Buffer) => socket.write(chunk.toString().toUpperCase()));
      // Answers after the caller has finished sending: only works if the half-close came through as one.
      socket.on('end', () => setTimeout(() => socket.end('BYE'), 50));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const close = () =>
      new Promise<void>((resolve) => {
        for (const socket of upgradedSockets) socket.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      });
    backends.push({ port: (server.address() as AddressInfo).port, hits: 0, close });
    await apply(config(port, table({ clusters: [{ name: 'c', weight: 1 }] }), [cluster('c')], { c: assignment((server.address() as AddressInfo).port) }));

    type Outcome = { kind: 'upgraded'; headers: http.IncomingHttpHeaders; socket: Socket } | { kind: 'response'; status: number; body: string };
    const upgrade = (type: string, extra: Record<string, string> = {}, body?: string, method = 'GET') =>
      new Promise<Outcome>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, method, path: '/chat', headers: { host: 'svc.demo.mesh', connection: 'Upgrade, HTTP2-Settings', upgrade: type, 'http2-settings': 'AAMAAABkAAQAoAAAAAIAAAAA', ...extra } });
        req.on('upgrade', (res, socket) => resolve({ kind: 'upgraded', headers: res.headers, socket }));
        req.on('response', (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve({ kind: 'response', status: res.statusCode ?? 0, body: text }));
        });
        req.on('error', reject);
        req.end(body);
      });

    const upgraded = await upgrade('websocket');
    if (upgraded.kind !== 'upgraded') throw new Error(`not upgraded: ${JSON.stringify(upgraded)}`);
    expect(upgraded.headers['x-seen-traceparent']).toBe('yes');
    upgraded.socket.allowHalfOpen = true;
    let received = '';
    const ended = new Promise<void>((resolve) => upgraded.socket.once('end', resolve));
    upgraded.socket.on('data', (c: Buffer) => (received += c.toString()));
    upgraded.socket.write('ping');
    await expect.poll(() => received).toBe('PING');
    upgraded.socket.end();
    await ended;
    expect(received).toBe('PINGBYE');
    await expect.poll(() => entries.find((e) => e.path === '/chat' && e.status === 101)).toMatchObject({ bytes_received: 4, bytes_sent: 7, upstream_cluster: 'c' });

    // h2c (curl --http2, Java's HTTP client) is not taken here: the request is served as it would be without the upgrade.
    expect(await upgrade('h2c')).toEqual({ kind: 'response', status: 200, body: 'plain upgrade=none connection=keep-alive body=' });
    // So is an upgrade with a body, which reaches the application whole.
    expect(await upgrade('websocket', {}, 'hello', 'POST')).toEqual({ kind: 'response', status: 200, body: 'plain upgrade=none connection=keep-alive body=hello' });
    expect(await upgrade('websocket', { 'x-refuse': '1' })).toEqual({ kind: 'response', status: 400, body: 'refused' });

    // A caller that leaves before the answer takes the upstream attempt with it.
    const leaving = http.request({ host: '127.0.0.1', port, path: '/leave', headers: { host: 'svc.demo.mesh', connection: 'Upgrade', upgrade: 'websocket', 'x-hang': '1' } });
    leaving.on('error', () => undefined);
    leaving.end();
    await new Promise((resolve) => setTimeout(resolve, 200));
    leaving.destroy();
    await expect.poll(() => hungClosed, { timeout: 2_000 }).toBe(true);
    await expect.poll(() => entries.find((e) => e.path === '/leave')?.response_flags).toContain('DC');

    // The route timeout bounds the wait for the upgrade's answer.
    await apply(config(port, table({ clusters: [{ name: 'c', weight: 1 }], timeouts: { timeoutMs: 300 } }), [cluster('c')], { c: assignment((server.address() as AddressInfo).port) }));
    const started = performance.now();
    expect(await upgrade('websocket', { 'x-hang': '1' })).toMatchObject({ kind: 'response', status: 504 });
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('answers 503 UF when nothing listens, and 504 when the upstream is too slow', async () => {
    const slow = await backend((_req, res) => setTimeout(() => res.end('late'), 1_000));
    backends.push(slow);
    await apply(config(port, table({ clusters: [{ name: 'c', weight: 1 }] }), [cluster('c')], { c: assignment(1) }));
    expect((await get()).status).toBe(503);
    await expect.poll(() => entries.at(-1)?.response_flags).toContain('UF');

    await apply(config(port, table({ clusters: [{ name: 'c', weight: 1 }], timeouts: { timeoutMs: 200 } }), [cluster('c')], { c: assignment(slow.port) }));
    const started = performance.now();
    const result = await get();
    expect(result.status).toBe(504);
    expect(performance.now() - started).toBeLessThan(900);
  });

  it('rejects requests beyond max_requests at once with 503 and x-envoy-overloaded', async () => {
    const held: http.ServerResponse[] = [];
    const hold = await backend((_req, res) => held.push(res));
    backends.push(hold);
    await apply(config(port, table({ clusters: [{ name: 'c', weight: 1 }] }), [cluster('c', { circuitBreaker: { maxRequests: 2 } })], { c: assignment(hold.port) }));
    const pending = [get(), get()];
    await expect.poll(() => held.length).toBe(2);
    const rejected = await get();
    expect(rejected.status).toBe(503);
    expect(rejected.headers['x-envoy-overloaded']).toBe('true');
    for (const res of held) res.end('ok');
    expect((await Promise.all(pending)).map((r) => r.status)).toEqual([200, 200]);
  });

  it('lets max_pending_requests wait for a busy HTTP/1.1 connection and rejects the rest at once', async () => {
    const held: http.ServerResponse[] = [];
    const hold = await backend((_req, res) => held.push(res));
    backends.push(hold);
    await apply(config(port, table({ clusters: [{ name: 'p', weight: 1 }] }), [cluster('p', { circuitBreaker: { maxConnections: 1, maxPendingRequests: 1 } })], { p: assignment(hold.port) }));
    const first = get();
    await expect.poll(() => held.length).toBe(1);
    const waiting = get();
    await new Promise((r) => setTimeout(r, 50));
    const rejected = await get();
    expect(rejected.status).toBe(503);
    expect(rejected.body).toContain('pending');
    held[0]!.end('one');
    await expect.poll(() => held.length).toBe(2);
    held[1]!.end('two');
    expect([(await first).body, (await waiting).body]).toEqual(['one', 'two']);
  });

  it('ejects an endpoint after consecutive 5xx and stops sending it traffic', async () => {
    const bad = await backend((_req, res) => {
      res.writeHead(500);
      res.end();
    });
    const good = await backend((_req, res) => res.end('ok'));
    backends.push(bad, good);
    const outlier = { consecutive5xx: 3, intervalMs: 10_000, baseEjectionTimeMs: 30_000, maxEjectionPercent: 100 };
    await apply(config(port, table({ clusters: [{ name: 'o', weight: 1 }] }), [cluster('o', { outlierDetection: outlier })], { o: assignment(bad.port, good.port) }));
    for (let i = 0; i < 12; i++) await get();
    const badHits = bad.hits;
    expect(badHits).toBe(3);
    for (let i = 0; i < 10; i++) expect((await get()).status).toBe(200);
    expect(bad.hits).toBe(badHits);
  });

  it('speaks HTTP/2 upstream and downstream on the same port as HTTP/1.1, trailers included', async () => {
    const server = http2.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/grpc' });
      res.addTrailers({ 'grpc-status': '0', 'grpc-message': 'fine' });
      res.end(`h2 ${req.httpVersion}`);
    });
    const sessions = new Set<http2.ServerHttp2Session>();
    server.on('session', (session) => sessions.add(session));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    backends.push({
      port: 0,
      hits: 0,
      close: () => {
        // The sidecar keeps its upstream session open for reuse.
        for (const session of sessions) session.destroy();
        return new Promise((resolve) => server.close(() => resolve()));
      },
    });
    const h2port = (server.address() as AddressInfo).port;
    await apply(config(port, table({ clusters: [{ name: 'g', weight: 1 }] }), [cluster('g', { http2: true })], { g: assignment(h2port) }));

    const client = http2.connect(`http://127.0.0.1:${port}`);
    try {
      const stream = client.request({ ':method': 'POST', ':path': '/pkg.Svc/Call', ':authority': 'svc.demo.mesh', 'content-type': 'application/grpc', te: 'trailers' });
      stream.end('x');
      const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) => stream.on('trailers', resolve));
      let body = '';
      stream.on('data', (c: Buffer) => (body += c.toString()));
      const headers = await new Promise<http2.IncomingHttpHeaders>((resolve) => stream.on('response', resolve));
      await new Promise((resolve) => stream.on('end', resolve));
      expect(headers[':status']).toBe(200);
      expect(body).toBe('h2 2.0');
      expect((await trailers)['grpc-status']).toBe('0');
    } finally {
      client.close();
    }
    // And HTTP/1.1 on the same listener.
    expect((await get()).body).toBe('h2 2.0');
  });
});
