import { readFile } from 'node:fs/promises';
import * as grpc from '@grpc/grpc-js';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../../core/log.js';
import { ADS_PROTO, loadGrpcPackage } from '../../core/proto/load.js';
import { RESOURCE_TYPES, type ResourceType } from '../../core/xds/protos.js';
import { CONTROL_PLANE_BACKOFF, backoffDelayMs, controlPlaneCredentials, type Backoff, type Svid, type SvidSource } from '../certs/index.js';
import { AdsClientState, type DiscoveryRequest, type DiscoveryResponse } from './client-state.js';
import { gatewayNode, type AdsNode, type GatewayNodeOptions } from './node.js';
import { missingReferences, nothingMissing, type XdsSnapshot } from './snapshot.js';
import { loadXdsSnapshot, saveXdsSnapshot } from './snapshot-file.js';
import { validateResource, type ResourceValidator } from './validate.js';

export interface AdsClientOptions {
  /** host:port of the zone CP's TLS gRPC port. */
  address: string;
  /** The CA file the zone CP's gRPC certificate is pinned to (`<zone state dir>/tls/ca.crt`); read on every connect. */
  caFile: string;
  /** The dataplane token (`mfd_…`), sent as `authorization: Bearer` metadata. */
  token: string;
  node: GatewayNodeOptions;
  /** The SVID presented as client certificate; required for a sidecar (the zone CP insists on it), unused by the ingress. */
  identity?: SvidSource;
  /** Checks each resource before it is applied; default `validateResource`. */
  validate?: ResourceValidator;
  /** Where to keep the last good snapshot, so a restarted gateway serves it before the zone CP answers. */
  snapshotFile?: string;
  /** Quiet time gathered before a snapshot is emitted, so the LDS, RDS, CDS and EDS of one change come together. Default 50 ms. */
  debounceMs?: number;
  /** How long a snapshot may wait for something its resources refer to before it is emitted without it. Default 15 s (gRPC's "does not exist" timer). */
  missingTimeoutMs?: number;
  /** Reconnect back-off; default 1 s × 1.6ⁿ ±20 %, capped at 30 s. */
  reconnect?: Backoff;
  /** Name to check the zone CP's certificate for, when not the host of `address`. */
  serverName?: string;
  registry: Registry;
  log: Logger;
  random?: () => number;
}

type AdsStream = grpc.ClientDuplexStream<DiscoveryRequest & { node?: AdsNode }, DiscoveryResponse>;
type AdsServiceStub = grpc.Client & { StreamAggregatedResources(metadata: grpc.Metadata): AdsStream };
type AdsServiceConstructor = new (address: string, credentials: grpc.ChannelCredentials, options?: grpc.ChannelOptions) => AdsServiceStub;

let serviceConstructor: AdsServiceConstructor | undefined;
function adsService(): AdsServiceConstructor {
  serviceConstructor ??= (loadGrpcPackage([ADS_PROTO]) as unknown as { envoy: { service: { discovery: { v3: { AggregatedDiscoveryService: AdsServiceConstructor } } } } }).envoy.service.discovery.v3
    .AggregatedDiscoveryService;
  return serviceConstructor;
}

const shortType = (type: ResourceType) => ({ listener: 'Listener', route: 'RouteConfiguration', cluster: 'Cluster', endpoint: 'ClusterLoadAssignment' })[type];

/**
 * The gateway's state-of-the-world ADS client to its zone CP's TLS port:
 * mTLS with the proxy's SVID (the ingress has none), the dataplane token as
 * metadata. Subscribes to every listener and cluster, and to the route
 * configurations and assignments they name; ACKs what validates, NACKs the
 * rest. Emits a snapshot only once it is consistent (whatever a listener,
 * route or cluster refers to is there). When the stream ends it keeps the
 * last snapshot and reconnects with jittered back-off; a new SVID also
 * reconnects, with the new client certificate.
 */
export class AdsClient {
  /** Resolves once stopped. */
  readonly closed: Promise<void>;
  private readonly state: AdsClientState;
  private readonly node: AdsNode;
  private readonly listeners = new Set<(snapshot: XdsSnapshot) => void>();
  private readonly connectedGauge: Gauge;
  private readonly responses: Counter<'type' | 'result'>;
  private readonly reconnects: Counter;
  private readonly random: () => number;
  private last: XdsSnapshot | undefined;
  private client: AdsServiceStub | undefined;
  private stream: AdsStream | undefined;
  /** Counts streams, so events of an abandoned one are ignored. */
  private generation = 0;
  private failures = 0;
  private streamAnswered = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private emitTimer: NodeJS.Timeout | undefined;
  private missingTimer: NodeJS.Timeout | undefined;
  /** Whether the resources changed since the last snapshot was emitted. */
  private dirty = false;
  /** Since when the held resources have been waiting for something they refer to. */
  private incompleteSince: number | undefined;
  private saving: Promise<void> = Promise.resolve();
  private unsubscribeIdentity: (() => void) | undefined;
  private started = false;
  private stopping = false;
  private markClosed!: () => void;

  constructor(private readonly options: AdsClientOptions) {
    this.node = gatewayNode(options.node);
    if (options.node.kind === 'sidecar' && !options.identity) throw new Error('a sidecar connects with its SVID: pass identity (an SvidManager)');
    this.state = new AdsClientState(options.validate ?? validateResource);
    this.random = options.random ?? Math.random;
    this.closed = new Promise((resolve) => (this.markClosed = resolve));
    const registers = [options.registry];
    this.connectedGauge = new Gauge({ name: 'meshfed_gateway_xds_connected', help: '1 while the ADS stream to the zone CP is up and answering.', registers });
    this.responses = new Counter({ name: 'meshfed_gateway_xds_responses_total', help: 'Discovery responses received, by type and whether they were ACKed or NACKed.', labelNames: ['type', 'result'], registers });
    this.reconnects = new Counter({ name: 'meshfed_gateway_xds_reconnects_total', help: 'ADS streams opened again after one ended or the SVID changed.', registers });
    for (const type of RESOURCE_TYPES) for (const result of ['ack', 'nack']) this.responses.inc({ type: shortType(type), result }, 0);
  }

  /** Serves the saved snapshot (if any) at once, then connects in the background. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.restore();
    if (this.stopping) return;
    this.unsubscribeIdentity = this.options.identity?.onUpdate((svid) => this.onSvid(svid));
    this.connect();
  }

  /** Calls `listener` with every new consistent snapshot (and at once with the current one, if any); returns the unsubscribe function. */
  onSnapshot(listener: (snapshot: XdsSnapshot) => void): () => void {
    this.listeners.add(listener);
    if (this.last) this.call(listener, this.last);
    return () => this.listeners.delete(listener);
  }

  /** The last consistent snapshot emitted. */
  snapshot(): XdsSnapshot | undefined {
    return this.last;
  }

  /** Whether a stream is up and the zone CP has answered on it. */
  connected(): boolean {
    return this.stream !== undefined && this.streamAnswered;
  }

  /** Per type: the version accepted and the last NACK's reason. */
  status(): Record<ResourceType, { version: string; lastNack: string | null }> {
    return Object.fromEntries(RESOURCE_TYPES.map((type) => [type, { version: this.state.version(type), lastNack: this.state.lastNack(type) ?? null }])) as Record<ResourceType, { version: string; lastNack: string | null }>;
  }

  async stop(): Promise<void> {
    if (this.stopping) return this.closed;
    this.stopping = true;
    this.unsubscribeIdentity?.();
    for (const timer of [this.reconnectTimer, this.emitTimer, this.missingTimer]) clearTimeout(timer);
    this.closeStream();
    this.connectedGauge.set(0);
    await this.saving;
    this.markClosed();
  }

  // ---- stream ----

  private connect(): void {
    this.reconnectTimer = undefined;
    if (this.stopping) return;
    const svid = this.options.identity?.current();
    if (this.options.node.kind === 'sidecar' && !svid) {
      // The zone CP would refuse the stream; the SVID's arrival connects (onSvid).
      this.options.log.info({ node: this.node.id }, 'waiting for an SVID before connecting to the zone CP');
      return;
    }
    const generation = ++this.generation;
    readFile(this.options.caFile).then(
      (ca) => {
        if (generation !== this.generation || this.stopping) return;
        this.open(generation, ca, this.options.node.kind === 'sidecar' ? svid : undefined);
      },
      (error: Error) => {
        if (generation !== this.generation || this.stopping) return;
        this.options.log.warn({ caFile: this.options.caFile, err: error.message }, "cannot read the zone CP's CA file");
        this.scheduleReconnect();
      },
    );
  }

  private open(generation: number, ca: Buffer, svid: Svid | undefined): void {
    const { log } = this.options;
    const { credentials, options } = controlPlaneCredentials(this.options.address, this.options.serverName, ca, svid ? { keyPem: svid.keyPem, certChainPem: svid.certChainPem.join('\n') } : undefined);
    const Service = adsService();
    const client = new Service(this.options.address, credentials, options);
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${this.options.token}`);
    const stream = client.StreamAggregatedResources(metadata);
    this.client = client;
    this.stream = stream;
    this.streamAnswered = false;
    let ended = false;
    const end = (status: grpc.StatusObject | undefined) => {
      if (ended) return;
      ended = true;
      if (generation !== this.generation || this.stopping) return;
      log.warn({ address: this.options.address, code: status ? grpc.status[status.code] : 'unknown', details: status?.details }, 'ADS stream to the zone CP ended; keeping the last config and reconnecting');
      this.closeStream();
      this.scheduleReconnect();
    };
    stream.on('data', (response: DiscoveryResponse) => {
      if (generation === this.generation && !this.stopping) this.onResponse(response);
    });
    stream.on('status', (status: grpc.StatusObject) => end(status));
    // 'status' follows with the details; without this handler the error would be thrown.
    stream.on('error', () => undefined);
    stream.on('end', () => setImmediate(() => end(undefined)));
    const requests = this.state.streamOpened();
    requests.forEach((request, index) => this.write(index === 0 ? { ...request, node: this.node } : request));
    log.info({ address: this.options.address, node: this.node.id, mtls: svid !== undefined }, 'ADS stream to the zone CP opened');
  }

  private write(request: DiscoveryRequest & { node?: AdsNode }): void {
    if (!this.stream || this.stream.writableEnded) return;
    this.stream.write(request);
  }

  private closeStream(): void {
    const stream = this.stream;
    const client = this.client;
    this.stream = undefined;
    this.client = undefined;
    this.streamAnswered = false;
    this.connectedGauge.set(0);
    stream?.cancel();
    client?.close();
  }

  private scheduleReconnect(): void {
    if (this.stopping || this.reconnectTimer) return;
    // A stream the zone CP answered on was a success: back-off starts over.
    this.failures += 1;
    const delayMs = backoffDelayMs(this.failures, this.options.reconnect ?? CONTROL_PLANE_BACKOFF, this.random());
    this.options.log.debug({ delayMs, failures: this.failures }, 'reconnecting to the zone CP');
    this.reconnectTimer = setTimeout(() => {
      this.reconnects.inc();
      this.connect();
    }, delayMs);
  }

  /**
   * Opens the stream again if one is open, so the zone CP identifies this
   * proxy afresh (it reads what it knows of the proxy, e.g. its registered
   * ports, when a stream opens). Nothing to do while no stream is open.
   */
  renewStream(reason: string): void {
    if (this.stopping || !this.stream) return;
    this.options.log.info({ reason }, 'reopening the ADS stream');
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.reconnects.inc();
    this.generation += 1;
    this.closeStream();
    this.connect();
  }

  private onSvid(svid: Svid): void {
    if (this.stopping) return;
    this.options.log.info({ spiffeId: svid.spiffeId, expiresAt: svid.expiresAt.toISOString() }, 'new SVID: reconnecting ADS with it');
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    if (this.stream) this.reconnects.inc();
    this.generation += 1;
    this.closeStream();
    this.connect();
  }

  // ---- protocol ----

  private onResponse(response: DiscoveryResponse): void {
    if (!this.streamAnswered) {
      this.streamAnswered = true;
      this.failures = 0;
      this.connectedGauge.set(1);
    }
    const { outcome, requests } = this.state.onResponse(response);
    for (const request of requests) this.write(request);
    if (!outcome) return;
    this.responses.inc({ type: shortType(outcome.type), result: outcome.kind });
    if (outcome.kind === 'nack') {
      this.options.log.warn({ type: shortType(outcome.type), version: outcome.version, reason: outcome.reason }, 'rejected config from the zone CP (NACK); keeping the previous one');
      return;
    }
    this.options.log.debug({ type: shortType(outcome.type), version: outcome.version, changed: outcome.changed }, 'config accepted (ACK)');
    if (outcome.changed) {
      this.dirty = true;
      this.scheduleEmit();
    }
  }

  private scheduleEmit(): void {
    clearTimeout(this.emitTimer);
    this.emitTimer = setTimeout(() => this.tryEmit(), this.options.debounceMs ?? 50);
  }

  /** Emits the held resources if they changed and are consistent, or have waited long enough for what is missing. */
  private tryEmit(): void {
    this.emitTimer = undefined;
    if (!this.dirty || this.stopping) return;
    const snapshot = this.state.snapshot();
    const missing = missingReferences(snapshot);
    if (!nothingMissing(missing)) {
      const timeoutMs = this.options.missingTimeoutMs ?? 15_000;
      this.incompleteSince ??= Date.now();
      const waited = Date.now() - this.incompleteSince;
      if (waited < timeoutMs) {
        clearTimeout(this.missingTimer);
        this.missingTimer = setTimeout(() => this.tryEmit(), timeoutMs - waited);
        return;
      }
      this.options.log.warn({ missing }, 'config still refers to resources the zone CP has not sent; applying it without them');
    }
    clearTimeout(this.missingTimer);
    this.incompleteSince = undefined;
    this.dirty = false;
    this.emit(snapshot);
    if (this.options.snapshotFile) {
      const file = this.options.snapshotFile;
      const held = this.state.held();
      this.saving = this.saving.then(() =>
        saveXdsSnapshot(file, { id: this.node.id, kind: this.options.node.kind }, held).catch((error: Error) => this.options.log.error({ file, err: error.message }, 'could not save the xDS snapshot')),
      );
    }
  }

  private emit(snapshot: XdsSnapshot): void {
    this.last = snapshot;
    for (const listener of [...this.listeners]) this.call(listener, snapshot);
  }

  private call(listener: (snapshot: XdsSnapshot) => void, snapshot: XdsSnapshot): void {
    try {
      listener(snapshot);
    } catch (error) {
      this.options.log.error({ err: (error as Error).message }, 'a snapshot listener failed');
    }
  }

  private async restore(): Promise<void> {
    const file = this.options.snapshotFile;
    if (!file) return;
    const node = { id: this.node.id, kind: this.options.node.kind };
    try {
      const saved = await loadXdsSnapshot(file, node);
      if (!saved) return;
      const problem = this.state.restore(saved.resources);
      if (problem) throw new Error(problem);
      this.options.log.info({ file, savedAt: saved.savedAt }, 'serving the saved xDS snapshot until the zone CP answers');
      this.emit(this.state.snapshot());
    } catch (error) {
      this.options.log.warn({ file, err: (error as Error).message }, 'the saved xDS snapshot cannot be used; waiting for the zone CP');
    }
  }
}
