/** Messages between the benchmark (server side, parent) and its ADS client process (child), over the fork IPC channel. */

export type ProxyKindFlag = 'proxyless' | 'sidecar';

export interface StartMessage {
  type: 'start';
  address: string;
  proxies: number;
  channels: number;
  services: number;
  endpoints: number;
  kind: ProxyKindFlag;
  mtls: boolean;
}

/** Record, per stream, the first EDS response whose version differs from the one it holds now. */
export interface ArmMessage {
  type: 'arm';
  change: number;
}

/** Send what was recorded for the armed change now, complete or not. */
export interface CollectMessage {
  type: 'collect';
  change: number;
}

export interface MemoryRequest {
  type: 'memory';
}

export interface StopMessage {
  type: 'stop';
}

export type ToClient = StartMessage | ArmMessage | CollectMessage | MemoryRequest | StopMessage;

export interface ProgressMessage {
  type: 'progress';
  opened: number;
  ready: number;
  responses: number;
  bytes: number;
  failed: number;
}

/** Times are process.hrtime.bigint() in ms (CLOCK_MONOTONIC: comparable between processes of one machine). */
export interface ReadyMessage {
  type: 'ready';
  openedAt: number;
  /** Per stream: when its initial config was complete and ACKed (NaN if it failed). */
  readyAt: number[];
  responses: number;
  bytes: number;
  /** Largest single response, by type URL. */
  largest: Record<string, number>;
  /** Per type: resources in the last response of the first stream. */
  resourceCounts: Record<string, number>;
  cpuMicros: number;
  failed: number;
  failures: string[];
}

export interface ArmedMessage {
  type: 'armed';
  change: number;
}

export interface ReceivedMessage {
  type: 'received';
  change: number;
  /** Per stream: when the new EDS response arrived (NaN: not yet). */
  at: number[];
  /** Every response any stream got since arming, and their bytes. */
  responses: number;
  bytes: number;
  /** Responses of other types than EDS since arming (should be 0 for an endpoint change). */
  otherTypeResponses: number;
  /** EDS response size (the first stream's). */
  edsBytes: number;
  cpuMicros: number;
  failed: number;
}

export interface MemoryMessage {
  type: 'memory';
  heapUsed: number;
  heapTotal: number;
  rss: number;
  external: number;
  arrayBuffers: number;
  maxRss: number;
}

export interface FailedMessage {
  type: 'failed';
  message: string;
}

export type FromClient = ProgressMessage | ReadyMessage | ArmedMessage | ReceivedMessage | MemoryMessage | FailedMessage;

export const ADS_METHOD = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';

export const TYPE = {
  listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  route: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  endpoint: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
} as const;

/** Node metadata keys only this benchmark's identify() reads: the claims a dataplane token would carry. */
export const BENCH_METADATA = { namespace: 'bench.meshfed.io/namespace', serviceAccount: 'bench.meshfed.io/service-account' } as const;

export const hrMs = () => Number(process.hrtime.bigint()) / 1e6;
