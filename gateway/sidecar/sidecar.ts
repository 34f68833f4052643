/**
 * meshfed's sidecar: applies each xDS snapshot the ADS client delivers —
 * compiled, then clusters before listeners (make before break) — and
 * reports every request and connection to the access log and metrics.
 * Snapshots are applied one at a time, in order.
 */
import type { Logger } from '../../core/log.js';
import { compileSnapshot } from '../config/compile.js';
import type { GatewayConfig } from '../config/model.js';
import type { Ejection } from '../lb/index.js';
import type { AccessLogEntry, AccessLogger, ProxyMetrics, TcpConnectionResult } from '../observability/index.js';
import type { BreakerResource } from '../resilience/index.js';
import type { XdsSnapshot } from '../xds/index.js';
import { ClusterSet } from './cluster-set.js';
import type { RequestObserver } from './http-proxy.js';
import { ListenerSet, type ListenerStatus } from './listener-set.js';
import type { TcpConnectionRecord, TcpObserver } from './tcp-proxy.js';
import type { TlsIdentity } from './tls-identity.js';

export interface SidecarOptions {
  readonly identity: TlsIdentity;
  readonly metrics: ProxyMetrics;
  readonly accessLog: AccessLogger;
  readonly log: Logger;
  /** `<service>.<namespace>` this sidecar fronts: the destination of inbound traffic, the source of outbound. */
  readonly localService: string;
  readonly outboundAddress?: string;
  readonly inboundAddress?: string;
  /** Time connections of a removed listener get to finish; default 30 s. */
  readonly drainMs?: number;
  /** Request body bytes kept for retries; default 1 MiB (Envoy's buffer limit). */
  readonly replayLimitBytes?: number;
}

/** `<service>.<namespace>` from a workload SPIFFE ID (`spiffe://<td>/ns/<ns>/sa/<sa>`), the service account standing for the service. Pure. */
export function serviceOfSpiffeId(spiffeId: string | null | undefined): string | undefined {
  const match = /^spiffe:\/\/[^/]+\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(spiffeId ?? '');
  return match ? `${match[2]}.${match[1]}` : undefined;
}

/** `<service>.<namespace>` from a mesh cluster name (`<svc>.<ns>.mesh:<port>[|subset]`); undefined for inbound and other clusters. Pure. */
export function serviceOfCluster(cluster: string | null | undefined): string | undefined {
  const match = /^([^.|:]+)\.([^.|:]+)\.mesh:\d+/.exec(cluster ?? '');
  return match ? `${match[1]}.${match[2]}` : undefined;
}

export class Sidecar implements RequestObserver, TcpObserver {
  private readonly clusters: ClusterSet;
  private readonly listeners: ListenerSet;
  private applying: Promise<void> = Promise.resolve();
  private current: GatewayConfig | undefined;
  private appliedVersions: XdsSnapshot['versions'] | undefined;
  private readonly connectionCounts = new Map<string, number>();
  private readonly observed = new Map<string, () => void>();

  constructor(private readonly options: SidecarOptions) {
    this.clusters = new ClusterSet({
      identity: options.identity,
      log: options.log,
      onConnectionCount: (cluster, delta) => this.connectionCounts.set(cluster, (this.connectionCounts.get(cluster) ?? 0) + delta),
    });
    this.listeners = new ListenerSet({
      identity: options.identity,
      clusters: this.clusters,
      observer: this,
      log: options.log,
      ...(options.outboundAddress ? { outboundAddress: options.outboundAddress } : {}),
      ...(options.inboundAddress ? { inboundAddress: options.inboundAddress } : {}),
      drainMs: options.drainMs ?? 30_000,
      replayLimitBytes: options.replayLimitBytes ?? 1024 * 1024,
      onConnectionCount: (listener, direction, delta) => {
        const dir = direction === 'inbound' ? 'inbound' : 'outbound';
        if (delta > 0) options.metrics.connectionOpened(listener, dir);
        else options.metrics.connectionClosed(listener, dir);
      },
    });
    // A listener that could not start for want of an SVID starts when one comes.
    options.identity.onChange(() => {
      if (this.current && this.listeners.status().some((l) => l.state === 'failed')) void this.enqueue(this.current).catch(() => undefined);
    });
  }

  /** Applies a snapshot after those before it; resolves once its listeners are bound. */
  apply(snapshot: XdsSnapshot): Promise<void> {
    const config = compileSnapshot(snapshot);
    for (const problem of config.problems) this.options.log.warn({ problem }, 'config left out');
    this.appliedVersions = snapshot.versions;
    return this.enqueue(config);
  }

  /** Whether a config has been applied and every listener of it is listening. */
  ready(): boolean {
    return this.current !== undefined && this.listeners.status().every((l) => l.state === 'listening');
  }

  status(): { versions: XdsSnapshot['versions'] | undefined; listeners: ListenerStatus[]; clusters: unknown[]; problems: readonly string[] } {
    return {
      versions: this.appliedVersions,
      listeners: this.listeners.status(),
      clusters: [...this.clusters.all()].map((c) => ({
        name: c.name,
        http2: c.settings.http2,
        tls: c.settings.tls?.peerDescription ?? null,
        load: c.picker.state(),
        ejected: c.outlier?.ejectedCount() ?? 0,
        activeRequests: c.breaker.inUse('requests'),
        connections: this.connectionCounts.get(c.name) ?? 0,
      })),
      problems: this.current?.problems ?? [],
    };
  }

  async stop(drainMs?: number): Promise<void> {
    await this.applying;
    await this.listeners.stop(drainMs);
    this.clusters.stop();
  }

  // ---- observer ----

  completed(entry: AccessLogEntry): void {
    this.options.accessLog.log(entry);
    const inbound = entry.direction === 'inbound';
    this.options.metrics.requestCompleted({
      direction: entry.direction,
      sourceService: inbound ? serviceOfSpiffeId(entry.source_principal) : this.options.localService,
      destinationService: inbound ? this.options.localService : serviceOfCluster(entry.upstream_cluster),
      ...(entry.upstream_zone ? { destinationZone: entry.upstream_zone } : {}),
      status: entry.status,
      durationSeconds: entry.duration_ms / 1000,
    });
    if (entry.status === 403 && entry.response_code_details?.startsWith('rbac_')) this.options.metrics.rbacDenied(entry.listener);
  }

  retried(cluster: string): void {
    this.options.metrics.upstreamRetry(cluster);
  }

  breakerRejected(cluster: string, resource: BreakerResource): void {
    this.options.metrics.circuitBreakerRejection(cluster, resource);
  }

  ejected(cluster: string, ejection: Ejection): void {
    this.options.metrics.outlierEjection(cluster, ejection.reason);
    this.options.log.info({ cluster, endpoint: ejection.key, reason: ejection.reason, durationMs: ejection.durationMs }, 'endpoint ejected');
  }

  tcpClosed(record: TcpConnectionRecord): void {
    const result: TcpConnectionResult = record.result === 'no-cluster' ? 'no-route' : record.result === 'no-endpoint' ? 'no-healthy-upstream' : record.result;
    this.options.metrics.tcpConnection(record.listener, result);
    if (record.result === 'rbac-denied') this.options.metrics.rbacDenied(record.listener);
    this.options.log.debug({ ...record }, 'tcp connection closed');
  }

  private enqueue(config: GatewayConfig): Promise<void> {
    const step = this.applying.then(async () => {
      this.clusters.apply(config);
      this.current = config;
      await this.listeners.apply(config);
      // Gauges follow the clusters: new ones reported, removed ones dropped.
      for (const [name, unobserve] of this.observed) {
        if (config.clusters.has(name)) continue;
        unobserve();
        this.observed.delete(name);
      }
      for (const cluster of this.clusters.all()) {
        if (this.observed.has(cluster.name)) continue;
        this.observed.set(
          cluster.name,
          this.options.metrics.observeCluster(cluster.name, {
            ejectedHosts: () => this.clusters.get(cluster.name)?.outlier?.ejectedCount() ?? 0,
            upstreamConnections: () => this.connectionCounts.get(cluster.name) ?? 0,
          }),
        );
      }
      this.options.metrics.configApplied(config.problems.length);
    });
    this.applying = step.catch((error: Error) => this.options.log.error({ err: error.message }, 'applying the config failed'));
    return step;
  }
}
