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

const H2_PREFACE_START = Buffer.from('PRI ');

export class HttpConnections {
  private readonly h1: http.Server;
  private readonly h2: http2.Http2Server;
  private readonly principals = new WeakMap<object, string | undefined>();
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  /** The principal of the connection being handed to the HTTP/2 server (its 'session' event fires synchronously). */
  private handing: string | undefined;

  private upgradeHandler: UpgradeHandler | undefined;

  constructor(private handler: HttpHandler) {
    this.h1 = http.createServer({ keepAlive: true, keepAliveTimeout: 60_000, requestTimeout: 0, headersTimeout: 30_000 }, (request, response) =>
      this.handler(request, response, this.principals.get(request.socket)),
    );
    this.h1.on('upgrade', (request: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      if (this.upgradeHandler) this.upgradeHandler(request, socket, head, this.principals.get(socket));
      else socket.destroy();
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

  setHandler(handler: HttpHandler, upgradeHandler?: UpgradeHandler): void {
    this.handler = handler;
    this.upgradeHandler = upgradeHandler;
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
