import net from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from '../../core/log.js';
import { MAX_CLIENT_HELLO_BYTES, parseClientHello } from './client-hello.js';
import { IngressMetrics, type IngressConnectionResult } from './ingress-metrics.js';
import { decideIngressRoute, type IngressRejectReason, type IngressRoutingTable } from './sni-router.js';

/** TCP keepalive on both sides, so a peer that vanished (zone lost, NAT dropped) frees its tenant's slot in minutes, not never. */
const KEEP_ALIVE = { keepAlive: true, keepAliveInitialDelay: 60_000 } as const;

export interface UpstreamEndpoint {
  host: string;
  port: number;
  /** The cluster's connect timeout; default the server's `connectTimeoutMs`. */
  connectTimeoutMs?: number;
}

/** Chooses a local endpoint of a cluster (balancing and outlier state live behind it); undefined when none is healthy. */
export type EndpointPicker = (cluster: string) => UpstreamEndpoint | undefined;

export type UpstreamOutcome = 'connect-failure' | 'ok';

export interface IngressServerOptions {
  table: IngressRoutingTable;
  placedTenants: Iterable<string>;
  pickEndpoint: EndpointPicker;
  /** Told how each upstream connection attempt went (feeds outlier detection). */
  onResult?: (cluster: string, endpoint: UpstreamEndpoint, outcome: UpstreamOutcome) => void;
  registry: Registry;
  log: Logger;
  /** Routed connections (connecting or forwarding) one tenant may hold open at once. Default: no limit. */
  maxConnectionsPerTenant?: number;
  /** Time a client has to send its whole ClientHello. Default 5 s. */
  handshakeTimeoutMs?: number;
  /** Largest ClientHello read, record headers included. Default 16 KiB. */
  maxClientHelloBytes?: number;
  /** Time an upstream endpoint has to accept the TCP connection, unless the picked endpoint says otherwise. Default 5 s. */
  connectTimeoutMs?: number;
  /** Endpoints tried (each from a fresh pick) before giving up; safe because nothing was sent yet. Default 2. */
  connectAttempts?: number;
}

/**
 * The east-west ingress gateway (DESIGN.md, Data flow 5): reads the SNI of
 * each incoming TLS connection without terminating TLS, and forwards the
 * bytes, untouched, to a local endpoint of the tenant's service that the
 * SNI names. Anything it cannot route is closed and counted, never sent
 * elsewhere. Routing decisions are `decideIngressRoute`'s; this class only
 * moves bytes.
 */
export class IngressServer {
  /** Resolves once the listener is closed (after `stop()`). */
  readonly closed: Promise<void>;
  private readonly server: net.Server;
  private readonly metrics: IngressMetrics;
  private readonly sockets = new Set<net.Socket>();
  private readonly perTenant = new Map<string, number>();
  private table: IngressRoutingTable;
  private placedTenants: ReadonlySet<string>;
  private pickEndpoint: EndpointPicker;
  private stopping = false;
  private accepted = 0;
  private markClosed!: () => void;
  private readonly handshakeTimeoutMs: number;
  private readonly maxClientHelloBytes: number;
  private readonly connectTimeoutMs: number;
  private readonly connectAttempts: number;
  private readonly maxConnectionsPerTenant: number;

  constructor(private readonly options: IngressServerOptions) {
    this.table = options.table;
    this.placedTenants = new Set(options.placedTenants);
    this.pickEndpoint = options.pickEndpoint;
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? 5_000;
    this.maxClientHelloBytes = options.maxClientHelloBytes ?? MAX_CLIENT_HELLO_BYTES;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
    this.connectAttempts = Math.max(1, options.connectAttempts ?? 2);
    this.maxConnectionsPerTenant = options.maxConnectionsPerTenant ?? Infinity;
    this.metrics = new IngressMetrics(options.registry);
    this.server = net.createServer({ allowHalfOpen: true, noDelay: true, ...KEEP_ALIVE }, (socket) => this.accept(socket));
    this.server.on('error', (error) => options.log.error({ err: error }, 'ingress listener error'));
    this.closed = new Promise((resolve) => (this.markClosed = resolve));
    this.server.once('close', () => this.markClosed());
  }

  /** Starts listening; port 0 picks a free port. */
  async start(listen: { host?: string; port: number }): Promise<net.AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error) => reject(new Error(`ingress: cannot listen on ${listen.host ?? '*'}:${listen.port}: ${error.message}`));
      this.server.once('error', onError);
      this.server.listen({ host: listen.host, port: listen.port }, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    const address = this.server.address() as net.AddressInfo;
    this.options.log.info({ address: `${address.address}:${address.port}` }, 'ingress listening');
    return address;
  }

  /** Swaps the routing table, the tenants placed here and (optionally) the endpoint picker; open connections are untouched. */
  update(table: IngressRoutingTable, placedTenants: Iterable<string>, pickEndpoint?: EndpointPicker): void {
    this.table = table;
    this.placedTenants = new Set(placedTenants);
    if (pickEndpoint) this.pickEndpoint = pickEndpoint;
  }

  /** Routed connections of a tenant open now. */
  activeConnections(tenant: string): number {
    return this.perTenant.get(tenant) ?? 0;
  }

  /** Connections open now: accepted and not yet closed (reading a ClientHello, connecting or forwarding). */
  openConnections(): number {
    return this.accepted;
  }

  /**
   * Stops accepting, gives open connections `drainMs` (default 0) to finish
   * on their own, then closes whatever is still open; resolves once every
   * socket, downstream and upstream, has closed.
   */
  async stop(options: { drainMs?: number } = {}): Promise<void> {
    this.stopping = true;
    if (this.server.listening) this.server.close();
    else this.markClosed();
    const drainMs = options.drainMs ?? 0;
    if (drainMs > 0 && this.sockets.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.closed, new Promise<void>((resolve) => (timer = setTimeout(resolve, drainMs)))]);
      clearTimeout(timer);
    }
    const closing = [...this.sockets].map((socket) => new Promise((resolve) => socket.once('close', resolve)));
    for (const socket of this.sockets) socket.destroy();
    await Promise.all([this.closed, ...closing]);
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  /** Reads until the ClientHello is complete, then routes; nothing is forwarded before that. */
  private accept(downstream: net.Socket): void {
    if (this.stopping) {
      downstream.destroy();
      return;
    }
    this.track(downstream);
    this.accepted++;
    downstream.once('close', () => this.accepted--);
    const remote = `${downstream.remoteAddress}:${downstream.remotePort}`;
    const log = this.options.log.child({ remote });
    downstream.on('error', (error) => log.debug({ err: error }, 'downstream error'));
    const hello = new GrowingBuffer();
    const done = () => {
      clearTimeout(timer);
      downstream.off('data', onData);
      downstream.off('end', onEnd);
      downstream.off('close', onClose);
    };
    const reject = (reason: IngressRejectReason, details: Record<string, unknown> = {}) => {
      done();
      this.reject(downstream, reason, log, details);
    };
    const onData = (chunk: Buffer) => {
      hello.append(chunk);
      const result = parseClientHello(hello.bytes(), { maxBytes: this.maxClientHelloBytes });
      if (result.status === 'need-more') return;
      if (result.status !== 'ok') return reject(result.status === 'not-tls' ? 'not-tls' : 'malformed-client-hello', { detail: result.reason });
      done();
      downstream.pause();
      this.route(downstream, result.sni, hello.bytes(), log);
    };
    const onEnd = () => {
      if (hello.length > 0) return reject('incomplete-client-hello', { bytes: hello.length });
      done(); // connected and left without a byte: a TCP health check, not a rejection
      downstream.destroy();
    };
    const onClose = () => {
      done();
      if (hello.length > 0) this.metrics.rejected('incomplete-client-hello');
    };
    const timer = setTimeout(() => reject('handshake-timeout', { bytes: hello.length }), this.handshakeTimeoutMs);
    downstream.on('data', onData);
    downstream.on('end', onEnd);
    downstream.on('close', onClose);
  }

  private reject(downstream: net.Socket, reason: IngressRejectReason, log: Logger, details: Record<string, unknown>): void {
    this.metrics.rejected(reason);
    const level = reason === 'connect-failure' ? 'warn' : reason === 'tenant-limit' || reason === 'no-endpoint' ? 'info' : 'debug';
    log[level]({ reason, ...details }, 'ingress connection rejected');
    downstream.destroy();
  }

  private route(downstream: net.Socket, sni: string | undefined, buffered: Buffer, log: Logger): void {
    const decision = decideIngressRoute(sni, this.table, this.placedTenants);
    if ('reject' in decision) return this.reject(downstream, decision.reject, log, { sni });
    const { tenant, route: cluster, target } = decision;
    const service = `${target.service}.${target.namespace}`;
    const connectionLog = log.child({ sni, tenant, cluster });
    const count = (result: IngressConnectionResult) => this.metrics.connection(tenant, service, result);

    if (this.activeConnections(tenant) >= this.maxConnectionsPerTenant) {
      count('tenant-limit');
      return this.reject(downstream, 'tenant-limit', connectionLog, { limit: this.maxConnectionsPerTenant });
    }
    this.perTenant.set(tenant, this.activeConnections(tenant) + 1);
    this.metrics.opened(tenant);
    const stopCountingBytes = this.metrics.trackBytes(downstream, tenant, service);
    let upstream: net.Socket | undefined;
    let open = 2; // the slot is freed when both sides have closed
    const release = () => {
      if (--open > 0) return;
      stopCountingBytes();
      const left = this.activeConnections(tenant) - 1;
      if (left > 0) this.perTenant.set(tenant, left);
      else this.perTenant.delete(tenant);
      this.metrics.closed(tenant);
    };
    downstream.once('close', (hadError) => {
      release();
      if (hadError || !upstream?.readableEnded) upstream?.destroy();
    });

    const attempt = (n: number) => {
      const endpoint = this.safePick(cluster, connectionLog);
      if (!endpoint) {
        count(n === 1 ? 'no-endpoint' : 'connect-failure');
        release();
        return this.reject(downstream, n === 1 ? 'no-endpoint' : 'connect-failure', connectionLog, {});
      }
      const endpointLog = connectionLog.child({ endpoint: `${endpoint.host}:${endpoint.port}` });
      const socket = net.connect({ host: endpoint.host, port: endpoint.port, allowHalfOpen: true, noDelay: true, ...KEEP_ALIVE });
      upstream = socket;
      this.track(socket);
      let connected = false;
      const connectTimeoutMs = endpoint.connectTimeoutMs ?? this.connectTimeoutMs;
      socket.setTimeout(connectTimeoutMs, () => socket.destroy(new Error(`no connection within ${connectTimeoutMs} ms`)));
      socket.once('connect', () => {
        connected = true;
        socket.setTimeout(0);
        this.report(cluster, endpoint, 'ok', endpointLog);
        count('ok');
        endpointLog.debug('ingress connection forwarded');
        socket.write(buffered);
        downstream.pipe(socket);
        socket.pipe(downstream);
      });
      socket.on('error', (error) => {
        if (connected) {
          endpointLog.debug({ err: error }, 'upstream error');
          downstream.destroy();
          return;
        }
        this.report(cluster, endpoint, 'connect-failure', endpointLog);
        endpointLog.warn({ err: error, attempt: n }, 'upstream connect failed');
      });
      socket.once('close', () => {
        if (connected) return release();
        if (downstream.destroyed) return release(); // the client left while we were connecting
        if (n < this.connectAttempts) return attempt(n + 1);
        count('connect-failure');
        release();
        this.reject(downstream, 'connect-failure', endpointLog, { attempts: n });
      });
    };
    attempt(1);
  }

  private safePick(cluster: string, log: Logger): UpstreamEndpoint | undefined {
    try {
      return this.pickEndpoint(cluster);
    } catch (error) {
      log.error({ err: error }, 'endpoint picker failed');
      return undefined;
    }
  }

  private report(cluster: string, endpoint: UpstreamEndpoint, outcome: UpstreamOutcome, log: Logger): void {
    try {
      this.options.onResult?.(cluster, endpoint, outcome);
    } catch (error) {
      log.error({ err: error }, 'onResult callback failed');
    }
  }
}

/** Bytes received so far, in one buffer that doubles as needed (so a byte-by-byte client costs O(n), not O(n²)). */
class GrowingBuffer {
  private buffer = Buffer.allocUnsafe(2048);
  length = 0;

  append(chunk: Buffer): void {
    if (this.length + chunk.length > this.buffer.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + chunk.length));
      this.buffer.copy(bigger, 0, 0, this.length);
      this.buffer = bigger;
    }
    chunk.copy(this.buffer, this.length);
    this.length += chunk.length;
  }

  bytes(): Buffer {
    return this.buffer.subarray(0, this.length);
  }
}
