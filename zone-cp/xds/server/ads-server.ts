import * as grpc from '@grpc/grpc-js';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../../../core/log.js';
import { TYPE_URL } from '../../../core/xds/protos.js';
import { StreamState, type DiscoveryRequest, type DiscoveryResponse, type ProxySnapshot } from './stream-state.js';

/** The first request's `node`, as Envoy and gRPC send it. */
export interface XdsNode {
  id?: string;
  cluster?: string;
  locality?: { region?: string; zone?: string; sub_zone?: string } | null;
  metadata?: { fields?: Record<string, { stringValue?: string; string_value?: string; boolValue?: boolean; bool_value?: boolean; kind?: string }> } | null;
  user_agent_name?: string;
}

/** Who is on the other end of a stream, once identify() has accepted it. */
export interface ProxyIdentity {
  id: string;
  tenant: string;
}

export type IdentifyOutcome<P extends ProxyIdentity> = { ok: true; proxy: P } | { ok: false; code: grpc.status; message: string };

export interface ConnectedProxy<P extends ProxyIdentity> {
  proxy: P;
  connectedAt: Date;
  port: 'mtls' | 'plaintext';
  userAgent: string;
  state: StreamState;
  snapshot(): ProxySnapshot | undefined;
}

export interface AdsServerOptions<P extends ProxyIdentity> {
  /** Authenticates the stream and says which proxy it is; called once, with the first request. */
  identify(call: grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>, node: XdsNode, port: 'mtls' | 'plaintext'): Promise<IdentifyOutcome<P>>;
  /** Calls `push` with the proxy's snapshot now and whenever it changes; returns the unsubscribe function. */
  watch(proxy: P, push: (snapshot: ProxySnapshot) => void): () => void;
  registry: Registry;
  log: Logger;
}

/** Make before break: clusters before the endpoints and routes that use them, listeners before their routes. */
const PUSH_ORDER = [TYPE_URL.cluster, TYPE_URL.endpoint, TYPE_URL.listener, TYPE_URL.route];
const orderOf = (type: string) => (PUSH_ORDER.indexOf(type as (typeof PUSH_ORDER)[number]) + 5) % 5;

/**
 * envoy.service.discovery.v3.AggregatedDiscoveryService, state of the world:
 * the gRPC side of ADS. Protocol decisions are StreamState's; this class
 * only moves requests and responses, and keeps the list of connected proxies.
 */
export class AdsServer<P extends ProxyIdentity> {
  private readonly streams = new Set<{ call: grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>; close: () => void; proxy: () => P | undefined }>();
  private readonly proxies = new Map<string, ConnectedProxy<P>>();
  private readonly pushes: Counter;
  private readonly nacks: Counter;

  constructor(private readonly options: AdsServerOptions<P>) {
    const registers = [options.registry];
    const proxies = this.proxies;
    new Gauge({
      name: 'meshfed_xds_connected_proxies',
      help: 'Proxies with an open ADS stream, by tenant.',
      labelNames: ['tenant'],
      registers,
      collect() {
        this.reset();
        const counts = new Map<string, number>();
        for (const p of proxies.values()) counts.set(p.proxy.tenant, (counts.get(p.proxy.tenant) ?? 0) + 1);
        for (const [tenant, n] of counts) this.set({ tenant }, n);
      },
    });
    this.pushes = new Counter({ name: 'meshfed_xds_responses_total', help: 'Discovery responses sent, by type.', labelNames: ['type'], registers });
    this.nacks = new Counter({ name: 'meshfed_xds_nacks_total', help: 'Configs proxies refused, by type.', labelNames: ['type'], registers });
  }

  connected(): ConnectedProxy<P>[] {
    return [...this.proxies.values()];
  }

  /** The handler object to add to a grpc.Server for the ADS service. */
  handlers(port: 'mtls' | 'plaintext'): grpc.UntypedServiceImplementation {
    return {
      StreamAggregatedResources: (call: grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>) => this.serve(call, port),
      DeltaAggregatedResources: (call: grpc.ServerDuplexStream<unknown, unknown>) => endWithStatus(call, grpc.status.UNIMPLEMENTED, 'delta xDS is not supported; use state of the world'),
    };
  }

  /** Ends the streams of proxies that may no longer have config (a revoked token); they get PERMISSION_DENIED. */
  disconnect(which: (proxy: P) => boolean, reason: string): void {
    for (const stream of [...this.streams]) {
      const proxy = stream.proxy();
      if (!proxy || !which(proxy)) continue;
      this.options.log.warn({ proxy: proxy.id, reason }, 'disconnecting proxy');
      endWithStatus(stream.call, grpc.status.PERMISSION_DENIED, reason);
      stream.close();
    }
  }

  /** Ends every stream cleanly (status OK), so proxies reconnect elsewhere rather than see an error. */
  closeAll(): void {
    for (const stream of [...this.streams]) stream.close();
  }

  private serve(call: grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>, port: 'mtls' | 'plaintext'): void {
    const { log } = this.options;
    const state = new StreamState();
    let connected: ConnectedProxy<P> | undefined;
    let snapshot: ProxySnapshot | undefined;
    let unwatch: (() => void) | undefined;
    let identifying: Promise<boolean> | undefined;
    let closed = false;
    const queue: DiscoveryRequest[] = [];

    const send = (type: string) => {
      if (!snapshot || closed) return;
      const response = state.responseFor(type, snapshot);
      if (!response) return;
      call.write(response);
      this.pushes.inc({ type: shortType(type) });
    };
    const close = () => {
      if (closed) return;
      closed = true;
      unwatch?.();
      this.streams.delete(stream);
      if (connected && this.proxies.get(connected.proxy.id) === connected) this.proxies.delete(connected.proxy.id);
      if (connected) log.info({ proxy: connected.proxy.id, tenant: connected.proxy.tenant }, 'proxy disconnected');
      if (!call.writableEnded) call.end();
    };
    const stream = { call, close, proxy: () => connected?.proxy };
    this.streams.add(stream);

    const handle = (request: DiscoveryRequest) => {
      const outcome = state.onRequest(request);
      if (outcome.kind === 'nack') {
        this.nacks.inc({ type: shortType(request.type_url) });
        // Logged once per refused config: StreamState does not send it again, so this cannot repeat in a loop.
        log.warn({ proxy: connected?.proxy.id, type: shortType(request.type_url), version: outcome.version, error: outcome.message }, 'proxy rejected config (NACK)');
      }
      if (outcome.kind !== 'stale') send(request.type_url);
    };

    call.on('data', (request: DiscoveryRequest & { node?: XdsNode }) => {
      if (closed) return;
      if (connected) return handle(request);
      queue.push(request);
      identifying ??= this.options.identify(call, request.node ?? {}, port).then(
        (outcome) => {
          if (closed) return false;
          if (!outcome.ok) {
            log.warn({ node: request.node?.id, reason: outcome.message }, 'xDS stream refused');
            endWithStatus(call, outcome.code, outcome.message);
            close();
            return false;
          }
          const proxy = outcome.proxy;
          connected = { proxy, connectedAt: new Date(), port, userAgent: request.node?.user_agent_name ?? '', state, snapshot: () => snapshot };
          // A proxy that reconnects replaces its old stream.
          if (this.proxies.has(proxy.id)) log.info({ proxy: proxy.id }, 'proxy reconnected; replacing its previous stream');
          this.proxies.set(proxy.id, connected);
          log.info({ proxy: proxy.id, tenant: proxy.tenant, port }, 'proxy connected');
          unwatch = this.options.watch(proxy, (next) => {
            snapshot = next;
            for (const type of state.subscribedTypes().sort((a, b) => orderOf(a) - orderOf(b))) send(type);
          });
          for (const queued of queue.splice(0)) handle(queued);
          return true;
        },
        (error: Error) => {
          log.error({ err: error.message }, 'identifying an xDS stream failed');
          endWithStatus(call, grpc.status.INTERNAL, 'internal error');
          close();
          return false;
        },
      );
    });
    call.on('end', close);
    call.on('error', close);
    call.on('cancelled', close);
    call.on('close', close);
  }
}

/** grpc-js sends a duplex stream's status when it ends; an 'error' event sets that status first. */
function endWithStatus(call: grpc.ServerDuplexStream<unknown, unknown>, code: grpc.status, details: string): void {
  call.emit('error', { code, details, metadata: new grpc.Metadata() });
}

const shortType = (type: string) => type.slice(type.lastIndexOf('.') + 1);
