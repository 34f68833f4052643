import type { FastifyInstance } from 'fastify';
import { Gauge, Histogram, type Registry } from 'prom-client';
import { POLICY_KIND_NAMES } from '../../core/schemas/policies/index.js';
import type { RedisStore } from '../store/redis-store.js';
import { zoneStatusFrom } from '../federation/zone-status.js';

/** Request latency by route and status, resource counts read from the store at scrape time, and /metrics. */
export function installMetrics(app: FastifyInstance, registry: Registry, store: RedisStore, offlineAfterMissed: number): void {
  const requests = new Histogram({
    name: 'meshfed_http_request_duration_seconds',
    help: 'Global CP API request latency by route and status.',
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  app.addHook('onResponse', async (request, reply) => {
    requests.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  new Gauge({
    name: 'meshfed_resources',
    help: 'Resources stored at the global CP, by kind.',
    labelNames: ['kind'],
    registers: [registry],
    async collect() {
      try {
        const [{ zones, tenants }, policies] = await Promise.all([store.countZonesAndTenants(), store.policyCountsByKind()]);
        this.set({ kind: 'Zone' }, zones);
        this.set({ kind: 'Tenant' }, tenants);
        for (const kind of POLICY_KIND_NAMES) this.set({ kind }, policies.get(kind) ?? 0);
      } catch {
        // Store unreachable: keep the last counts; /readyz reports the outage.
      }
    },
  });

  new Gauge({
    name: 'meshfed_zone_online',
    help: '1 while the zone heartbeats, 0 once it missed too many heartbeats.',
    labelNames: ['zone'],
    registers: [registry],
    async collect() {
      try {
        const zones = await store.listZones();
        this.reset();
        for (const zone of zones) {
          const status = zoneStatusFrom(await store.zoneStatus(zone.name), [], Date.now(), offlineAfterMissed);
          this.set({ zone: zone.name }, status.state === 'online' ? 1 : 0);
        }
      } catch {
        // Store unreachable: keep the last values; /readyz reports the outage.
      }
    },
  });

  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
}
