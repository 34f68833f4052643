import type { Socket } from 'node:net';
import { Counter, Gauge, type Registry } from 'prom-client';
import { INGRESS_REJECT_REASONS, type IngressRejectReason } from './sni-router.js';

/** `result` of `meshfed_ingress_connections_total`: forwarded, or why a routed connection was not. */
export type IngressConnectionResult = 'ok' | 'tenant-limit' | 'no-endpoint' | 'connect-failure';

interface TrackedSocket {
  socket: Socket;
  labels: { tenant: string; service: string };
  countedIn: number;
  countedOut: number;
}

/**
 * The ingress gateway's Prometheus metrics. Tenant and service labels come
 * only from routing-table entries, never from an unknown SNI, so a client
 * cannot grow the label sets; unroutable connections are counted by reason.
 */
export class IngressMetrics {
  private readonly connections: Counter<'tenant' | 'service' | 'result'>;
  private readonly active: Gauge<'tenant'>;
  private readonly rejections: Counter<'reason'>;
  private readonly bytesIn: Counter<'tenant' | 'service'>;
  private readonly bytesOut: Counter<'tenant' | 'service'>;
  private readonly tracked = new Set<TrackedSocket>();

  constructor(registry: Registry) {
    const registers = [registry];
    const tracked = this.tracked;
    this.connections = new Counter({
      name: 'meshfed_ingress_connections_total',
      help: 'Connections whose SNI matched a route, by tenant, service (`<service>.<namespace>`) and result.',
      labelNames: ['tenant', 'service', 'result'],
      registers,
    });
    this.active = new Gauge({ name: 'meshfed_ingress_active_connections', help: 'Routed connections open now (connecting or forwarding), by tenant.', labelNames: ['tenant'], registers });
    this.rejections = new Counter({ name: 'meshfed_ingress_rejected_total', help: 'Connections closed without being forwarded, by reason.', labelNames: ['reason'], registers });
    for (const reason of INGRESS_REJECT_REASONS) this.rejections.inc({ reason }, 0);
    // Byte counts are read from the sockets when scraped and when they close, not counted chunk by chunk.
    this.bytesIn = new Counter({
      name: 'meshfed_ingress_bytes_in_total',
      help: 'Bytes received from downstream clients (and forwarded upstream), by tenant and service.',
      labelNames: ['tenant', 'service'],
      registers,
      collect() {
        for (const t of tracked) flushIn(this, t);
      },
    });
    this.bytesOut = new Counter({
      name: 'meshfed_ingress_bytes_out_total',
      help: 'Bytes sent to downstream clients (from upstream endpoints), by tenant and service.',
      labelNames: ['tenant', 'service'],
      registers,
      collect() {
        for (const t of tracked) flushOut(this, t);
      },
    });
  }

  rejected(reason: IngressRejectReason): void {
    this.rejections.inc({ reason });
  }

  connection(tenant: string, service: string, result: IngressConnectionResult): void {
    this.connections.inc({ tenant, service, result });
  }

  opened(tenant: string): void {
    this.active.inc({ tenant });
  }

  closed(tenant: string): void {
    this.active.dec({ tenant });
  }

  /** Counts a downstream socket's bytes until the returned function is called (at its close). */
  trackBytes(socket: Socket, tenant: string, service: string): () => void {
    const t: TrackedSocket = { socket, labels: { tenant, service }, countedIn: 0, countedOut: 0 };
    this.tracked.add(t);
    return () => {
      flushIn(this.bytesIn, t);
      flushOut(this.bytesOut, t);
      this.tracked.delete(t);
    };
  }
}

function flushIn(counter: Counter<'tenant' | 'service'>, t: TrackedSocket): void {
  const total = t.socket.bytesRead;
  if (total > t.countedIn) counter.inc(t.labels, total - t.countedIn);
  t.countedIn = total;
}

function flushOut(counter: Counter<'tenant' | 'service'>, t: TrackedSocket): void {
  const total = t.socket.bytesWritten;
  if (total > t.countedOut) counter.inc(t.labels, total - t.countedOut);
  t.countedOut = total;
}
