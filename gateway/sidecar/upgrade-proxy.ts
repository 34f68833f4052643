/**
 * An HTTP/1.1 upgrade (a WebSocket, say) through the sidecar, as Envoy's
 * `upgrade_configs` do it: access check (inbound), route, weighted cluster,
 * circuit breaker (the upgraded connection holds a request slot while it
 * lives), then one endpoint — others are tried while connecting fails, since
 * nothing reached the upstream yet — and the request sent with its Upgrade
 * headers, the route timeout bounding the wait for the answer. A 101 turns
 * the exchange into bytes piped both ways, half-closes passed on, until both
 * sides are done or the connection stays idle past the route's idle timeout
 * (Envoy's stream idle timeout, 5 min, without one). Any other answer is
 * passed back and the connection closed. A reset after the request was sent
 * is not retried. Which requests come here is HttpConnections' decision:
 * only those asking for an upgrade type the listener takes, without a body.
 */
import http, { STATUS_CODES, type IncomingMessage } from 'node:http';
import type net from 'node:net';
import { pickWeightedCluster, type Host, type OutlierOutcome } from '../lb/index.js';
import { childTraceparent } from '../observability/traceparent.js';
import { requestDeadline } from '../resilience/index.js';
import { tlsFor, type ClusterRuntime } from './cluster-set.js';
import { completeExchange, forwardedHeaders, headerValue, newExchange, type Exchange, type HttpProxyContext } from './http-proxy.js';
import { HOP_BY_HOP } from './upstream-attempt.js';
import { isConnected } from './upstream-pool.js';

/** What a caller may send before the upstream's answer that is kept for it (a WebSocket client waits for the 101). */
const EARLY_BYTES_LIMIT = 64 * 1024;

/** Envoy's HTTP connection manager stream_idle_timeout default, which upgraded streams are subject to. */
export const DEFAULT_UPGRADE_IDLE_TIMEOUT_MS = 300_000;

export interface UpgradeProxyContext extends HttpProxyContext {
  /** Endpoints tried while connecting fails. Default 3. */
  readonly connectAttempts?: number;
}

export async function proxyUpgrade(context: UpgradeProxyContext, request: IncomingMessage, downstream: net.Socket, head: Buffer): Promise<void> {
  const exchange = newExchange();
  const authority = String(request.headers.host ?? '');
  let status = 0;
  let bytesReceived = 0;
  // Read the caller's socket from the start, or its leaving would go unnoticed; what it sends
  // before the upstream's answer is kept for the upstream.
  // Past EARLY_BYTES_LIMIT the socket is paused instead (TCP holds the rest back).
  const early: Buffer[] = head.length ? [head] : [];
  let earlyBytes = head.length;
  const keepEarly = (chunk: Buffer) => {
    early.push(chunk);
    earlyBytes += chunk.length;
    if (earlyBytes > EARLY_BYTES_LIMIT) downstream.pause();
  };
  downstream.on('data', keepEarly);
  // Aborts the attempt in flight when the caller leaves before the upstream answers.
  const gone = new AbortController();
  downstream.once('close', () => {
    if (status === 0) exchange.flags.push('DC');
    gone.abort();
    completeExchange(context, request, exchange, authority, status, bytesReceived);
  });
  const reply = (code: number, message: string, extra: Record<string, string> = {}) => {
    status = code;
    localReply(downstream, code, message, extra);
  };

  if (context.access && !context.access.allows(context.principal)) {
    exchange.details = 'rbac_access_denied_matched_policy[none]';
    return reply(403, 'RBAC: access denied');
  }
  const headers = request.headers;
  const route = context.routes()?.select({ authority, path: request.url ?? '/', method: request.method ?? 'GET', header: (name) => headerValue(headers, name) });
  if (!route) {
    exchange.flags.push('NR');
    return reply(404, `no route for ${authority}${request.url ?? '/'}`);
  }
  const clusterName = pickWeightedCluster(route.clusters, (context.random ?? Math.random)());
  const cluster = clusterName ? context.clusters.get(clusterName) : undefined;
  exchange.cluster = clusterName ?? null;
  if (!cluster) {
    exchange.flags.push('NC');
    return reply(503, `no cluster ${clusterName ?? ''}`);
  }
  const admission = cluster.breaker.tryAcquire('requests');
  if (!admission.admitted) {
    exchange.flags.push('UO');
    context.observer.breakerRejected(cluster.name, 'requests');
    return reply(503, 'upstream overflow: circuit breaker open', { 'x-envoy-overloaded': 'true' });
  }
  downstream.once('close', () => admission.release());

  const trace = childTraceparent(headerValue(headers, 'traceparent'));
  exchange.traceId = trace.traceId;
  const upstreamHeaders = { ...forwardedHeaders(context, headers, trace.traceparent), host: authority, connection: 'Upgrade', upgrade: String(headers.upgrade) };
  const deadline = requestDeadline(exchange.startedAt, route.timeouts);
  const answer = await connectAndSend(context, cluster, request, upstreamHeaders, exchange, deadline, gone.signal);
  if (gone.signal.aborted) {
    if (answer.kind === 'upgraded') answer.socket.destroy();
    else if (answer.kind === 'response') answer.response.destroy();
    return;
  }
  switch (answer.kind) {
    case 'timeout':
      exchange.flags.push('UT');
      return reply(504, 'upstream request timeout');
    case 'reset':
      exchange.flags.push('UR');
      return reply(503, 'upstream reset after the request was sent');
    case 'failed':
      exchange.flags.push(exchange.host ? 'UF' : 'UH');
      return reply(503, exchange.host ? 'upstream connect error or disconnect/reset before headers' : 'no healthy upstream');
    case 'response':
      // Not upgraded: the upstream's answer goes back as is, and the connection ends with it
      // (anything the caller sent meanwhile was meant for a protocol that did not start).
      status = answer.response.statusCode ?? 502;
      downstream.off('data', keepEarly);
      early.length = 0;
      downstream.resume();
      downstream.write(responseHead(status, answer.response.statusMessage, answer.response.rawHeaders, true));
      downstream.once('close', () => answer.response.destroy());
      pipeCounted(answer.response, downstream, (n) => (exchange.bytesSent += n));
      answer.response.once('end', () => downstream.end());
      answer.response.once('error', () => downstream.destroy());
      return;
    case 'upgraded':
      status = 101;
      downstream.write(responseHead(101, answer.response.statusMessage, answer.response.rawHeaders, false));
      if (answer.head.length) {
        exchange.bytesSent += answer.head.length;
        downstream.write(answer.head);
      }
      downstream.off('data', keepEarly);
      for (const chunk of early) {
        bytesReceived += chunk.length;
        answer.socket.write(chunk);
      }
      tunnel(downstream, answer.socket, route.idleTimeoutMs ?? DEFAULT_UPGRADE_IDLE_TIMEOUT_MS, {
        received: (n) => (bytesReceived += n),
        sent: (n) => (exchange.bytesSent += n),
      });
  }
}

/** `from` into `to` with back-pressure, counting the bytes. */
function pipeCounted(from: NodeJS.ReadableStream, to: net.Socket, count: (bytes: number) => void): void {
  from.on('data', (chunk: Buffer) => {
    count(chunk.length);
    if (!to.write(chunk)) {
      from.pause();
      to.once('drain', () => from.resume());
    }
  });
}

/**
 * Bytes both ways between the caller and the upstream. A side that ends
 * its writing (a WebSocket close may go one way first) has that passed on
 * while the other keeps talking; an error, or `idleMs` without a byte
 * either way, ends both at once.
 */
function tunnel(downstream: net.Socket, upstream: net.Socket, idleMs: number, counts: { received: (n: number) => void; sent: (n: number) => void }): void {
  const cut = () => {
    downstream.destroy();
    upstream.destroy();
  };
  for (const socket of [downstream, upstream]) {
    socket.allowHalfOpen = true;
    if (idleMs > 0) socket.setTimeout(idleMs, cut);
  }
  pipeCounted(upstream, downstream, counts.sent);
  pipeCounted(downstream, upstream, counts.received);
  upstream.once('end', () => downstream.end());
  downstream.once('end', () => upstream.end());
  upstream.on('error', () => downstream.destroy());
  downstream.on('error', () => upstream.destroy());
  // A side gone for good: the other first writes out what it still holds, then closes.
  upstream.once('close', () => downstream.destroySoon());
  downstream.once('close', () => upstream.destroySoon());
  downstream.resume();
}

type UpgradeAnswer =
  | { readonly kind: 'upgraded'; readonly response: IncomingMessage; readonly socket: net.Socket; readonly head: Buffer }
  | { readonly kind: 'response'; readonly response: IncomingMessage }
  /** Could not connect: another endpoint may be tried. */
  | { readonly kind: 'failed'; readonly error: string }
  /** Connected and sent, then reset before an answer: not retried. */
  | { readonly kind: 'reset'; readonly error: string }
  | { readonly kind: 'timeout' };

/** Sends the upgrade request to an endpoint, moving to another while connecting fails. */
async function connectAndSend(
  context: UpgradeProxyContext,
  cluster: ClusterRuntime,
  request: IncomingMessage,
  headers: http.OutgoingHttpHeaders,
  exchange: Exchange,
  deadline: number,
  signal: AbortSignal,
): Promise<UpgradeAnswer> {
  const tried = new Set<string>();
  let last: UpgradeAnswer = { kind: 'failed', error: 'no attempt made' };
  for (let attempt = 0; attempt < (context.connectAttempts ?? 3) && !signal.aborted; attempt++) {
    const host = cluster.picker.pick(tried);
    if (!host) return last;
    tried.add(host.key);
    exchange.host = host;
    exchange.attempts += 1;
    last = await sendOnce(cluster, host, request, headers, deadline - performance.now(), signal);
    // The caller leaving says nothing about the endpoint.
    if (signal.aborted) return last;
    const ejection = cluster.outlier?.record(host.key, outlierOutcome(last));
    if (ejection) context.observer.ejected(cluster.name, ejection);
    if (last.kind !== 'failed') return last;
  }
  return last;
}

function outlierOutcome(answer: UpgradeAnswer): OutlierOutcome {
  if (answer.kind === 'failed') return { kind: 'connect-failure' };
  if (answer.kind === 'reset') return { kind: 'reset' };
  if (answer.kind === 'timeout') return { kind: 'timeout' };
  return { kind: 'response', status: answer.kind === 'upgraded' ? 101 : (answer.response.statusCode ?? 502) };
}

function sendOnce(cluster: ClusterRuntime, host: Host, request: IncomingMessage, headers: http.OutgoingHttpHeaders, timeoutMs: number, signal: AbortSignal): Promise<UpgradeAnswer> {
  const tls = tlsFor(cluster.settings, host);
  return new Promise((resolve) => {
    if (timeoutMs <= 0) return resolve({ kind: 'timeout' });
    let upstream: http.ClientRequest;
    try {
      upstream = http.request({
        createConnection: () => cluster.pool.connect(host.endpoint, tls, tls ? ['http/1.1'] : undefined),
        method: request.method ?? 'GET',
        path: request.url ?? '/',
        headers,
        setHost: false,
      });
    } catch (error) {
      resolve({ kind: 'failed', error: (error as Error).message });
      return;
    }
    const stop = () => upstream.destroy();
    const timer = Number.isFinite(timeoutMs)
      ? setTimeout(() => {
          resolve({ kind: 'timeout' });
          stop();
        }, timeoutMs)
      : undefined;
    signal.addEventListener('abort', stop, { once: true });
    const settle = (answer: UpgradeAnswer) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', stop);
      resolve(answer);
    };
    upstream.once('upgrade', (response: IncomingMessage, socket: net.Socket, head: Buffer) => settle({ kind: 'upgraded', response, socket, head }));
    upstream.once('response', (response: IncomingMessage) => settle({ kind: 'response', response }));
    upstream.once('error', (error: NodeJS.ErrnoException) => {
      const reason = error.code ?? error.message;
      settle(upstream.socket && isConnected(upstream.socket) ? { kind: 'reset', error: reason } : { kind: 'failed', error: reason });
    });
    upstream.end();
  });
}

/**
 * An HTTP/1.1 status line and the upstream's headers. `closing` (an answer
 * that is not an upgrade): the body is delimited by the connection's end,
 * so framing and hop-by-hop headers are dropped. On 101, Connection and
 * Upgrade are the answer itself and stay; the other hop-by-hop ones do not.
 */
function responseHead(status: number, message: string | undefined, rawHeaders: readonly string[], closing: boolean): string {
  let text = `HTTP/1.1 ${status} ${message || STATUS_CODES[status] || ''}\r\n`;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const lower = name.toLowerCase();
    const keep = closing ? !HOP_BY_HOP.has(lower) && lower !== 'content-length' : lower === 'connection' || lower === 'upgrade' || !HOP_BY_HOP.has(lower);
    if (keep) text += `${name}: ${rawHeaders[i + 1]!}\r\n`;
  }
  return `${text}${closing ? 'connection: close\r\n' : ''}\r\n`;
}

function localReply(socket: net.Socket, status: number, message: string, extra: Record<string, string>): void {
  const text = `${message}\n`;
  const lines = Object.entries(extra).map(([name, value]) => `${name}: ${value}\r\n`);
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n${lines.join('')}\r\n${text}`);
}
