/**
 * An HTTP/1.1 upgrade (a WebSocket, say) through the sidecar, as Envoy's
 * `upgrade_configs` do it: access check (inbound), route, weighted cluster,
 * circuit breaker (the upgraded connection holds a request slot while it
 * lives), then one endpoint — others are tried while connecting fails, since
 * nothing reached the upstream yet — and the request sent with its Upgrade
 * headers. A 101 answer turns the exchange into bytes piped both ways until
 * either side closes; any other answer is passed back and the connection
 * closed. An upgrade type the listener does not enable gets 403, Envoy's
 * `upgrade_failed`. Upgrades are never retried after the request was sent.
 */
import http, { STATUS_CODES, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type net from 'node:net';
import { pickWeightedCluster, type Host, type OutlierOutcome } from '../lb/index.js';
import { childTraceparent } from '../observability/traceparent.js';
import { requestDeadline } from '../resilience/index.js';
import { tlsFor, type ClusterRuntime } from './cluster-set.js';
import { completeExchange, forwardedHeaders, headerValue, newExchange, type Exchange, type HttpProxyContext } from './http-proxy.js';
import { HOP_BY_HOP } from './upstream-attempt.js';

export interface UpgradeProxyContext extends HttpProxyContext {
  /** Upgrade types the listener enables, lowercase (`websocket`). */
  readonly upgrades: ReadonlySet<string>;
  /** Endpoints tried while connecting fails. Default 3. */
  readonly connectAttempts?: number;
}

/** The upgrade type a request asks for, lowercase; undefined when it asks for none. Pure. */
export function requestedUpgrade(headers: IncomingHttpHeaders): string | undefined {
  const connection = headerValue(headers, 'connection');
  const upgrade = headerValue(headers, 'upgrade');
  if (!upgrade || !connection?.split(',').some((token) => token.trim().toLowerCase() === 'upgrade')) return undefined;
  return upgrade.trim().toLowerCase();
}

export async function proxyUpgrade(context: UpgradeProxyContext, request: IncomingMessage, downstream: net.Socket, head: Buffer): Promise<void> {
  const exchange = newExchange();
  const authority = String(request.headers.host ?? '');
  let status = 0;
  let bytesReceived = head.length;
  downstream.once('close', () => completeExchange(context, request, exchange, authority, status, bytesReceived));
  const reply = (code: number, message: string, extra: Record<string, string> = {}) => {
    status = code;
    localReply(downstream, code, message, extra);
  };

  if (context.access && !context.access.allows(context.principal)) {
    exchange.details = 'rbac_access_denied_matched_policy[none]';
    return reply(403, 'RBAC: access denied');
  }
  const upgrade = requestedUpgrade(request.headers);
  if (!upgrade || !context.upgrades.has(upgrade)) {
    exchange.details = 'upgrade_failed';
    return reply(403, `upgrade ${upgrade ?? '(none)'} is not enabled on this listener`);
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
  // The route timeout bounds the wait for the upstream's answer; an upgraded connection then lives as long as both sides keep it.
  const answer = await connectAndSend(context, cluster, request, upstreamHeaders, exchange, requestDeadline(exchange.startedAt, route.timeouts));
  if (downstream.destroyed) {
    if (answer.kind === 'upgraded') answer.socket.destroy();
    else if (answer.kind === 'response') answer.response.destroy();
    return;
  }
  if (answer.kind === 'timeout') {
    exchange.flags.push('UT');
    return reply(504, 'upstream request timeout');
  }
  if (answer.kind === 'failed') {
    exchange.flags.push(exchange.host ? 'UF' : 'UH');
    return reply(503, exchange.host ? 'upstream connect error or disconnect/reset before headers' : 'no healthy upstream');
  }
  if (answer.kind === 'response') {
    // Not upgraded: the upstream's answer goes back as is, and the connection ends with it.
    status = answer.response.statusCode ?? 502;
    downstream.write(responseHead(status, answer.response.statusMessage, answer.response.rawHeaders, true));
    answer.response.on('data', (chunk: Buffer) => {
      exchange.bytesSent += chunk.length;
      downstream.write(chunk);
    });
    answer.response.once('end', () => downstream.end());
    answer.response.once('error', () => downstream.destroy());
    return;
  }
  status = 101;
  const upstream = answer.socket;
  downstream.write(responseHead(101, answer.response.statusMessage, answer.response.rawHeaders, false));
  if (answer.head.length) {
    exchange.bytesSent += answer.head.length;
    downstream.write(answer.head);
  }
  if (head.length) upstream.write(head);
  upstream.on('data', (chunk: Buffer) => {
    exchange.bytesSent += chunk.length;
    if (!downstream.write(chunk)) {
      upstream.pause();
      downstream.once('drain', () => upstream.resume());
    }
  });
  downstream.on('data', (chunk: Buffer) => {
    bytesReceived += chunk.length;
    if (!upstream.write(chunk)) {
      downstream.pause();
      upstream.once('drain', () => downstream.resume());
    }
  });
  // A half-close is passed on (a WebSocket close handshake may end one way first).
  upstream.once('end', () => downstream.end());
  downstream.once('end', () => upstream.end());
  upstream.once('close', () => downstream.destroy());
  downstream.once('close', () => upstream.destroy());
  upstream.on('error', () => undefined);
  downstream.resume();
}

type UpgradeAnswer =
  | { readonly kind: 'upgraded'; readonly response: IncomingMessage; readonly socket: net.Socket; readonly head: Buffer }
  | { readonly kind: 'response'; readonly response: IncomingMessage }
  | { readonly kind: 'failed'; readonly error: string }
  | { readonly kind: 'timeout' };

/** Sends the upgrade request to an endpoint, moving to another while connecting fails. */
async function connectAndSend(context: UpgradeProxyContext, cluster: ClusterRuntime, request: IncomingMessage, headers: http.OutgoingHttpHeaders, exchange: Exchange, deadline: number): Promise<UpgradeAnswer> {
  const tried = new Set<string>();
  let last: UpgradeAnswer = { kind: 'failed', error: 'no attempt made' };
  for (let attempt = 0; attempt < (context.connectAttempts ?? 3); attempt++) {
    const host = cluster.picker.pick(tried);
    if (!host) return last;
    tried.add(host.key);
    exchange.host = host;
    exchange.attempts += 1;
    last = await sendOnce(cluster, host, request, headers, deadline - performance.now());
    const ejection = cluster.outlier?.record(host.key, outlierEvent(last));
    if (ejection) context.observer.ejected(cluster.name, ejection);
    if (last.kind !== 'failed') return last;
  }
  return last;
}

function outlierEvent(answer: UpgradeAnswer): OutlierOutcome {
  if (answer.kind === 'failed') return { kind: 'connect-failure' };
  if (answer.kind === 'timeout') return { kind: 'timeout' };
  return { kind: 'response', status: answer.kind === 'upgraded' ? 101 : (answer.response.statusCode ?? 502) };
}

function sendOnce(cluster: ClusterRuntime, host: Host, request: IncomingMessage, headers: http.OutgoingHttpHeaders, timeoutMs: number): Promise<UpgradeAnswer> {
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
    const timer = Number.isFinite(timeoutMs)
      ? setTimeout(() => {
          resolve({ kind: 'timeout' });
          upstream.destroy();
        }, timeoutMs)
      : undefined;
    const settle = (answer: UpgradeAnswer) => {
      clearTimeout(timer);
      resolve(answer);
    };
    upstream.once('upgrade', (response: IncomingMessage, socket: net.Socket, head: Buffer) => settle({ kind: 'upgraded', response, socket, head }));
    upstream.once('response', (response: IncomingMessage) => settle({ kind: 'response', response }));
    upstream.once('error', (error: NodeJS.ErrnoException) => settle({ kind: 'failed', error: error.code ?? error.message }));
    upstream.end();
  });
}

/** An HTTP/1.1 status line and headers; `closing`: the body is delimited by the connection's end (framing headers dropped). */
function responseHead(status: number, message: string | undefined, rawHeaders: readonly string[], closing: boolean): string {
  let text = `HTTP/1.1 ${status} ${message || STATUS_CODES[status] || ''}\r\n`;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const lower = name.toLowerCase();
    // On 101, Connection and Upgrade are the answer itself; otherwise hop-by-hop headers stay on their hop.
    if (closing ? HOP_BY_HOP.has(lower) || lower === 'content-length' : lower !== 'connection' && lower !== 'upgrade' && HOP_BY_HOP.has(lower)) continue;
    text += `${name}: ${rawHeaders[i + 1]!}\r\n`;
  }
  return `${text}${closing ? 'connection: close\r\n' : ''}\r\n`;
}

function localReply(socket: net.Socket, status: number, message: string, extra: Record<string, string>): void {
  const text = `${message}\n`;
  const lines = Object.entries(extra).map(([name, value]) => `${name}: ${value}\r\n`);
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n${lines.join('')}\r\n${text}`);
}
