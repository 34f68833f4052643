import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { loggerOptions } from '../core/log.js';
import { createRegistry } from '../core/metrics.js';
import { installAuthentication } from './plugins/authentication.js';
import { installErrorHandling } from '../core/http/errors.js';
import { installMetrics } from './plugins/metrics.js';
import { policyRoutes } from './routes/policies.js';
import { tenantRoutes } from './routes/tenants.js';
import { tokenRoutes } from './routes/tokens.js';
import { zoneRoutes } from './routes/zones.js';
import { pkiRoutes } from './routes/pki.js';
import { CaKeeper } from './ca/ca-keeper.js';
import { serviceRoutes, type InventoryReader } from './routes/services.js';
import { DEFAULT_OFFLINE_AFTER_MISSED } from './federation/zone-status.js';
import { ZONE_CREDENTIALS_TTL_SECONDS, natsCredentialRoutes } from './routes/nats-credentials.js';
import type { NatsNames } from '../core/federation/names.js';
import type { RedisStore } from './store/redis-store.js';

export const MAX_BODY_BYTES = 1024 * 1024;

export interface GlobalCpDeps {
  store: RedisStore;
  adminToken: string;
  /** 32 bytes; seals tenant CA keys at rest. */
  masterKey: Buffer;
  logLevel?: string;
  registry?: Registry;
  version?: string;
  /** Reads zone inventory from NATS; without it the services view answers 503. */
  inventory?: InventoryReader;
  /** Heartbeats a zone may miss before it is offline (default 3). */
  offlineAfterMissed?: number;
  /** NATS authorization: the federation account's key signs zone CPs' NATS credentials. */
  natsAuth?: { accountSeed: string; names: NatsNames; ttlSeconds?: number };
}

export type GlobalCpApp = FastifyInstance;

/** The global control plane's HTTP API, built from its dependencies so tests can run it against any store. */
export async function buildGlobalCp(deps: GlobalCpDeps): Promise<GlobalCpApp> {
  const app = Fastify({
    logger: loggerOptions('global-cp', deps.logLevel),
    bodyLimit: MAX_BODY_BYTES,
    // Unknown fields and wrong types are errors, never silently dropped or coerced.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: true } },
    return503OnClosing: true,
  }).withTypeProvider<TypeBoxTypeProvider>();

  // Only JSON is accepted; Fastify's text/plain parser would hand the schema a string instead of a 415.
  app.removeContentTypeParser('text/plain');
  installErrorHandling(app);
  const registry = deps.registry ?? createRegistry('global-cp');
  const cas = new CaKeeper(deps.masterKey);
  const offlineAfterMissed = deps.offlineAfterMissed ?? DEFAULT_OFFLINE_AFTER_MISSED;
  installMetrics(app, registry, deps.store, offlineAfterMissed);

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'meshfed global control plane', version: deps.version ?? '0.1.0', description: 'Zones, tenants, tenant tokens and tenant-scoped policies.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });

  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    const redis = await deps.store.ping();
    return reply.code(redis ? 200 : 503).send({ status: redis ? 'ready' : 'not ready', checks: { redis: redis ? 'ok' : 'unreachable' } });
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(
    async (api) => {
      installAuthentication(api, { store: deps.store, adminToken: deps.adminToken });
      await api.register(zoneRoutes, { store: deps.store, offlineAfterMissed });
      await api.register(serviceRoutes, { store: deps.store, inventory: deps.inventory, offlineAfterMissed });
      await api.register(natsCredentialRoutes, {
        store: deps.store,
        natsAuth: deps.natsAuth ? { ...deps.natsAuth, ttlSeconds: deps.natsAuth.ttlSeconds ?? ZONE_CREDENTIALS_TTL_SECONDS } : undefined,
      });
      await api.register(tenantRoutes, { store: deps.store, cas });
      await api.register(pkiRoutes, { store: deps.store, cas, registry });
      await api.register(tokenRoutes, { store: deps.store });
      await api.register(policyRoutes, { store: deps.store });
    },
    { prefix: '/api/v1' },
  );
  return app;
}
