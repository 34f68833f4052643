/**
 * The sidecar proxy's Prometheus metrics, named `meshfed_gateway_*` (the
 * xDS client and SVID manager register theirs on the same registry under
 * other names). Callers pass typed arguments; label names live here only.
 *
 * Cardinality: every label value comes from the proxy's own configuration
 * (listener, cluster and service names, zones) or from a closed set
 * (direction, reason, resource, result, status code), never from request
 * data such as paths or headers.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { EjectionReason } from '../lb/index.js';
import type { BreakerResource } from '../resilience/index.js';

export type TrafficDirection = 'inbound' | 'outbound';

/** Written when a label's value is not known (no peer identity, no endpoint picked), as Istio does. */
export const UNKNOWN = 'unknown';

/** Buckets of the request duration histogram, in seconds: 0.5 ms to 10 s. */
export const REQUEST_DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

export interface CompletedRequest {
  readonly direction: TrafficDirection;
  /** `<service>.<namespace>` of the caller, from its SPIFFE ID; `unknown` when absent. */
  readonly sourceService?: string;
  /** `<service>.<namespace>` of the callee; `unknown` when no route matched. */
  readonly destinationService?: string;
  /** Zone of the endpoint that answered; `unknown` when none did. */
  readonly destinationZone?: string;
  /** Status sent downstream; 0 when no response was started. */
  readonly status: number;
  /** From the start of the request to its last byte sent downstream. */
  readonly durationSeconds: number;
}

/** How a connection through a TCP-proxy listener (opaque TCP, TLS passthrough) ended up. */
export const TCP_CONNECTION_RESULTS = ['ok', 'no-route', 'no-healthy-upstream', 'connect-failure', 'overflow', 'rbac-denied', 'tls-failure'] as const;
export type TcpConnectionResult = (typeof TCP_CONNECTION_RESULTS)[number];

/** Read at each scrape, so the gauges never drift from the state they report. */
export interface ClusterStateSource {
  /** Endpoints of the cluster ejected by outlier detection now. */
  readonly ejectedHosts?: () => number;
  /** Connections open to the cluster's endpoints now. */
  readonly upstreamConnections?: () => number;
}

type RequestLabel = 'direction' | 'source_service' | 'destination_service' | 'destination_zone';

/** `2xx`, `5xx`…; `none` for 0 (no response) and anything outside 100–599. */
export function responseCodeClass(status: number): string {
  return Number.isInteger(status) && status >= 100 && status <= 599 ? `${Math.floor(status / 100)}xx` : 'none';
}

export class ProxyMetrics {
  private readonly requests: Counter<RequestLabel | 'response_code'>;
  private readonly durations: Histogram<RequestLabel | 'response_code_class'>;
  private readonly requestChildren = new Map<string, { count: { inc(): void }; duration: { observe(value: number): void } }>();
  private readonly retries: Counter<'cluster'>;
  private readonly ejections: Counter<'cluster' | 'reason'>;
  private readonly breakerRejections: Counter<'cluster' | 'resource'>;
  private readonly activeConnections: Gauge<'listener' | 'direction'>;
  private readonly tcpConnections: Counter<'listener' | 'result'>;
  private readonly rbacDenials: Counter<'listener'>;
  private readonly configsApplied: Counter;
  private readonly configProblems: Gauge;
  private readonly clusters = new Map<string, ClusterStateSource>();

  constructor(registry: Registry) {
    const registers = [registry];
    const clusters = this.clusters;
    const requestLabels: RequestLabel[] = ['direction', 'source_service', 'destination_service', 'destination_zone'];
    this.requests = new Counter({
      name: 'meshfed_gateway_requests_total',
      help: 'HTTP requests the proxy answered, by direction, source and destination service, destination zone and response code (0: no response).',
      labelNames: [...requestLabels, 'response_code'],
      registers,
    });
    this.durations = new Histogram({
      name: 'meshfed_gateway_request_duration_seconds',
      help: 'Time from the start of a request to its last byte sent downstream, by direction, services, destination zone and response code class.',
      labelNames: [...requestLabels, 'response_code_class'],
      buckets: [...REQUEST_DURATION_BUCKETS],
      registers,
    });
    this.retries = new Counter({ name: 'meshfed_gateway_upstream_retries_total', help: 'Upstream request attempts that were retries, by cluster.', labelNames: ['cluster'], registers });
    this.ejections = new Counter({
      name: 'meshfed_gateway_outlier_ejections_total',
      help: 'Endpoints ejected by outlier detection, by cluster and reason.',
      labelNames: ['cluster', 'reason'],
      registers,
    });
    new Gauge({
      name: 'meshfed_gateway_outlier_ejected',
      help: 'Endpoints ejected by outlier detection now, by cluster.',
      labelNames: ['cluster'],
      registers,
      collect() {
        this.reset();
        for (const [cluster, source] of clusters) if (source.ejectedHosts) this.set({ cluster }, source.ejectedHosts());
      },
    });
    this.breakerRejections = new Counter({
      name: 'meshfed_gateway_circuit_breaker_rejections_total',
      help: 'Requests, connections and retries refused by a cluster circuit breaker, by cluster and the resource at its limit.',
      labelNames: ['cluster', 'resource'],
      registers,
    });
    this.activeConnections = new Gauge({
      name: 'meshfed_gateway_active_connections',
      help: 'Downstream connections open now, by listener and direction.',
      labelNames: ['listener', 'direction'],
      registers,
    });
    this.tcpConnections = new Counter({
      name: 'meshfed_gateway_tcp_connections_total',
      help: 'Connections through TCP-proxy listeners, by listener and result.',
      labelNames: ['listener', 'result'],
      registers,
    });
    this.rbacDenials = new Counter({ name: 'meshfed_gateway_rbac_denied_total', help: 'Requests and connections denied by RBAC, by listener.', labelNames: ['listener'], registers });
    this.configsApplied = new Counter({ name: 'meshfed_gateway_config_applied_total', help: 'Configurations from the control plane the proxy applied.', registers });
    this.configProblems = new Gauge({ name: 'meshfed_gateway_config_problems', help: 'Problems found in the configuration applied last (0 when it was clean).', registers });
    new Gauge({
      name: 'meshfed_gateway_upstream_connections',
      help: 'Connections open to upstream endpoints now, by cluster.',
      labelNames: ['cluster'],
      registers,
      collect() {
        this.reset();
        for (const [cluster, source] of clusters) if (source.upstreamConnections) this.set({ cluster }, source.upstreamConnections());
      },
    });
  }

  /** One HTTP request answered (by an upstream or by the proxy itself). */
  requestCompleted(request: CompletedRequest): void {
    // On the request path: the labelled children are looked up once per label set, not built per request.
    const key = `${request.direction}|${request.sourceService ?? ''}|${request.destinationService ?? ''}|${request.destinationZone ?? ''}|${request.status}`;
    let children = this.requestChildren.get(key);
    if (!children) {
      const labels = {
        direction: request.direction,
        source_service: request.sourceService ?? UNKNOWN,
        destination_service: request.destinationService ?? UNKNOWN,
        destination_zone: request.destinationZone ?? UNKNOWN,
      };
      children = {
        count: this.requests.labels({ ...labels, response_code: String(request.status) }),
        duration: this.durations.labels({ ...labels, response_code_class: responseCodeClass(request.status) }),
      };
      this.requestChildren.set(key, children);
    }
    children.count.inc();
    children.duration.observe(request.durationSeconds);
  }

  /** An upstream attempt that was a retry (not the first attempt). */
  upstreamRetry(cluster: string): void {
    this.retries.inc({ cluster });
  }

  outlierEjection(cluster: string, reason: EjectionReason): void {
    this.ejections.inc({ cluster, reason });
  }

  circuitBreakerRejection(cluster: string, resource: BreakerResource): void {
    this.breakerRejections.inc({ cluster, resource });
  }

  /** A downstream connection accepted; pair with `connectionClosed`. */
  connectionOpened(listener: string, direction: TrafficDirection): void {
    this.activeConnections.inc({ listener, direction });
  }

  connectionClosed(listener: string, direction: TrafficDirection): void {
    this.activeConnections.dec({ listener, direction });
  }

  tcpConnection(listener: string, result: TcpConnectionResult): void {
    this.tcpConnections.inc({ listener, result });
  }

  rbacDenied(listener: string): void {
    this.rbacDenials.inc({ listener });
  }

  /** A configuration applied, with the number of problems found in it. */
  configApplied(problems: number): void {
    this.configsApplied.inc();
    this.configProblems.set(problems);
  }

  /**
   * Reports a cluster's outlier-ejected endpoints and upstream connections
   * from `source` at each scrape, until the returned function is called
   * (when the cluster is removed or replaced). A later call for the same
   * cluster replaces the source.
   */
  observeCluster(cluster: string, source: ClusterStateSource): () => void {
    this.clusters.set(cluster, source);
    return () => {
      if (this.clusters.get(cluster) === source) this.clusters.delete(cluster);
    };
  }
}
