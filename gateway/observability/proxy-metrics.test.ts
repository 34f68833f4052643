import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ProxyMetrics, responseCodeClass } from './proxy-metrics.js';

function setup() {
  const registry = new Registry();
  return { registry, metrics: new ProxyMetrics(registry) };
}

/** The sample lines of the exposition text, without HELP/TYPE comments. */
async function samples(registry: Registry): Promise<string[]> {
  return (await registry.metrics()).split('\n').filter((line) => line !== '' && !line.startsWith('#'));
}

describe('ProxyMetrics', () => {
  it('counts requests by exact code and times them by code class', async () => {
    const { registry, metrics } = setup();
    metrics.requestCompleted({ direction: 'outbound', sourceService: 'web.shop', destinationService: 'orders.shop', destinationZone: 'eu-1', status: 200, durationSeconds: 0.0004 });
    metrics.requestCompleted({ direction: 'outbound', sourceService: 'web.shop', destinationService: 'orders.shop', destinationZone: 'eu-1', status: 200, durationSeconds: 0.03 });
    metrics.requestCompleted({ direction: 'outbound', sourceService: 'web.shop', destinationService: 'orders.shop', destinationZone: 'eu-1', status: 503, durationSeconds: 2 });
    metrics.requestCompleted({ direction: 'inbound', status: 0, durationSeconds: 12 });

    const lines = await samples(registry);
    const out = 'direction="outbound",source_service="web.shop",destination_service="orders.shop",destination_zone="eu-1"';
    expect(lines).toContain(`meshfed_gateway_requests_total{${out},response_code="200"} 2`);
    expect(lines).toContain(`meshfed_gateway_requests_total{${out},response_code="503"} 1`);
    expect(lines).toContain('meshfed_gateway_requests_total{direction="inbound",source_service="unknown",destination_service="unknown",destination_zone="unknown",response_code="0"} 1');
    expect(lines).toContain(`meshfed_gateway_request_duration_seconds_bucket{le="0.0005",${out},response_code_class="2xx"} 1`);
    expect(lines).toContain(`meshfed_gateway_request_duration_seconds_bucket{le="0.05",${out},response_code_class="2xx"} 2`);
    expect(lines).toContain(`meshfed_gateway_request_duration_seconds_count{${out},response_code_class="2xx"} 2`);
    expect(lines).toContain(`meshfed_gateway_request_duration_seconds_bucket{le="1",${out},response_code_class="5xx"} 0`);
    expect(lines).toContain(`meshfed_gateway_request_duration_seconds_bucket{le="2.5",${out},response_code_class="5xx"} 1`);
    expect(lines).toContain(`meshfed_gateway_request_duration_seconds_sum{${out},response_code_class="5xx"} 2`);
    expect(lines).toContain('meshfed_gateway_request_duration_seconds_bucket{le="10",direction="inbound",source_service="unknown",destination_service="unknown",destination_zone="unknown",response_code_class="none"} 0');
    expect(lines).toContain('meshfed_gateway_request_duration_seconds_bucket{le="+Inf",direction="inbound",source_service="unknown",destination_service="unknown",destination_zone="unknown",response_code_class="none"} 1');
  });

  it('counts retries, ejections, breaker rejections, RBAC denials and TCP connections by their labels', async () => {
    const { registry, metrics } = setup();
    metrics.upstreamRetry('orders');
    metrics.upstreamRetry('orders');
    metrics.outlierEjection('orders', 'consecutive-5xx');
    metrics.circuitBreakerRejection('orders', 'pending-requests');
    metrics.rbacDenied('inbound:8080');
    metrics.tcpConnection('outbound:5432', 'ok');
    metrics.tcpConnection('outbound:5432', 'connect-failure');

    const lines = await samples(registry);
    expect(lines).toContain('meshfed_gateway_upstream_retries_total{cluster="orders"} 2');
    expect(lines).toContain('meshfed_gateway_outlier_ejections_total{cluster="orders",reason="consecutive-5xx"} 1');
    expect(lines).toContain('meshfed_gateway_circuit_breaker_rejections_total{cluster="orders",resource="pending-requests"} 1');
    expect(lines).toContain('meshfed_gateway_rbac_denied_total{listener="inbound:8080"} 1');
    expect(lines).toContain('meshfed_gateway_tcp_connections_total{listener="outbound:5432",result="ok"} 1');
    expect(lines).toContain('meshfed_gateway_tcp_connections_total{listener="outbound:5432",result="connect-failure"} 1');
  });

  it('tracks open downstream connections per listener and direction', async () => {
    const { registry, metrics } = setup();
    metrics.connectionOpened('outbound:15001', 'outbound');
    metrics.connectionOpened('outbound:15001', 'outbound');
    metrics.connectionOpened('inbound:8080', 'inbound');
    metrics.connectionClosed('outbound:15001', 'outbound');

    const lines = await samples(registry);
    expect(lines).toContain('meshfed_gateway_active_connections{listener="outbound:15001",direction="outbound"} 1');
    expect(lines).toContain('meshfed_gateway_active_connections{listener="inbound:8080",direction="inbound"} 1');
  });

  it('counts applied configurations and keeps the last one’s problem count', async () => {
    const { registry, metrics } = setup();
    expect(await samples(registry)).toEqual(expect.arrayContaining(['meshfed_gateway_config_applied_total 0', 'meshfed_gateway_config_problems 0']));
    metrics.configApplied(2);
    metrics.configApplied(0);
    expect(await samples(registry)).toEqual(expect.arrayContaining(['meshfed_gateway_config_applied_total 2', 'meshfed_gateway_config_problems 0']));
  });

  it('reads cluster gauges from their sources at scrape time and drops a cluster once unobserved', async () => {
    const { registry, metrics } = setup();
    let ejected = 1;
    let connections = 4;
    const stop = metrics.observeCluster('orders', { ejectedHosts: () => ejected, upstreamConnections: () => connections });
    metrics.observeCluster('payments', { upstreamConnections: () => 7 });

    let lines = await samples(registry);
    expect(lines).toContain('meshfed_gateway_outlier_ejected{cluster="orders"} 1');
    expect(lines).toContain('meshfed_gateway_upstream_connections{cluster="orders"} 4');
    expect(lines).toContain('meshfed_gateway_upstream_connections{cluster="payments"} 7');
    expect(lines.some((l) => l.startsWith('meshfed_gateway_outlier_ejected{cluster="payments"}'))).toBe(false);

    ejected = 0;
    connections = 2;
    lines = await samples(registry);
    expect(lines).toContain('meshfed_gateway_outlier_ejected{cluster="orders"} 0');
    expect(lines).toContain('meshfed_gateway_upstream_connections{cluster="orders"} 2');

    // A replacement source survives the old one's stop.
    metrics.observeCluster('orders', { upstreamConnections: () => 9 });
    stop();
    lines = await samples(registry);
    expect(lines).toContain('meshfed_gateway_upstream_connections{cluster="orders"} 9');
    expect(lines.some((l) => l.startsWith('meshfed_gateway_outlier_ejected{cluster="orders"}'))).toBe(false);
  });

  it('registers only meshfed_gateway_* names, none of them also used by the xDS client or SVID manager', async () => {
    const { registry } = setup();
    const names = (await registry.getMetricsAsJSON()).map((m) => m.name);
    expect(names.every((n) => n.startsWith('meshfed_gateway_'))).toBe(true);
    for (const taken of ['meshfed_gateway_xds_connected', 'meshfed_gateway_xds_responses_total', 'meshfed_gateway_xds_reconnects_total', 'meshfed_gateway_svid_renewals_total', 'meshfed_gateway_svid_expiry_seconds']) {
      expect(names).not.toContain(taken);
    }
  });
});

describe('responseCodeClass', () => {
  it('groups codes by their first digit', () => {
    expect([101, 200, 204, 302, 404, 503, 599].map(responseCodeClass)).toEqual(['1xx', '2xx', '2xx', '3xx', '4xx', '5xx', '5xx']);
    expect([0, 99, 600, 200.5].map(responseCodeClass)).toEqual(['none', 'none', 'none', 'none']);
  });
});
