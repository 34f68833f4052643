/**
 * The sidecar's listeners at run time, kept in line with the config: a
 * listener whose address, port and TLS stay the same keeps its socket and
 * only gets new handlers (open connections are untouched); one that moved
 * or went away drains; a new one binds. A bind that fails (port taken) is
 * reported and tried again at the next config.
 */
import type { Logger } from '../../core/log.js';
import type { GatewayConfig, ListenerSettings, RouteTable } from '../config/model.js';
import type { ClusterSet } from './cluster-set.js';
import { HttpConnections } from './http-connections.js';
import { proxyHttpRequest, type HttpProxyContext, type RequestObserver } from './http-proxy.js';
import { ListenerServer, type AcceptedConnection } from './listener-server.js';
import { proxyTcpConnection, type TcpObserver } from './tcp-proxy.js';
import type { TlsIdentity } from './tls-identity.js';
import { proxyUpgrade } from './upgrade-proxy.js';

export interface ListenerSetOptions {
  readonly identity: TlsIdentity | undefined;
  readonly clusters: ClusterSet;
  readonly observer: RequestObserver & TcpObserver;
  readonly log: Logger;
  /** Binds outbound listeners here instead of the config's address (several sidecars on one host each take a loopback address). */
  readonly outboundAddress?: string;
  /** Binds inbound listeners here instead of the config's address (e.g. 0.0.0.0 in a pod). */
  readonly inboundAddress?: string;
  /** Time a removed listener's connections get to finish. */
  readonly drainMs: number;
  /** Request body bytes kept for retries. */
  readonly replayLimitBytes: number;
  readonly onConnectionCount?: (listener: string, direction: string, delta: number) => void;
}

export interface ListenerStatus {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly direction: string;
  readonly protocol: 'http' | 'tcp';
  readonly state: 'listening' | 'failed';
  readonly error?: string;
  readonly connections: number;
}

interface Running {
  settings: ListenerSettings;
  readonly bindKey: string;
  readonly address: string;
  readonly server: ListenerServer;
  readonly http?: HttpConnections;
}

export class ListenerSet {
  private readonly running = new Map<string, Running>();
  private readonly failed = new Map<string, { settings: ListenerSettings; address: string; error: string }>();
  private config: GatewayConfig | undefined;

  constructor(private readonly options: ListenerSetOptions) {}

  /** Brings the listeners in line with `config`; resolves once new ones are bound (or failed). */
  async apply(config: GatewayConfig): Promise<void> {
    this.config = config;
    this.failed.clear();
    for (const [name, running] of this.running) {
      const wanted = config.listeners.get(name);
      if (wanted && this.bindKey(wanted) === running.bindKey) continue;
      this.running.delete(name);
      this.options.log.info({ listener: name }, 'listener removed or moved: draining');
      void running.server.close(this.options.drainMs);
    }
    const binds: Promise<void>[] = [];
    for (const settings of config.listeners.values()) {
      const existing = this.running.get(settings.name);
      if (existing) {
        existing.settings = settings;
        this.wire(existing);
      } else binds.push(this.open(settings));
    }
    await Promise.all(binds);
  }

  status(): ListenerStatus[] {
    const listening = [...this.running.values()].map((r) => ({
      name: r.settings.name,
      address: r.address,
      port: r.server.port(),
      direction: r.settings.direction,
      protocol: r.settings.filter.kind,
      state: 'listening' as const,
      connections: r.server.openConnections(),
    }));
    const failed = [...this.failed.values()].map((f) => ({
      name: f.settings.name,
      address: f.address,
      port: f.settings.port,
      direction: f.settings.direction,
      protocol: f.settings.filter.kind,
      state: 'failed' as const,
      error: f.error,
      connections: 0,
    }));
    return [...listening, ...failed].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Stops every listener, giving connections `drainMs` to finish. */
  async stop(drainMs = this.options.drainMs): Promise<void> {
    const closing = [...this.running.values()].map((r) => r.server.close(drainMs));
    this.running.clear();
    await Promise.all(closing);
  }

  private bindAddress(settings: ListenerSettings): string {
    if (settings.direction === 'outbound' && this.options.outboundAddress) return this.options.outboundAddress;
    if (settings.direction === 'inbound' && this.options.inboundAddress) return this.options.inboundAddress;
    return settings.address;
  }

  private bindKey(settings: ListenerSettings): string {
    const tls = settings.tls ? `tls:${settings.tls.requireClientCertificate}:${settings.tls.alpn.join(',')}` : 'plain';
    return `${this.bindAddress(settings)}|${settings.port}|${tls}|${settings.filter.kind}`;
  }

  private async open(settings: ListenerSettings): Promise<void> {
    const address = this.bindAddress(settings);
    if (settings.tls && !this.options.identity?.ready()) {
      this.failed.set(settings.name, { settings, address, error: 'no SVID yet' });
      return;
    }
    const server = new ListenerServer({
      name: settings.name,
      address,
      port: settings.port,
      ...(settings.tls && this.options.identity ? { tls: { identity: this.options.identity, requireClientCertificate: settings.tls.requireClientCertificate, alpn: settings.tls.alpn } } : {}),
      log: this.options.log,
      onConnectionCount: (delta) => this.options.onConnectionCount?.(settings.name, settings.direction, delta),
    });
    const running: Running = { settings, bindKey: this.bindKey(settings), address, server, ...(settings.filter.kind === 'http' ? { http: new HttpConnections(() => undefined) } : {}) };
    if (running.http) server.onDrain(() => running.http!.drain());
    this.wire(running);
    try {
      await server.listen();
      this.running.set(settings.name, running);
      this.options.log.info({ listener: settings.name, address, port: settings.port, protocol: settings.filter.kind, tls: Boolean(settings.tls) }, 'listening');
    } catch (error) {
      const message = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      this.failed.set(settings.name, { settings, address, error: message });
      this.options.log.error({ listener: settings.name, address, port: settings.port, err: message }, 'cannot listen; will try again with the next config');
    }
  }

  /** Points the listener's new connections (and, for HTTP, new requests) at its current settings. */
  private wire(running: Running): void {
    const { settings } = running;
    const { filter } = settings;
    const direction = settings.direction === 'inbound' ? 'inbound' : 'outbound';
    const { clusters, observer } = this.options;
    if (filter.kind === 'tcp') {
      const context = { direction, listener: settings.name, clusters, targets: filter.clusters, observer, ...(filter.idleTimeoutMs ? { idleTimeoutMs: filter.idleTimeoutMs } : {}), ...(filter.access ? { access: filter.access } : {}) } as const;
      running.server.setHandler(({ socket, principal }: AcceptedConnection) => proxyTcpConnection(context, socket, principal));
      return;
    }
    const routes = (): RouteTable | undefined => ('inline' in filter.routes ? filter.routes.inline : this.config?.routes.get(filter.routes.rds));
    const http = running.http!;
    const contextFor = (principal: string | undefined): HttpProxyContext => ({
      direction,
      listener: settings.name,
      routes,
      clusters,
      ...(filter.access ? { access: filter.access } : {}),
      ...(principal ? { principal } : {}),
      localSpiffeId: () => this.options.identity?.spiffeId(),
      observer,
      replayLimitBytes: this.options.replayLimitBytes,
    });
    const upgrades = new Set(filter.upgrades);
    http.setHandler(
      (request, response, principal) => {
        void proxyHttpRequest(contextFor(principal), request, response).catch((error: Error) => {
          this.options.log.error({ listener: settings.name, err: error.message }, 'request handling failed');
          response.destroy();
        });
      },
      {
        types: upgrades,
        handle: (request, socket, head, principal) => {
          void proxyUpgrade(contextFor(principal), request, socket, head).catch((error: Error) => {
            this.options.log.error({ listener: settings.name, err: error.message }, 'upgrade handling failed');
            socket.destroy();
          });
        },
      },
    );
    running.server.setHandler((connection) => http.accept(connection));
  }
}
