/**
 * A TCP connection through the sidecar: access check (inbound), weighted
 * cluster, then an upstream endpoint by locality/priority — trying others
 * when connecting fails, since nothing was sent yet — and bytes piped both
 * ways until either side closes or the idle timeout passes.
 */
import type net from 'node:net';
import { endpointKey, pickWeightedCluster, type Ejection, type Host } from '../lb/index.js';
import type { AccessPolicy, WeightedCluster } from '../config/model.js';
import { tlsFor, zoneOf, type ClusterRuntime, type ClusterSet } from './cluster-set.js';

export type TcpResult = 'ok' | 'rbac-denied' | 'no-cluster' | 'overflow' | 'no-endpoint' | 'connect-failure';

export interface TcpConnectionRecord {
  readonly listener: string;
  readonly direction: 'inbound' | 'outbound';
  readonly result: TcpResult;
  readonly cluster: string | null;
  readonly upstreamHost: string | null;
  readonly upstreamZone: string | null;
  readonly principal: string | null;
  readonly bytesReceived: number;
  readonly bytesSent: number;
  readonly durationMs: number;
}

export interface TcpObserver {
  tcpClosed(record: TcpConnectionRecord): void;
  ejected(cluster: string, ejection: Ejection): void;
}

export interface TcpProxyContext {
  readonly direction: 'inbound' | 'outbound';
  readonly listener: string;
  readonly clusters: ClusterSet;
  readonly targets: readonly WeightedCluster[];
  readonly idleTimeoutMs?: number;
  readonly access?: AccessPolicy;
  readonly observer: TcpObserver;
  /** Endpoints tried before giving up. Default 3. */
  readonly connectAttempts?: number;
  readonly random?: () => number;
}

export function proxyTcpConnection(context: TcpProxyContext, downstream: net.Socket, principal: string | undefined): void {
  const startedAt = performance.now();
  let host: Host | undefined;
  const name = pickWeightedCluster(context.targets, (context.random ?? Math.random)());
  const cluster: ClusterRuntime | undefined = name ? context.clusters.get(name) : undefined;
  let reported = false;
  const report = (result: TcpResult, bytesSent = 0) => {
    if (reported) return;
    reported = true;
    context.observer.tcpClosed({
      listener: context.listener,
      direction: context.direction,
      result,
      cluster: cluster?.name ?? null,
      upstreamHost: host ? endpointKey(host.endpoint) : null,
      upstreamZone: host ? zoneOf(host) || null : null,
      principal: principal ?? null,
      bytesReceived: downstream.bytesRead,
      bytesSent,
      durationMs: performance.now() - startedAt,
    });
  };
  if (context.access && !context.access.allows(principal)) {
    downstream.destroy();
    return report('rbac-denied');
  }
  if (!cluster) {
    downstream.destroy();
    return report('no-cluster');
  }
  const slot = cluster.breaker.tryAcquire('connections');
  if (!slot.admitted) {
    downstream.destroy();
    return report('overflow');
  }
  // Hold what the client sends until an upstream is connected.
  downstream.pause();
  downstream.once('close', () => slot.release());
  const tried = new Set<string>();
  const attempts = context.connectAttempts ?? 3;
  const tryNext = (left: number) => {
    if (downstream.destroyed) return report('connect-failure');
    const picked = cluster.picker.pick(tried);
    if (!picked) {
      downstream.destroy();
      return report('no-endpoint');
    }
    host = picked;
    tried.add(picked.key);
    const transport = tlsFor(cluster.settings, picked);
    let upstream: net.Socket;
    try {
      upstream = cluster.pool.connect(picked.endpoint, transport);
    } catch {
      downstream.destroy();
      return report('connect-failure');
    }
    let connected = false;
    const onFailure = () => {
      if (connected) return;
      record(context, cluster, picked, { kind: 'connect-failure' });
      upstream.destroy();
      if (left > 1) tryNext(left - 1);
      else {
        downstream.destroy();
        report('connect-failure');
      }
    };
    upstream.once('error', onFailure);
    upstream.once(transport ? 'secureConnect' : 'connect', () => {
      connected = true;
      upstream.off('error', onFailure);
      record(context, cluster, picked, { kind: 'connect-success' });
      splice(context, downstream, upstream, () => report('ok', upstream.bytesRead));
    });
  };
  tryNext(attempts);
}

function record(context: TcpProxyContext, cluster: ClusterRuntime, host: Host, outcome: { kind: 'connect-failure' | 'connect-success' }): void {
  const ejection = cluster.outlier?.record(host.key, outcome);
  if (ejection) context.observer.ejected(cluster.name, ejection);
}

/** Pipes both ways; either side's close or error closes the other; idle for too long closes both. */
function splice(context: TcpProxyContext, downstream: net.Socket, upstream: net.Socket, onClosed: () => void): void {
  upstream.on('error', () => undefined);
  downstream.on('error', () => undefined);
  downstream.pipe(upstream);
  upstream.pipe(downstream);
  downstream.resume();
  const closeBoth = () => {
    downstream.destroy();
    upstream.destroy();
  };
  // A side gone for good: the other first writes out what it still holds (a last answer the peer
  // has not read yet), then closes; after an error, at once.
  downstream.once('close', (hadError: boolean) => (hadError ? upstream.destroy() : upstream.destroySoon()));
  upstream.once('close', (hadError: boolean) => (hadError ? downstream.destroy() : downstream.destroySoon()));
  let closedCount = 0;
  const onClose = () => {
    closedCount += 1;
    if (closedCount === 2) onClosed();
  };
  downstream.once('close', onClose);
  upstream.once('close', onClose);
  if (context.idleTimeoutMs && context.idleTimeoutMs > 0) {
    downstream.setTimeout(context.idleTimeoutMs, closeBoth);
    upstream.setTimeout(context.idleTimeoutMs, closeBoth);
  }
}
