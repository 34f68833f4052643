import type { AddressInfo } from 'node:net';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../../core/log.js';
import { ClusterPicker, OutlierDetector, endpointKey, outlierConfig, type OutlierDetectionInput, type OutlierOutcome } from '../lb/index.js';
import type { XdsSnapshot } from '../xds/snapshot.js';
import { ingressConfigFromSnapshot, type IngressClusterConfig } from './from-snapshot.js';
import { IngressServer, type UpstreamEndpoint, type UpstreamOutcome } from './ingress-server.js';

export interface IngressGatewayOptions {
  /** The port to listen on (the one the ingress announced to the zone CP as its ingress port); 0 picks a free one. */
  port: number;
  /** Address to bind, overriding the `ingress:sni` listener's (which is 0.0.0.0 from meshfed's zone CP). */
  bindAddress?: string;
  registry: Registry;
  log: Logger;
  /** How long `stop()` lets open connections finish before closing them. Default 10 s. */
  drainMs?: number;
  /** Outlier detection for clusters that come without any. Default none: like Envoy, such clusters eject nobody. */
  defaultOutlierDetection?: OutlierDetectionInput;
  /** Passed to the IngressServer. */
  maxConnectionsPerTenant?: number;
  handshakeTimeoutMs?: number;
  connectAttempts?: number;
  /** Milliseconds, monotonic: the outlier detectors' clock (tests). */
  now?: () => number;
}

interface ClusterState {
  readonly tenant: string;
  readonly picker: ClusterPicker;
  readonly outlier: OutlierDetector | undefined;
  /** `outlierConfig(...)` as JSON: a change replaces the detector (and the picker that holds it). */
  readonly outlierKey: string;
  connectTimeoutMs: number;
  /** `endpointKey` of every endpoint in the assignment. */
  hosts: string[];
}

const hostKeysOf = (config: IngressClusterConfig) => config.assignment.levels.flatMap((level) => level.localities.flatMap((l) => l.endpoints.map(endpointKey)));

/**
 * How the outcome of one TCP connect counts for outlier detection. A
 * successful connect is the whole of a TCP proxy's "request": Envoy's
 * tcp_proxy reports it as LocalOriginConnectSuccessFinal, which without
 * split_external_local_origin_errors counts as a 200 (ending a run of
 * failures), and with it as a local-origin success. Pure.
 */
export function outlierOutcomeOf(outcome: UpstreamOutcome, splitExternalLocalOriginErrors: boolean): OutlierOutcome {
  if (outcome === 'connect-failure') return { kind: 'connect-failure' };
  return splitExternalLocalOriginErrors ? { kind: 'connect-success' } : { kind: 'response', status: 200 };
}

/**
 * The east-west ingress gateway as a whole: turns each xDS snapshot into
 * routes and load balancers (from-snapshot.ts), and feeds them to one
 * IngressServer that moves the bytes. Per cluster, a ClusterPicker and an
 * OutlierDetector live across snapshots, so a new assignment keeps the
 * round-robin positions and the ejections of endpoints that stay.
 */
export class IngressGateway {
  /** Resolves once stopped and every connection is closed. */
  readonly closed: Promise<void>;
  private readonly server: IngressServer;
  private readonly clusters = new Map<string, ClusterState>();
  private readonly ejections: Counter<'tenant' | 'cluster' | 'reason'>;
  private listening: Promise<AddressInfo> | undefined;
  private bound: AddressInfo | undefined;
  private configured = false;
  private stopping = false;
  private lastProblems: readonly string[] = [];
  private warnedListener = '';
  /** The host the first apply bound (or is binding). */
  private boundHost: string | undefined;

  constructor(private readonly options: IngressGatewayOptions) {
    const { registry, log } = options;
    this.server = new IngressServer({
      table: {},
      placedTenants: [],
      pickEndpoint: (cluster) => this.pick(cluster),
      onResult: (cluster, endpoint, outcome) => this.record(cluster, endpoint, outcome),
      registry,
      log,
      ...(options.maxConnectionsPerTenant !== undefined ? { maxConnectionsPerTenant: options.maxConnectionsPerTenant } : {}),
      ...(options.handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs: options.handshakeTimeoutMs } : {}),
      ...(options.connectAttempts !== undefined ? { connectAttempts: options.connectAttempts } : {}),
    });
    this.closed = this.server.closed;
    const clusters = this.clusters;
    const problems = () => this.lastProblems.length;
    this.ejections = new Counter({
      name: 'meshfed_ingress_outlier_ejections_total',
      help: 'Endpoints ejected by outlier detection, by tenant, cluster and detector.',
      labelNames: ['tenant', 'cluster', 'reason'],
      registers: [registry],
    });
    new Gauge({
      name: 'meshfed_ingress_ejected_endpoints',
      help: 'Endpoints ejected by outlier detection now, by tenant and cluster.',
      labelNames: ['tenant', 'cluster'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [cluster, state] of clusters) if (state.outlier) this.set({ tenant: state.tenant, cluster }, state.outlier.ejectedCount());
      },
    });
    new Gauge({
      name: 'meshfed_ingress_config_problems',
      help: 'Parts of the last xDS config the ingress could not use (see its log).',
      registers: [registry],
      collect() {
        this.set(problems());
      },
    });
  }

  /**
   * Applies a snapshot: new connections follow it at once, open ones are
   * untouched. The first call also starts listening; the promise settles
   * when the port is open (or could not be opened: a later call tries again).
   */
  apply(snapshot: XdsSnapshot): Promise<AddressInfo | undefined> {
    if (this.stopping) return Promise.resolve(undefined);
    const config = ingressConfigFromSnapshot(snapshot);
    this.updateClusters(config.clusters);
    this.server.update(config.table, config.placedTenants);
    this.configured = true;
    this.reportProblems(config.problems);
    this.options.log.info({ routes: Object.keys(config.table).length, tenants: [...config.placedTenants].sort(), clusters: config.clusters.size, versions: snapshot.versions }, 'ingress config applied');

    const host = this.options.bindAddress ?? config.listener?.address ?? '0.0.0.0';
    this.checkListener(config.listener, host);
    if (!this.listening) {
      this.boundHost = host;
      const listening = this.server.start({ host, port: this.options.port });
      this.listening = listening;
      listening.then(
        (address) => (this.bound = address),
        () => {
          if (this.listening === listening) this.listening = undefined;
        },
      );
    }
    return this.listening;
  }

  /** Listening, with a config, and not stopping. */
  ready(): boolean {
    return this.bound !== undefined && this.configured && !this.stopping;
  }

  /** The address listened on, once listening. */
  address(): AddressInfo | undefined {
    return this.bound;
  }

  /** What the last snapshot held that the ingress could not use. */
  problems(): readonly string[] {
    return this.lastProblems;
  }

  /** Connections open now. */
  openConnections(): number {
    return this.server.openConnections();
  }

  /** Endpoints (`host:port`) of a cluster that outlier detection has ejected now. */
  ejected(cluster: string): string[] {
    const state = this.clusters.get(cluster);
    const outlier = state?.outlier;
    return outlier ? state.hosts.filter((key) => outlier.isEjected(key)) : [];
  }

  /** Stops accepting, lets open connections finish for the drain period, then closes the rest. */
  async stop(): Promise<void> {
    if (this.stopping) return this.closed;
    this.stopping = true;
    await this.listening?.catch(() => undefined);
    await this.server.stop({ drainMs: this.options.drainMs ?? 10_000 });
  }

  private updateClusters(configs: ReadonlyMap<string, IngressClusterConfig>): void {
    for (const name of this.clusters.keys()) if (!configs.has(name)) this.clusters.delete(name);
    for (const [name, config] of configs) {
      const input = config.outlier ?? this.options.defaultOutlierDetection;
      const outlierKey = input ? JSON.stringify(outlierConfig(input)) : '';
      const current = this.clusters.get(name);
      if (current && current.outlierKey === outlierKey && current.tenant === config.tenant) {
        current.picker.update(config.assignment);
        current.connectTimeoutMs = config.connectTimeoutMs;
        current.hosts = hostKeysOf(config);
        continue;
      }
      const outlier = input ? new OutlierDetector(outlierConfig(input), this.options.now ? { now: this.options.now } : {}) : undefined;
      const picker = new ClusterPicker(config.assignment, outlier ? { outlier } : {});
      this.clusters.set(name, { tenant: config.tenant, picker, outlier, outlierKey, connectTimeoutMs: config.connectTimeoutMs, hosts: hostKeysOf(config) });
    }
  }

  private pick(cluster: string): UpstreamEndpoint | undefined {
    const state = this.clusters.get(cluster);
    const host = state?.picker.pick();
    if (!state || !host) return undefined;
    return { host: host.endpoint.address, port: host.endpoint.port, connectTimeoutMs: state.connectTimeoutMs };
  }

  private record(cluster: string, endpoint: UpstreamEndpoint, outcome: UpstreamOutcome): void {
    const state = this.clusters.get(cluster);
    if (!state?.outlier) return;
    const key = endpointKey({ address: endpoint.host, port: endpoint.port });
    const ejection = state.outlier.record(key, outlierOutcomeOf(outcome, state.outlier.config.splitExternalLocalOriginErrors));
    if (!ejection) return;
    this.ejections.inc({ tenant: state.tenant, cluster, reason: ejection.reason });
    this.options.log.warn({ tenant: state.tenant, cluster, endpoint: key, reason: ejection.reason, durationMs: ejection.durationMs }, 'ingress endpoint ejected');
  }

  private reportProblems(problems: string[]): void {
    const changed = problems.length !== this.lastProblems.length || problems.some((p, i) => p !== this.lastProblems[i]);
    this.lastProblems = problems;
    if (!changed) return;
    for (const problem of problems) this.options.log.warn({ problem }, 'ingress config: part of it cannot be used');
  }

  /** Warns (once per distinct warning) when the zone CP's listener is not where the ingress listens; the port is the ingress's own, the address is bound once. */
  private checkListener(listener: { address: string; port: number } | undefined, host: string): void {
    const warning = [
      listener && this.options.port !== 0 && listener.port !== this.options.port ? `the zone CP's listener port ${listener.port} is not the ingress port ${this.options.port}` : '',
      this.boundHost !== undefined && this.boundHost !== host ? `the listener address changed to ${host}; still bound to ${this.boundHost} (a restart rebinds)` : '',
    ]
      .filter(Boolean)
      .join('; ');
    if (warning && warning !== this.warnedListener) this.options.log.warn({ listener }, warning);
    this.warnedListener = warning;
  }
}
