/**
 * Upstream connections of one cluster: keep-alive HTTP/1.1 agents and
 * HTTP/2 sessions per endpoint, and raw (TLS) connections for TCP proxying.
 * TLS uses the SVID current when the connection is made; when the SVID
 * changes, existing connections are retired — they finish what they carry
 * and are not reused — so rotation never cuts a request.
 */
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import type { UpstreamTls } from '../config/model.js';
import { endpointKey } from '../lb/index.js';
import type { TlsIdentity } from './tls-identity.js';

const connected = new WeakSet<object>();

/** Whether a socket (or HTTP/2 session) made by a pool finished connecting (TLS: handshake done). Failures before that are connect failures. */
export function isConnected(socketOrSession: object): boolean {
  return connected.has(socketOrSession);
}

export interface UpstreamEndpointAddress {
  readonly address: string;
  readonly port: number;
}

export interface UpstreamPoolOptions {
  readonly cluster: string;
  /** Required when any endpoint is reached over TLS. */
  readonly identity: TlsIdentity | undefined;
  readonly connectTimeoutMs: number;
  /** Upstream connections this cluster may hold (circuit breaker max_connections). */
  readonly maxConnections: number;
  /** Told +1 / −1 as upstream connections open and close. */
  readonly onConnectionCount?: (delta: number) => void;
}

interface PoolEntry {
  readonly generation: number;
  agent?: http.Agent;
  session?: http2.ClientHttp2Session;
}

export class UpstreamPool {
  private readonly entries = new Map<string, PoolEntry>();
  private closed = false;

  constructor(private options: UpstreamPoolOptions) {}

  /** New limits or connect timeout (a config change); existing connections stay. */
  reconfigure(options: UpstreamPoolOptions): void {
    this.options = options;
  }

  /** A keep-alive HTTP/1.1 agent for the endpoint (TLS when `upstreamTls` is given). */
  http1Agent(endpoint: UpstreamEndpointAddress, upstreamTls: UpstreamTls | undefined): http.Agent {
    const entry = this.entry(endpoint, upstreamTls);
    if (!entry.agent) {
      const agent = new http.Agent({ keepAlive: true, maxSockets: this.options.maxConnections, scheduling: 'lifo' });
      agent.createConnection = ((_options: unknown, callback: (error: Error | null, socket: net.Socket) => void) => {
        try {
          return this.connect(endpoint, upstreamTls, upstreamTls ? ['http/1.1'] : undefined);
        } catch (error) {
          callback(error as Error, undefined as unknown as net.Socket);
          return undefined;
        }
      }) as unknown as typeof agent.createConnection;
      entry.agent = agent;
    }
    return entry.agent;
  }

  /** An HTTP/2 session for the endpoint, opened if there is no usable one. */
  http2Session(endpoint: UpstreamEndpointAddress, upstreamTls: UpstreamTls | undefined): http2.ClientHttp2Session {
    const entry = this.entry(endpoint, upstreamTls);
    const current = entry.session;
    if (current && !current.closed && !current.destroyed) return current;
    const session = http2.connect(`${upstreamTls ? 'https' : 'http'}://${endpointKey(endpoint)}`, {
      createConnection: () => this.connect(endpoint, upstreamTls, upstreamTls ? ['h2'] : undefined),
    });
    session.on('connect', () => connected.add(session));
    // Errors reach the streams; without a listener the session would throw.
    session.on('error', () => undefined);
    session.on('goaway', () => session.close());
    session.on('close', () => {
      if (entry.session === session) entry.session = undefined;
    });
    entry.session = session;
    return session;
  }

  /**
   * A new connection to the endpoint, counted and bounded by the connect
   * timeout; for TLS the peer's SPIFFE ID is checked in the handshake.
   * `alpn` overrides the cluster's ALPN (HTTP pools say what they speak).
   */
  connect(endpoint: UpstreamEndpointAddress, upstreamTls: UpstreamTls | undefined, alpn?: string[]): net.Socket {
    const { identity, connectTimeoutMs, onConnectionCount } = this.options;
    if (upstreamTls && !identity?.ready()) throw new Error('no SVID to connect with');
    // Small request/response writes: Nagle would hold them for the peer's delayed ACK. Set on the
    // TCP socket itself; a TLS socket does not pass it down before it is connected.
    const tcp = net.connect({ host: endpoint.address, port: endpoint.port, noDelay: true });
    const socket: net.Socket = upstreamTls && identity ? tls.connect({ ...identity.clientOptions(upstreamTls, endpoint.address, endpoint.port), socket: tcp, ...(alpn ? { ALPNProtocols: alpn } : {}) }) : tcp;
    if (socket !== tcp) socket.once('close', () => tcp.destroy());
    const timer = setTimeout(() => socket.destroy(Object.assign(new Error(`connect timeout after ${connectTimeoutMs} ms`), { code: 'ETIMEDOUT' })), connectTimeoutMs);
    socket.once(upstreamTls ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      connected.add(socket);
    });
    onConnectionCount?.(1);
    socket.once('close', () => {
      clearTimeout(timer);
      onConnectionCount?.(-1);
    });
    return socket;
  }

  /** Connections made under an older SVID finish their work and are not reused. */
  retireOldGenerations(): void {
    const generation = this.options.identity?.generation() ?? 0;
    for (const [key, entry] of this.entries) {
      if (entry.generation === generation) continue;
      this.entries.delete(key);
      retire(entry);
    }
  }

  /** Endpoints no longer in the cluster: their idle connections close, busy ones finish. */
  retainEndpoints(keys: ReadonlySet<string>): void {
    for (const [key, entry] of this.entries) {
      if (keys.has(key.split('|')[1]!)) continue;
      this.entries.delete(key);
      retire(entry);
    }
  }

  /** The cluster is gone: idle connections close now, busy ones when done. */
  close(): void {
    this.closed = true;
    for (const entry of this.entries.values()) retire(entry);
    this.entries.clear();
  }

  private entry(endpoint: UpstreamEndpointAddress, upstreamTls: UpstreamTls | undefined): PoolEntry {
    if (this.closed) throw new Error(`cluster ${this.options.cluster} is gone`);
    const generation = upstreamTls ? (this.options.identity?.generation() ?? 0) : 0;
    const key = `${generation}|${endpointKey(endpoint)}|${upstreamTls ? `tls:${upstreamTls.sni ?? ''}` : 'plain'}`;
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { generation };
      this.entries.set(key, entry);
    }
    return entry;
  }
}

/** Lets the connections of an entry finish: idle ones close now, busy ones when freed. */
function retire(entry: PoolEntry): void {
  const agent = entry.agent;
  if (agent) {
    agent.on('free', (socket: net.Socket) => socket.destroy());
    for (const sockets of Object.values(agent.freeSockets)) for (const socket of sockets ?? []) socket.destroy();
  }
  entry.session?.close();
}
