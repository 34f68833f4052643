/**
 * Serves HTTP/1.1 and HTTP/2 on connections a ListenerServer accepted:
 * after TLS by the negotiated ALPN, in plaintext by the first bytes (the
 * HTTP/2 preface starts with "PRI "), so one outbound port takes both, as
 * Envoy's `codec_type: AUTO` does. Requests reach `handler` with the
 * connection's verified peer.
 */
import http from 'node:http';
import http2 from 'node:http2';
import type net from 'node:net';
import type tls from 'node:tls';
import type { AcceptedConnection } from './listener-server.js';
import type { DownstreamRequest, DownstreamResponse } from './http-proxy.js';

export type HttpHandler = (request: DownstreamRequest, response: DownstreamResponse, principal: string | undefined) => void;
/** An HTTP/1.1 request asking to switch protocols (Connection: Upgrade): the socket is the handler's from here. */
export type UpgradeHandler = (request: http.IncomingMessage, socket: net.Socket, head: Buffer, principal: string | undefined) => void;

/** The upgrades a listener takes: requests asking for another type are served as ordinary requests. */
export interface Upgrades {
  /** Lowercase (`websocket`). */
  readonly types: ReadonlySet<string>;
  readonly handle: UpgradeHandler;
}

/** The upgrade type a request asks for, lowercase; undefined when it asks for none (RFC 9110 §7.8). Pure. */
export function requestedUpgrade(headers: http.IncomingHttpHeaders): string | undefined {
  const upgrade = headers.upgrade;
  const connection = headers.connection;
  if (!upgrade || !connection?.split(',').some((token) => token.trim().toLowerCase() === 'upgrade')) return undefined;
  return upgrade.trim().toLowerCase();
}

/** Whether an HTTP/1.x request says it carries a body (RFC 9112 §6.3). Pure. */
export function declaresBody(headers: http.IncomingHttpHeaders): boolean {
  return headers['transfer-encoding'] !== undefined || (headers['content-length'] !== undefined && headers['content-length'] !== '0');
}

const UPGRADE_HEADERS = new Set(['upgrade', 'http2-settings']);

/**
 * The request's head as received, without the upgrade it asked for:
 * `Upgrade` and `HTTP2-Settings` left out, and their tokens taken out of
 * `Connection`. Values come from Node's parser, which refuses CR and LF in
 * them, so nothing can be smuggled into the rebuilt head. Pure.
 */
export function headWithoutUpgrade(request: Pick<http.IncomingMessage, 'method' | 'url' | 'httpVersion' | 'rawHeaders'>): string {
  let text = `${request.method ?? 'GET'} ${request.url ?? '/'} HTTP/${request.httpVersion}\r\n`;
  const raw = request.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (UPGRADE_HEADERS.has(lower)) continue;
    let value = raw[i + 1]!;
    if (lower === 'connection') {
      value = value
        .split(',')
        .map((token) => token.trim())
        .filter((token) => token && !UPGRADE_HEADERS.has(token.toLowerCase()))
        .join(', ');
      if (!value) continue;
    }
    text += `${name}: ${value}\r\n`;
  }
  return `${text}\r\n`;
}

const H2_PREFACE_START = Buffer.from('PRI ');

export class HttpConnections {
  private readonly h1: http.Server;
  private readonly h2: http2.Http2Server;
  private readonly principals = new WeakMap<object, string | undefined>();
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  /** The principal of the connection being handed to the HTTP/2 server (its 'session' event fires synchronously). */
  private handing: string | undefined;

  private upgrades: Upgrades | undefined;

  constructor(private handler: HttpHandler) {
    this.h1 = http.createServer({ keepAlive: true, keepAliveTimeout: 60_000, requestTimeout: 0, headersTimeout: 30_000 }, (request, response) =>
      this.handler(request, response, this.principals.get(request.socket)),
    );
    this.h1.on('upgrade', (request: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      const type = requestedUpgrade(request.headers);
      if (this.upgrades && type && this.upgrades.types.has(type) && !declaresBody(request.headers)) this.upgrades.handle(request, socket, head, this.principals.get(socket));
      else this.serveWithoutUpgrade(request, socket, head);
    });
    this.h2 = http2.createServer({ settings: { maxConcurrentStreams: 1000 } });
    this.h2.on('session', (session: http2.ServerHttp2Session) => {
      this.principals.set(session, this.handing);
      this.sessions.add(session);
      session.once('close', () => this.sessions.delete(session));
      session.on('error', () => undefined);
    });
    this.h2.on('request', (request: http2.Http2ServerRequest, response: http2.Http2ServerResponse) => this.handler(request, response, this.principals.get(request.stream.session as object)));
  }

  setHandler(handler: HttpHandler, upgrades?: Upgrades): void {
    this.handler = handler;
    this.upgrades = upgrades;
  }

  /** Takes a connection (the ListenerServer handler). */
  accept({ socket, principal }: AcceptedConnection): void {
    const alpn = (socket as tls.TLSSocket).alpnProtocol;
    if (alpn === 'h2') return this.toHttp2(socket, principal);
    if (alpn === 'http/1.1') return this.toHttp1(socket, principal);
    socket.once('readable', () => {
      const first = socket.read(Math.min(socket.readableLength, H2_PREFACE_START.length)) as Buffer | null;
      if (!first) return socket.destroy();
      socket.unshift(first);
      if (first.equals(H2_PREFACE_START.subarray(0, first.length)) && first.length === H2_PREFACE_START.length) this.toHttp2(socket, principal);
      else this.toHttp1(socket, principal);
    });
  }

  /** Idle HTTP/1.1 connections close now; HTTP/2 sessions get GOAWAY and finish their streams. */
  drain(): void {
    this.h1.closeIdleConnections();
    for (const session of this.sessions) session.close();
    // HTTP/1.1 connections busy now close once their response is done.
    this.h1.on('request', (_request, response: http.ServerResponse) => response.setHeader('connection', 'close'));
  }

  /**
   * Once the 'upgrade' event has a listener, Node hands it every request
   * with `Connection: Upgrade`. One asking for a type this listener does not
   * take (h2c, which curl and Java's HTTP client try first), or carrying a
   * body, is an ordinary request here, as it is to Envoy: its head is rebuilt
   * without the upgrade and put back in front of the bytes that followed it,
   * and the connection starts over with the HTTP server.
   */
  private serveWithoutUpgrade(request: http.IncomingMessage, socket: net.Socket, head: Buffer): void {
    socket.unshift(Buffer.concat([Buffer.from(headWithoutUpgrade(request), 'latin1'), head]));
    this.h1.emit('connection', socket);
  }

  private toHttp1(socket: net.Socket, principal: string | undefined): void {
    this.principals.set(socket, principal);
    this.h1.emit('connection', socket);
  }

  private toHttp2(socket: net.Socket, principal: string | undefined): void {
    this.handing = principal;
    this.h2.emit('connection', socket);
    this.handing = undefined;
  }
}
