/**
 * A listening socket of the sidecar, plain or TLS with the SVID, that hands
 * each accepted connection to its current handler. Handlers can be swapped
 * (new config) and the certificate replaced (new SVID) without touching
 * open connections. Closing stops accepting and drains: connections get
 * `drainMs` to finish before they are cut.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from '../../core/log.js';
import { spiffeIdOf } from './peer-identity.js';
import type { TlsIdentity } from './tls-identity.js';

export interface ListenerTls {
  readonly identity: TlsIdentity;
  readonly requireClientCertificate: boolean;
  readonly alpn: readonly string[];
}

/** An accepted connection: after the handshake for TLS, with the peer's verified SPIFFE ID. */
export interface AcceptedConnection {
  readonly socket: net.Socket;
  readonly principal: string | undefined;
}

export interface ListenerServerOptions {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly tls?: ListenerTls;
  readonly log: Logger;
  /** Told +1 / −1 as connections open and close. */
  readonly onConnectionCount?: (delta: number) => void;
}

export class ListenerServer {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private handler: (connection: AcceptedConnection) => void = ({ socket }) => socket.destroy();
  private drainHooks: Array<() => void> = [];
  private readonly unsubscribeIdentity: (() => void) | undefined;

  constructor(readonly options: ListenerServerOptions) {
    const { tls: tlsOptions } = options;
    if (tlsOptions) {
      const server = tls.createServer({
        ...tlsOptions.identity.contextOptions(),
        requestCert: true,
        rejectUnauthorized: tlsOptions.requireClientCertificate,
        ALPNProtocols: [...tlsOptions.alpn],
        // A client that never finishes its handshake does not hold a slot for long.
        handshakeTimeout: 10_000,
      });
      server.on('secureConnection', (socket: tls.TLSSocket) => {
        const principal = socket.authorized ? spiffeIdOf(socket.getPeerCertificate()) : undefined;
        this.accept(socket, principal);
      });
      server.on('tlsClientError', (error: Error) => options.log.debug({ listener: options.name, err: error.message }, 'TLS handshake failed'));
      this.unsubscribeIdentity = tlsOptions.identity.onChange(() => server.setSecureContext(tlsOptions.identity.contextOptions()));
      this.server = server;
    } else {
      this.server = net.createServer((socket) => this.accept(socket, undefined));
    }
    this.server.on('connection', (socket: net.Socket) => {
      // Requests and responses are small writes: Nagle would hold them back for the peer's delayed ACK.
      socket.setNoDelay(true);
      this.sockets.add(socket);
      options.onConnectionCount?.(1);
      socket.once('close', () => {
        this.sockets.delete(socket);
        options.onConnectionCount?.(-1);
      });
    });
  }

  /** Binds; rejects when the address is taken or not local. */
  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      this.server.once('error', onError);
      this.server.listen({ host: this.options.address, port: this.options.port }, () => {
        this.server.off('error', onError);
        this.server.on('error', (error) => this.options.log.error({ listener: this.options.name, err: error.message }, 'listener error'));
        resolve();
      });
    });
  }

  /** The port bound (useful when 0 was asked for). */
  port(): number {
    const address = this.server.address();
    return typeof address === 'object' && address ? address.port : this.options.port;
  }

  /** New connections go to `handler`; open ones stay with the handler that took them. */
  setHandler(handler: (connection: AcceptedConnection) => void): void {
    this.handler = handler;
  }

  /** Called when the listener starts draining (HTTP servers close idle keep-alive connections and send GOAWAY). */
  onDrain(hook: () => void): void {
    this.drainHooks.push(hook);
  }

  openConnections(): number {
    return this.sockets.size;
  }

  /** Stops accepting, asks connections to finish, and cuts those still open after `drainMs`. */
  async close(drainMs: number): Promise<void> {
    this.unsubscribeIdentity?.();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const hook of this.drainHooks) hook();
    const cut = setTimeout(() => {
      for (const socket of this.sockets) socket.destroy();
    }, drainMs);
    await closed;
    clearTimeout(cut);
  }

  private accept(socket: net.Socket, principal: string | undefined): void {
    socket.on('error', () => undefined);
    try {
      this.handler({ socket, principal });
    } catch (error) {
      this.options.log.error({ listener: this.options.name, err: (error as Error).message }, 'connection handler failed');
      socket.destroy();
    }
  }
}
