/**
 * The sidecar's clusters at run time: per cluster its settings, endpoint
 * picker, outlier detector, circuit breaker and connection pool. A new
 * config updates them in place, so balancing positions, ejections,
 * in-flight counts and pooled connections survive config changes.
 */
import type { Logger } from '../../core/log.js';
import type { ClusterSettings, GatewayConfig, UpstreamTls } from '../config/model.js';
import { ClusterPicker, OutlierDetector, endpointKey, outlierConfig, type Host, type LoadAssignment } from '../lb/index.js';
import { CircuitBreaker } from '../resilience/index.js';
import type { TlsIdentity } from './tls-identity.js';
import { UpstreamPool } from './upstream-pool.js';

export interface ClusterRuntime {
  readonly name: string;
  settings: ClusterSettings;
  readonly picker: ClusterPicker;
  outlier: OutlierDetector | undefined;
  breaker: CircuitBreaker;
  readonly pool: UpstreamPool;
}

export interface ClusterSetOptions {
  identity: TlsIdentity | undefined;
  log: Logger;
  /** Told when an upstream connection of a cluster opens (+1) or closes (−1). */
  onConnectionCount?: (cluster: string, delta: number) => void;
}

const EMPTY: LoadAssignment = { levels: [] };

/** The TLS to reach a host with: the remote-ingress transport for endpoints marked remote, else the cluster's. Pure. */
export function tlsFor(settings: ClusterSettings, host: Host): UpstreamTls | undefined {
  return isRemote(host) && settings.remoteTls ? settings.remoteTls : settings.tls;
}

/** Whether the endpoint is another zone's ingress (`envoy.transport_socket_match: { meshfed.remote: true }`). Pure. */
export function isRemote(host: Host): boolean {
  const match = host.endpoint.metadata?.['envoy.transport_socket_match'] as Record<string, unknown> | undefined;
  return match?.['meshfed.remote'] === true;
}

/** The zone an endpoint is in: the remote zone for an ingress endpoint, else the locality's zone. Pure. */
export function zoneOf(host: Host): string {
  const meshfed = host.endpoint.metadata?.meshfed as Record<string, unknown> | undefined;
  if (typeof meshfed?.zone === 'string') return meshfed.zone;
  return host.locality.split('/')[1] ?? '';
}

export class ClusterSet {
  private readonly clusters = new Map<string, ClusterRuntime>();
  private readonly unsubscribeIdentity: (() => void) | undefined;

  constructor(private readonly options: ClusterSetOptions) {
    this.unsubscribeIdentity = options.identity?.onChange(() => {
      for (const cluster of this.clusters.values()) cluster.pool.retireOldGenerations();
    });
  }

  get(name: string): ClusterRuntime | undefined {
    return this.clusters.get(name);
  }

  all(): IterableIterator<ClusterRuntime> {
    return this.clusters.values();
  }

  /** Brings the clusters in line with a new config. */
  apply(config: GatewayConfig): void {
    for (const [name, cluster] of this.clusters) {
      if (config.clusters.has(name)) continue;
      this.clusters.delete(name);
      cluster.pool.close();
    }
    for (const settings of config.clusters.values()) {
      const assignment = (settings.kind === 'static' ? settings.staticAssignment : config.assignments.get(settings.edsName ?? settings.name)) ?? EMPTY;
      const existing = this.clusters.get(settings.name);
      if (existing) this.update(existing, settings, assignment);
      else this.clusters.set(settings.name, this.create(settings, assignment));
    }
  }

  stop(): void {
    this.unsubscribeIdentity?.();
    for (const cluster of this.clusters.values()) cluster.pool.close();
    this.clusters.clear();
  }

  private create(settings: ClusterSettings, assignment: LoadAssignment): ClusterRuntime {
    const outlier = settings.outlierDetection ? new OutlierDetector(outlierConfig(settings.outlierDetection)) : undefined;
    const runtime: ClusterRuntime = {
      name: settings.name,
      settings,
      outlier,
      picker: new ClusterPicker(assignment, outlier ? { outlier } : {}),
      breaker: new CircuitBreaker(settings.circuitBreaker),
      pool: new UpstreamPool(this.poolOptions(settings)),
    };
    return runtime;
  }

  private update(runtime: ClusterRuntime, settings: ClusterSettings, assignment: LoadAssignment): void {
    const previous = runtime.settings;
    runtime.settings = settings;
    if (JSON.stringify(previous.circuitBreaker) !== JSON.stringify(settings.circuitBreaker)) runtime.breaker = new CircuitBreaker(settings.circuitBreaker);
    if (JSON.stringify(previous.outlierDetection) !== JSON.stringify(settings.outlierDetection)) {
      // New thresholds start counting afresh; a picker without detector treats every endpoint as in service.
      runtime.outlier = settings.outlierDetection ? new OutlierDetector(outlierConfig(settings.outlierDetection)) : undefined;
      runtime.picker.useOutlierDetector(runtime.outlier);
    }
    runtime.pool.reconfigure(this.poolOptions(settings));
    runtime.picker.update(assignment);
    const keys = new Set(assignment.levels.flatMap((level) => level.localities.flatMap((l) => l.endpoints.map(endpointKey))));
    runtime.pool.retainEndpoints(keys);
  }

  private poolOptions(settings: ClusterSettings) {
    return {
      cluster: settings.name,
      identity: this.options.identity,
      connectTimeoutMs: settings.connectTimeoutMs,
      maxConnections: settings.circuitBreaker.maxConnections ?? 1024,
      onConnectionCount: (delta: number) => this.options.onConnectionCount?.(settings.name, delta),
    };
  }
}
