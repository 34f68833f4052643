import { buildGlobalCp, type GlobalCpApp } from './app.js';
import { RedisStore } from './store/redis-store.js';
import { ConfigError } from '../core/errors.js';
import type { ListenAddress } from '../core/config.js';
import { createLogger } from '../core/log.js';
import { createRegistry } from '../core/metrics.js';
import { natsNames } from '../core/federation/names.js';
import { startFederation, type Federation } from './federation/index.js';

export interface GlobalCpConfig {
  listen: ListenAddress;
  /** redis://, rediss:// or redis-sentinel:// (see store/redis-target.ts). */
  redisUrl: string;
  redisPrefix: string;
  adminToken: string;
  masterKey: Buffer;
  logLevel?: string;
  version: string;
  /** Federation to zone CPs; off without a NATS URL. */
  nats?: { url: string; federationId: string; reconcileIntervalMs: number; accountSeed?: string; bucketReplicas?: number };
  offlineAfterMissed?: number;
}

export interface RunningGlobalCp {
  app: GlobalCpApp;
  store: RedisStore;
  url: string;
  federation: Federation | undefined;
  stop(): Promise<void>;
}

/** Connects to Redis (failing fast with a clear message), then serves the API. */
export async function startGlobalCp(config: GlobalCpConfig): Promise<RunningGlobalCp> {
  const log = createLogger('global-cp', config.logLevel);
  const store = new RedisStore({ url: config.redisUrl, prefix: config.redisPrefix, connectTimeoutMs: 3000 });
  try {
    await store.connect();
  } catch (error) {
    await store.close();
    throw new ConfigError(`cannot reach Redis at ${store.target.shown}: ${(error as Error).message}`);
  }
  log.info({ redis: store.target.shown, mode: store.target.mode, prefix: config.redisPrefix }, 'connected to Redis');
  const registry = createRegistry('global-cp');
  const federation = config.nats
    ? startFederation({
        store,
        natsUrl: config.nats.url,
        federationId: config.nats.federationId,
        reconcileIntervalMs: config.nats.reconcileIntervalMs,
        ...(config.nats.bucketReplicas ? { bucketReplicas: config.nats.bucketReplicas } : {}),
        log,
        registry,
        ...(config.nats.accountSeed ? { accountSeed: config.nats.accountSeed } : {}),
      })
    : undefined;
  if (!federation) log.warn('no --nats: federation to zone CPs is off');
  const app = await buildGlobalCp({
    store,
    adminToken: config.adminToken,
    masterKey: config.masterKey,
    logLevel: config.logLevel,
    version: config.version,
    registry,
    offlineAfterMissed: config.offlineAfterMissed,
    ...(federation ? { inventory: federation.inventory } : {}),
    ...(config.nats?.accountSeed ? { natsAuth: { accountSeed: config.nats.accountSeed, names: natsNames(config.nats.federationId) } } : {}),
  });
  try {
    await app.listen({ host: config.listen.host, port: config.listen.port });
  } catch (error) {
    await app.close();
    await federation?.stop();
    await store.close();
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(`cannot listen on ${config.listen.host}:${config.listen.port}: ${code === 'EADDRINUSE' ? 'address already in use' : (error as Error).message}`);
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.listen.port;
  const host = config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host;
  return {
    app,
    store,
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    federation,
    async stop() {
      // In-flight requests get a grace period; then keep-alive connections are cut rather than waited out (~72 s).
      const cut = setTimeout(() => app.server.closeAllConnections(), 5000);
      await app.close();
      clearTimeout(cut);
      await federation?.stop();
      await store.close();
    },
  };
}
