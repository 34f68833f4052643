/**
 * One attempt of a request to one upstream endpoint, over HTTP/1.1 or
 * HTTP/2, and how it ended in the terms retries and outlier detection use.
 * Connection reuse is the pool's (upstream-pool.ts); this module only sends.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import http from 'node:http';
import http2 from 'node:http2';
import type { Readable } from 'node:stream';
import { grpcStatusOf } from '../resilience/index.js';
import type { ReplayableBody } from './replayable-body.js';
import { isConnected } from './upstream-pool.js';

export interface UpstreamRequest {
  readonly method: string;
  readonly path: string;
  readonly authority: string;
  /** Already cleaned of hop-by-hop headers; no pseudo-headers. */
  readonly headers: OutgoingHttpHeaders;
  readonly body: ReplayableBody;
}

export interface UpstreamResponse {
  readonly kind: 'response';
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly grpcStatus?: number;
  readonly body: Readable;
  /** Resolves with the trailers (possibly empty) once the body has ended. */
  readonly trailers: Promise<IncomingHttpHeaders>;
  /** Aborts the response (downstream went away, or a retry discards it). */
  abort(): void;
}

export type AttemptFailure = { readonly kind: 'connect-failure' | 'reset' | 'per-try-timeout'; readonly error: string };
export type AttemptResult = UpstreamResponse | AttemptFailure;

/** Hop-by-hop headers (RFC 9110 §7.6.1) and HTTP/2-forbidden ones: never forwarded. */
export const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'http2-settings', 'host']);

/**
 * Headers of `headers` that may cross a hop (also the names listed in
 * `Connection`), pseudo-headers and the names in `drop` left out. Pure.
 * (Left out while copying: deleting a property afterwards would turn the
 * object into a slow dictionary for everything that reads it next.)
 */
export function endToEndHeaders(headers: IncomingHttpHeaders, drop?: ReadonlySet<string>): OutgoingHttpHeaders {
  const listed = headers.connection
    ? new Set(
        String(headers.connection)
          .split(',')
          .map((v) => v.trim().toLowerCase())
          .filter(Boolean),
      )
    : undefined;
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || name.charCodeAt(0) === 58 /* ':' */ || HOP_BY_HOP.has(name) || listed?.has(name) || drop?.has(name)) continue;
    out[name] = value;
  }
  // gRPC needs `te: trailers` end to end; it is the one value HTTP/2 allows.
  if (headers.te === 'trailers') out.te = 'trailers';
  return out;
}

export interface Http1AttemptOptions {
  readonly agent: http.Agent;
  readonly host: string;
  readonly port: number;
  /** No response headers within this: the attempt is abandoned as a per-try timeout. */
  readonly timeoutMs: number;
}

/** Sends the request over HTTP/1.1 through a keep-alive agent (plain or TLS, as the agent connects). */
export function sendHttp1(request: UpstreamRequest, options: Http1AttemptOptions): Promise<AttemptResult> {
  return new Promise((resolve) => {
    let settled = false;
    const timers: NodeJS.Timeout[] = [];
    const settle = (result: AttemptResult) => {
      if (settled) return;
      settled = true;
      for (const timer of timers) clearTimeout(timer);
      resolve(result);
    };
    const upstream = http.request({
      agent: options.agent,
      host: options.host,
      port: options.port,
      method: request.method,
      path: request.path,
      headers: { ...request.headers, host: request.authority },
      setHost: false,
    });
    const fail = (kind: AttemptFailure['kind'], error: string) => {
      request.body.detach();
      upstream.destroy();
      settle({ kind, error });
    };
    if (Number.isFinite(options.timeoutMs)) timers.push(setTimeout(() => fail('per-try-timeout', `no response within ${options.timeoutMs} ms`), options.timeoutMs));
    upstream.on('error', (error: NodeJS.ErrnoException) => fail(upstream.socket && isConnected(upstream.socket) ? 'reset' : 'connect-failure', error.code ?? error.message));
    upstream.on('response', (response) => {
      const trailers = new Promise<IncomingHttpHeaders>((resolveTrailers) => {
        response.once('end', () => resolveTrailers(response.trailers));
        response.once('close', () => resolveTrailers(response.trailers));
      });
      settle({
        kind: 'response',
        status: response.statusCode ?? 502,
        headers: response.headers,
        ...(grpcStatusOf(response.headers['grpc-status']) !== undefined ? { grpcStatus: grpcStatusOf(response.headers['grpc-status']) } : {}),
        body: response,
        trailers,
        abort: () => upstream.destroy(),
      });
    });
    request.body.attach(upstream);
  });
}

export interface Http2AttemptOptions {
  readonly session: http2.ClientHttp2Session;
  readonly timeoutMs: number;
  readonly scheme: 'http' | 'https';
}

/** Sends the request as a stream on an HTTP/2 session. */
export function sendHttp2(request: UpstreamRequest, options: Http2AttemptOptions): Promise<AttemptResult> {
  return new Promise((resolve) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const settle = (result: AttemptResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    let stream: http2.ClientHttp2Stream;
    try {
      stream = options.session.request({
        ...request.headers,
        ':method': request.method,
        ':path': request.path,
        ':authority': request.authority,
        ':scheme': options.scheme,
      });
    } catch (error) {
      settle({ kind: 'reset', error: (error as Error).message });
      return;
    }
    const fail = (kind: AttemptFailure['kind'], error: string) => {
      request.body.detach();
      stream.close(http2.constants.NGHTTP2_CANCEL);
      settle({ kind, error });
    };
    if (Number.isFinite(options.timeoutMs)) timer = setTimeout(() => fail('per-try-timeout', `no response within ${options.timeoutMs} ms`), options.timeoutMs);
    // A session that never connected fails its streams: that is a connect failure, not a reset.
    const failure = (): AttemptFailure['kind'] => (isConnected(options.session) ? 'reset' : 'connect-failure');
    stream.on('error', (error: NodeJS.ErrnoException) => fail(failure(), error.code ?? error.message));
    stream.on('close', () => {
      if (!settled) fail(failure(), `stream closed (code ${stream.rstCode})`);
    });
    const trailers = new Promise<IncomingHttpHeaders>((resolveTrailers) => {
      let received: IncomingHttpHeaders = {};
      stream.on('trailers', (headers: IncomingHttpHeaders) => {
        received = headers;
      });
      stream.once('end', () => resolveTrailers(received));
      stream.once('close', () => resolveTrailers(received));
    });
    stream.on('response', (headers) => {
      const status = Number(headers[':status'] ?? 502);
      const grpcStatus = grpcStatusOf(headers['grpc-status']);
      settle({
        kind: 'response',
        status,
        headers,
        ...(grpcStatus !== undefined ? { grpcStatus } : {}),
        body: stream,
        trailers,
        abort: () => stream.close(http2.constants.NGHTTP2_CANCEL),
      });
    });
    request.body.attach(stream);
  });
}
