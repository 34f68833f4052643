import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import { installErrorHandling } from '../core/http/errors.js';
import { Gauge, type Registry } from 'prom-client';
import { loggerOptions } from '../core/log.js';
import type { TenantView } from './sync/tenant-view.js';
import type { Intermediate } from './certs/intermediates.js';

/** What the ops server reads from the running zone CP. */
export interface ZoneCpStatus {
  zone: string;
  version: string;
  ready(): { ready: boolean; reason: string };
  natsConnected(): boolean;
  authenticated(): boolean;
  tenants(): Record<string, TenantView>;
  intermediates(): Intermediate[];
  lastSyncAt(): Date | undefined;
  snapshotSavedAt(): Date | undefined;
}

/** /healthz, /readyz, /metrics and GET /api/v1/state (what the zone CP holds, for debugging). Listens on loopback by default. */
export async function buildZoneCpServer(
  status: ZoneCpStatus,
  registry: Registry,
  logLevel?: string,
  /** The zone's API plugins (dataplanes, proxies); registered after the ops routes. */
  routes: Array<(app: FastifyInstance) => Promise<void>> = [],
): Promise<FastifyInstance> {
  const app = Fastify({
    logger: loggerOptions('zone-cp', logLevel ?? 'warn'),
    bodyLimit: 1024 * 1024,
    // As at the global CP: unknown fields and wrong types are errors, never dropped or coerced.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: true } },
    return503OnClosing: true,
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.removeContentTypeParser('text/plain');
  installErrorHandling(app);
  const registers = [registry];
  new Gauge({
    name: 'meshfed_zone_applied_revision',
    help: 'Tenant revision applied in this zone.',
    labelNames: ['tenant'],
    registers,
    collect() {
      this.reset();
      for (const view of Object.values(status.tenants())) this.set({ tenant: view.name }, view.revision);
    },
  });
  new Gauge({
    name: 'meshfed_zone_last_sync_timestamp_seconds',
    help: 'When the zone CP last applied a change from NATS.',
    registers,
    collect() {
      const at = status.lastSyncAt();
      if (at) this.set(at.getTime() / 1000);
    },
  });
  new Gauge({
    name: 'meshfed_zone_nats_connected',
    help: '1 while connected to NATS.',
    registers,
    collect() {
      this.set(status.natsConnected() ? 1 : 0);
    },
  });

  new Gauge({
    name: 'meshfed_zone_intermediate_expiry_seconds',
    help: 'Seconds until this zone\'s intermediate CA of the tenant expires (renewed at two thirds of its life).',
    labelNames: ['tenant'],
    registers,
    collect() {
      this.reset();
      for (const i of status.intermediates()) this.set({ tenant: i.tenant }, (Date.parse(i.notAfter) - Date.now()) / 1000);
    },
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const { ready, reason } = status.ready();
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', reason });
  });
  app.get('/metrics', async (_request, reply) => reply.header('content-type', registry.contentType).send(await registry.metrics()));
  app.get('/api/v1/state', async () => ({
    zone: status.zone,
    version: status.version,
    authenticated: status.authenticated(),
    natsConnected: status.natsConnected(),
    lastSyncAt: status.lastSyncAt()?.toISOString() ?? null,
    snapshotSavedAt: status.snapshotSavedAt()?.toISOString() ?? null,
    tenants: status.tenants(),
    // Certificates only: the keys never leave the state dir.
    intermediates: status.intermediates(),
  }));
  for (const register of routes) await register(app);
  return app;
}
