/**
 * One HTTP request through the sidecar, as Envoy's router handles it:
 * access check (inbound), route, weighted cluster, circuit breaker, then
 * attempts — endpoint by locality/priority avoiding those already tried,
 * per-try timeout, retry on the route's conditions with jittered back-off
 * within the retry budget and the request deadline — and the response
 * streamed back with its trailers. Every request ends in one access-log
 * entry and its metrics, whatever happened.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { sleep } from '../../core/sleep.js';
import type { AccessPolicy, RequestFacts, RouteAction, RouteTable } from '../config/model.js';
import { endpointKey, pickWeightedCluster, type Ejection, type Host } from '../lb/index.js';
import type { AccessLogEntry, ResponseFlag } from '../observability/access-log.js';
import { childTraceparent } from '../observability/traceparent.js';
import { attemptTimeoutMs, backoffMs, requestDeadline, retryStartsInTime, shouldRetry, type AttemptOutcome, type BreakerResource } from '../resilience/index.js';
import { tlsFor, zoneOf, type ClusterRuntime, type ClusterSet } from './cluster-set.js';
import { ReplayableBody } from './replayable-body.js';
import { endToEndHeaders, sendHttp1, sendHttp2, type AttemptResult, type UpstreamRequest, type UpstreamResponse } from './upstream-attempt.js';

export type DownstreamRequest = IncomingMessage | Http2ServerRequest;
export type DownstreamResponse = ServerResponse | Http2ServerResponse;

export interface RequestObserver {
  completed(entry: AccessLogEntry): void;
  retried(cluster: string): void;
  breakerRejected(cluster: string, resource: BreakerResource): void;
  ejected(cluster: string, ejection: Ejection): void;
}

export interface HttpProxyContext {
  readonly direction: 'inbound' | 'outbound';
  readonly listener: string;
  /** The route table in force now (RDS may replace it between requests). */
  routes(): RouteTable | undefined;
  readonly clusters: ClusterSet;
  /** Inbound: TrafficPermission on the peer. */
  readonly access?: AccessPolicy;
  /** Inbound: the peer's verified SPIFFE ID. */
  readonly principal?: string;
  /** This sidecar's SPIFFE ID (for x-forwarded-client-cert). */
  localSpiffeId(): string | undefined;
  readonly observer: RequestObserver;
  /** Request body bytes kept for retries; a longer body is sent once. */
  readonly replayLimitBytes: number;
  readonly random?: () => number;
}

/** Headers the sidecar sets itself: a caller's values are never trusted. */
const CALLER_CANNOT_SET: ReadonlySet<string> = new Set(['x-forwarded-client-cert']);

/** What the access-log entry of one request is built from, filled in as the request goes. */
export interface Exchange {
  readonly startedAt: number;
  readonly startTime: string;
  flags: ResponseFlag[];
  details: string | null;
  cluster: string | null;
  host: Host | undefined;
  attempts: number;
  bytesSent: number;
  traceId: string | null;
  finished: boolean;
}

export function newExchange(): Exchange {
  return { startedAt: performance.now(), startTime: new Date().toISOString(), flags: [], details: null, cluster: null, host: undefined, attempts: 0, bytesSent: 0, traceId: null, finished: false };
}

export async function proxyHttpRequest(context: HttpProxyContext, request: DownstreamRequest, response: DownstreamResponse): Promise<void> {
  const exchange = newExchange();
  const headers = request.headers as IncomingHttpHeaders;
  const authority = String(headers[':authority'] ?? headers.host ?? '');
  const path = request.url ?? '/';
  const method = request.method ?? 'GET';
  let body: ReplayableBody | undefined;
  response.once('close', () => {
    if (!response.writableFinished) exchange.flags.push('DC');
    complete(context, request, response, exchange, authority, body?.bytesReceived() ?? 0);
  });

  if (context.access && !context.access.allows(context.principal)) {
    exchange.details = 'rbac_access_denied_matched_policy[none]';
    return localReply(response, 403, 'RBAC: access denied');
  }
  const facts: RequestFacts = { authority, path, method, header: (name) => headerValue(headers, name) };
  const route = context.routes()?.select(facts);
  if (!route) {
    exchange.flags.push('NR');
    return localReply(response, 404, `no route for ${authority}${path}`);
  }
  const clusterName = pickWeightedCluster(route.clusters, (context.random ?? Math.random)());
  const cluster = clusterName ? context.clusters.get(clusterName) : undefined;
  exchange.cluster = clusterName ?? null;
  if (!cluster) {
    exchange.flags.push('NC');
    return localReply(response, 503, `no cluster ${clusterName ?? ''}`);
  }
  const admission = cluster.breaker.tryAcquire('requests');
  if (!admission.admitted) {
    exchange.flags.push('UO');
    context.observer.breakerRejected(cluster.name, 'requests');
    return localReply(response, 503, 'upstream overflow: circuit breaker open', { 'x-envoy-overloaded': 'true' });
  }
  // HTTP/1.1 carries one request per connection: beyond max_connections busy ones, a request waits
  // for a connection, and only max_pending_requests may wait. (HTTP/2 multiplexes: nothing waits.)
  let pending: { release(): void } | undefined;
  if (!cluster.settings.http2 && cluster.breaker.inUse('requests') > cluster.breaker.limit('connections')) {
    const slot = cluster.breaker.tryAcquire('pending-requests');
    if (!slot.admitted) {
      admission.release();
      exchange.flags.push('UO');
      context.observer.breakerRejected(cluster.name, 'pending-requests');
      return localReply(response, 503, 'upstream overflow: too many pending requests', { 'x-envoy-overloaded': 'true' });
    }
    pending = slot;
  }
  try {
    const trace = childTraceparent(headerValue(headers, 'traceparent'));
    exchange.traceId = trace.traceId;
    const upstreamHeaders = forwardedHeaders(context, headers, trace.traceparent);
    body = new ReplayableBody(request.readableEnded || hasNoBody(request) ? undefined : request, context.replayLimitBytes);
    const upstreamRequest: UpstreamRequest = { method, path, authority, headers: upstreamHeaders, body };
    const deadline = requestDeadline(exchange.startedAt, route.timeouts);
    const result = await attempts(context, cluster, route, upstreamRequest, exchange, request, deadline, () => pending?.release());
    if (response.destroyed || response.writableEnded) {
      if (result.kind === 'response') result.abort();
      return;
    }
    if (result.kind === 'response') await forwardResponse(response, result, exchange, deadline);
    else failureReply(response, result.kind, exchange);
  } finally {
    pending?.release();
    admission.release();
  }
}

/** Attempts until one is final: a response not to retry, or no retry left. */
async function attempts(
  context: HttpProxyContext,
  cluster: ClusterRuntime,
  route: RouteAction,
  request: UpstreamRequest,
  exchange: Exchange,
  downstream: DownstreamRequest,
  /** The route's deadline for the whole request, retries included. */
  deadline: number,
  /** Called when the first attempt has its answer: the request no longer waits for a connection. */
  started: () => void,
): Promise<AttemptResult> {
  const retry = route.retry;
  const tried = new Set<string>();
  let aborted = false;
  downstream.once('aborted', () => (aborted = true));
  let result: AttemptResult = { kind: 'connect-failure', error: 'no attempt made' };
  for (let attempt = 0; ; attempt++) {
    const host = cluster.picker.pick(tried);
    if (!host) {
      exchange.flags.push('UH');
      return { kind: 'connect-failure', error: 'no healthy upstream' };
    }
    tried.add(host.key);
    exchange.host = host;
    exchange.attempts += 1;
    const timeoutMs = attemptTimeoutMs(deadline, performance.now(), route.timeouts);
    result = await sendAttempt(cluster, host, request, timeoutMs);
    started();
    recordOutlier(context, cluster, host, result);
    if (aborted) return result;
    const outcome = attemptOutcome(result);
    if (!retry || !shouldRetry(retry.conditions, outcome)) return result;
    if (attempt >= retry.numRetries) {
      exchange.flags.push('URX');
      return result;
    }
    if (!request.body.replayable()) return result;
    const pause = backoffMs(attempt, retry.backoffBaseMs, retry.backoffMaxMs, (context.random ?? Math.random)());
    if (!retryStartsInTime(deadline, performance.now(), pause)) return result;
    const retrySlot = cluster.breaker.tryAcquire('retries');
    if (!retrySlot.admitted) {
      context.observer.breakerRejected(cluster.name, 'retries');
      return result;
    }
    try {
      if (result.kind === 'response') result.abort();
      context.observer.retried(cluster.name);
      await sleep(pause);
    } finally {
      retrySlot.release();
    }
  }
}

function sendAttempt(cluster: ClusterRuntime, host: Host, request: UpstreamRequest, timeoutMs: number): Promise<AttemptResult> {
  const tls = tlsFor(cluster.settings, host);
  const endpoint = host.endpoint;
  try {
    if (cluster.settings.http2) return sendHttp2(request, { session: cluster.pool.http2Session(endpoint, tls), timeoutMs, scheme: tls ? 'https' : 'http' });
    return sendHttp1(request, { agent: cluster.pool.http1Agent(endpoint, tls), host: endpoint.address, port: endpoint.port, timeoutMs });
  } catch (error) {
    return Promise.resolve({ kind: 'connect-failure', error: (error as Error).message });
  }
}

function attemptOutcome(result: AttemptResult): AttemptOutcome {
  if (result.kind === 'response') return { kind: 'response', status: result.status, ...(result.grpcStatus !== undefined ? { grpcStatus: result.grpcStatus } : {}) };
  return { kind: result.kind };
}

function recordOutlier(context: HttpProxyContext, cluster: ClusterRuntime, host: Host, result: AttemptResult): void {
  if (!cluster.outlier) return;
  const ejection = cluster.outlier.record(
    host.key,
    result.kind === 'response' ? { kind: 'response', status: result.status } : result.kind === 'per-try-timeout' ? { kind: 'timeout' } : { kind: result.kind },
  );
  if (ejection) context.observer.ejected(cluster.name, ejection);
}

/** The request's end-to-end headers as sent upstream: trace context, request id and (inbound) the caller's identity set by the sidecar. */
export function forwardedHeaders(context: HttpProxyContext, headers: IncomingHttpHeaders, traceparent: string): OutgoingHttpHeaders {
  const out = endToEndHeaders(headers, CALLER_CANNOT_SET);
  out.traceparent = traceparent;
  out['x-request-id'] ??= randomUUID();
  if (context.direction === 'inbound' && context.principal) {
    const by = context.localSpiffeId();
    out['x-forwarded-client-cert'] = `${by ? `By=${by};` : ''}URI=${context.principal}`;
  }
  return out;
}

/** Streams the upstream response downstream, trailers included; the route deadline still bounds the body. */
async function forwardResponse(response: DownstreamResponse, upstream: UpstreamResponse, exchange: Exchange, deadline: number): Promise<void> {
  const headers = endToEndHeaders(upstream.headers);
  (response as ServerResponse).writeHead(upstream.status, headers as Record<string, string | string[]>);
  const remaining = deadline - performance.now();
  const timer = Number.isFinite(remaining)
    ? setTimeout(() => {
        exchange.flags.push('UT');
        upstream.abort();
        response.destroy();
      }, Math.max(0, remaining))
    : undefined;
  response.once('close', () => {
    clearTimeout(timer);
    if (!upstream.body.readableEnded) upstream.abort();
  });
  let corked = false;
  await new Promise<void>((resolve) => {
    upstream.body.on('data', (chunk: Buffer) => {
      exchange.bytesSent += chunk.length;
      if (!corked) {
        corked = true;
        holdWritesForThisTurn(response);
      }
      if (!(response as ServerResponse).write(chunk)) {
        upstream.body.pause();
        response.once('drain', () => upstream.body.resume());
      }
    });
    upstream.body.once('end', () => {
      void upstream.trailers.then((trailers) => {
        clearTimeout(timer);
        const forwarded = endToEndHeaders(trailers);
        if (Object.keys(forwarded).length > 0) (response as ServerResponse).addTrailers(forwarded);
        response.end();
        resolve();
      });
    });
    upstream.body.once('error', () => {
      clearTimeout(timer);
      exchange.flags.push('UR');
      response.destroy();
      resolve();
    });
    upstream.body.once('close', () => {
      if (!upstream.body.readableEnded && !response.writableEnded) {
        exchange.flags.push('UC');
        response.destroy();
      }
      resolve();
    });
  });
}

/**
 * Lets the head, a body that came in the same read and the end leave in one
 * write: Node flushes a response on the next tick, before the upstream's
 * 'end' arrives, so the end would be a write (a TLS record and a syscall) of
 * its own. `end()` uncorks fully; a streaming body is flushed at the end of
 * this event-loop turn. (An HTTP/2 response corks its stream the same way.)
 */
function holdWritesForThisTurn(response: DownstreamResponse): void {
  response.cork();
  setImmediate(() => response.uncork());
}

/**
 * A request that says it has no body (HTTP/1.1: neither Content-Length nor
 * Transfer-Encoding, RFC 9112 §6.3; HTTP/2: END_STREAM on its headers) is
 * sent upstream complete at once instead of after its 'end' event.
 */
export function hasNoBody(request: DownstreamRequest): boolean {
  if ('stream' in request) return request.stream.endAfterHeaders;
  const headers = request.headers;
  return headers['transfer-encoding'] === undefined && (headers['content-length'] === undefined || headers['content-length'] === '0');
}

function failureReply(response: DownstreamResponse, kind: 'connect-failure' | 'reset' | 'per-try-timeout', exchange: Exchange): void {
  if (kind === 'per-try-timeout') {
    exchange.flags.push('UT');
    return localReply(response, 504, 'upstream request timeout');
  }
  if (!exchange.flags.includes('UH')) exchange.flags.push(kind === 'connect-failure' ? 'UF' : 'UR');
  localReply(response, 503, exchange.flags.includes('UH') ? 'no healthy upstream' : 'upstream connect error or disconnect/reset before headers');
}

function localReply(response: DownstreamResponse, status: number, message: string, extra: Record<string, string> = {}): void {
  if (response.headersSent || response.destroyed) {
    response.destroy();
    return;
  }
  const text = `${message}\n`;
  (response as ServerResponse).writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text), ...extra });
  response.end(text);
}

function complete(context: HttpProxyContext, request: DownstreamRequest, response: DownstreamResponse, exchange: Exchange, authority: string, bytesReceived: number): void {
  completeExchange(context, request, exchange, authority, response.headersSent ? response.statusCode : 0, bytesReceived);
}

/** Reports the request once (access log and metrics), whatever ended it. */
export function completeExchange(context: HttpProxyContext, request: DownstreamRequest, exchange: Exchange, authority: string, status: number, bytesReceived: number): void {
  if (exchange.finished) return;
  exchange.finished = true;
  context.observer.completed({
    start_time: exchange.startTime,
    duration_ms: Math.round((performance.now() - exchange.startedAt) * 1000) / 1000,
    method: request.method ?? '',
    path: request.url ?? '',
    protocol: request.httpVersion === '2.0' ? 'HTTP/2' : request.httpVersion === '1.0' ? 'HTTP/1.0' : 'HTTP/1.1',
    authority: authority || null,
    status,
    response_flags: exchange.flags,
    response_code_details: exchange.details,
    bytes_received: bytesReceived,
    bytes_sent: exchange.bytesSent,
    upstream_cluster: exchange.cluster,
    upstream_host: exchange.host ? endpointKey(exchange.host.endpoint) : null,
    upstream_zone: exchange.host ? zoneOf(exchange.host) || null : null,
    attempts: exchange.attempts,
    trace_id: exchange.traceId,
    source_principal: context.principal ?? null,
    direction: context.direction,
    listener: context.listener,
  });
}

export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}
