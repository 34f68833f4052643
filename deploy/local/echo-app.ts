/**
 * The demo application behind each sidecar: a small HTTP server on
 * 127.0.0.1 answering every request with JSON that says who answered
 * (zone, tenant, service, instance, tags) and who called (the caller's
 * SPIFFE ID, from the header the inbound sidecar sets after verifying the
 * client certificate). It can die and come back on the same port, which
 * is how `meshfed up --scenario failover` takes a zone's backends away.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface EchoIdentity {
  zone: string;
  region: string;
  tenant: string;
  namespace: string;
  service: string;
  instance: string;
  tags: Record<string, string>;
}

export interface EchoReply extends EchoIdentity {
  method: string;
  path: string;
  /** SPIFFE ID of the caller, as the inbound sidecar verified it; null when called without a sidecar. */
  caller: string | null;
}

/** The caller's SPIFFE ID from an `x-forwarded-client-cert` value (`By=…;URI=spiffe://…`). Pure. */
export function callerOf(xfcc: string | string[] | undefined): string | null {
  const value = Array.isArray(xfcc) ? xfcc[xfcc.length - 1] : xfcc;
  const match = /(?:^|;)URI=([^;,]+)/.exec(value ?? '');
  return match ? match[1]! : null;
}

export class EchoApp {
  private server: http.Server | undefined;
  private port = 0;

  constructor(readonly identity: EchoIdentity) {}

  /** Starts listening (again, on the same port after `kill`); resolves with the port. */
  async start(): Promise<number> {
    if (this.server) return this.port;
    const server = http.createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        const reply: EchoReply = { ...this.identity, method: request.method ?? '', path: request.url ?? '', caller: callerOf(request.headers['x-forwarded-client-cert']) };
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify(reply));
      });
    });
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    }).catch((error: Error) => {
      throw new Error(`echo app ${this.identity.instance}: cannot listen on 127.0.0.1:${this.port}: ${error.message}`);
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
    return this.port;
  }

  get listening(): boolean {
    return this.server !== undefined;
  }

  get applicationPort(): number {
    return this.port;
  }

  /** The application dies: open connections are cut and its port refuses new ones. */
  async kill(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
