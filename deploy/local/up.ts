import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { readOrCreateSecretFile, writeFileAtomically } from '../../core/atomic-file.js';
import { resolve, join } from 'node:path';
import { stringify } from 'yaml';
import { startGlobalCp, type RunningGlobalCp } from '../../global-cp/main.js';
import { ConfigError } from '../../core/errors.js';
import { redactUrl } from '../../core/config.js';
import { generateToken } from '../../tenants/tokens.js';
import { freePort } from './free-port.js';
import { startLocalNats, startLocalRedis, type LocalService } from './services.js';
import { ensureNatsAuthority } from './nats-authority.js';

/** Prefix of the local federation's NATS buckets and subjects. */
export const FEDERATION_ID = 'meshfed';

export interface UpOptions {
  dataDir: string;
  /** Preferred port of the global CP API; a free one is taken if it is busy. */
  port: number;
  version: string;
  logLevel: string;
  /** Where progress lines go. */
  say: (line: string) => void;
  /** A running Redis to use instead of starting redis-server. */
  redisUrl?: string;
  /** Key prefix in Redis; default mf:. */
  redisPrefix?: string;
  /** A running NATS (JetStream on) to use instead of starting nats-server; NATS authorization is then off. */
  natsUrl?: string;
  /** Missed heartbeats before the global CP calls a zone offline; default 3. */
  offlineAfterMissed?: number;
}

/** Redis or NATS as `meshfed up` uses it: started here (with a data dir) or given by URL. */
export interface UsedService {
  url: string;
  /** Where a started server keeps its data; undefined for one given by URL. */
  dataDir: string | undefined;
}

export interface LocalFederation {
  globalCp: RunningGlobalCp;
  redis: UsedService;
  nats: UsedService & { authorization: boolean };
  /** Prefix of NATS buckets and subjects; zone CPs must use the same. */
  federationId: string;
  adminToken: string;
  adminTokenFile: string;
  ctlConfigFile: string;
  /**
   * Stops nats-server and starts it again on the same port, with the same data dir and config
   * (authorization included). Only for a NATS started here (not one given by URL).
   */
  restartNats(options?: { downMs?: number }): Promise<void>;
  /** Stops the global CP alone (Redis and NATS stay); `stop` later does not stop it again. */
  stopGlobalCp(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts a local federation: redis-server and nats-server -js from the local
 * binaries (data under dataDir, free ports) unless URLs are given, then a
 * global CP against them. Stops what it started, in reverse order, if any
 * step fails.
 */
export async function startLocalFederation(options: UpOptions): Promise<LocalFederation> {
  const dataDir = resolve(options.dataDir);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const started: Array<{ stop(): Promise<void> }> = [];
  // Reverse order, each once, even if stop is called again.
  const stopAll = async () => {
    while (started.length) await started.pop()!.stop().catch(() => undefined);
  };
  try {
    let redis: UsedService;
    if (options.redisUrl) {
      redis = { url: options.redisUrl, dataDir: undefined };
      options.say(`  redis      ${redactUrl(redis.url)}  (given; not started here)`);
    } else {
      options.say('starting redis-server …');
      const server: LocalService = await startLocalRedis(join(dataDir, 'redis'));
      started.push(server);
      redis = { url: server.url, dataDir: server.dataDir };
      options.say(`  redis      ${redis.url}  (data in ${server.dataDir})`);
    }

    let nats: LocalFederation['nats'];
    let natsServer: LocalService | undefined;
    let accountSeed: string | undefined;
    if (options.natsUrl) {
      nats = { url: options.natsUrl, dataDir: undefined, authorization: false };
      options.say(`  nats       ${redactUrl(nats.url)}  (given; not started here; no per-zone authorization)`);
    } else {
      options.say('starting nats-server -js (with per-zone authorization) …');
      const natsAuth = await ensureNatsAuthority(join(dataDir, 'nats-auth'));
      accountSeed = natsAuth.authority.accountSeed;
      const server = await startLocalNats(join(dataDir, 'nats'), undefined, natsAuth.serverConfig);
      started.push(server);
      natsServer = server;
      nats = { url: server.url, dataDir: server.dataDir, authorization: true };
      options.say(`  nats       ${nats.url}  (JetStream data in ${server.dataDir})`);
    }

    const adminTokenFile = join(dataDir, 'admin-token');
    const adminToken = await readOrCreateSecretFile(adminTokenFile, () => generateToken('admin'));
    // The key that seals tenant CA keys in Redis.
    const masterKey = Buffer.from(await readOrCreateSecretFile(join(dataDir, 'master.key'), () => randomBytes(32).toString('hex')), 'hex');

    options.say('starting global CP …');
    const port = (await portIsFree(options.port)) ? options.port : await freePort();
    if (port !== options.port) options.say(`  port ${options.port} is busy; using ${port}`);
    const globalCp = await startGlobalCp({
      listen: { host: '127.0.0.1', port },
      redisUrl: redis.url,
      redisPrefix: options.redisPrefix ?? 'mf:',
      adminToken,
      masterKey,
      logLevel: options.logLevel,
      version: options.version,
      nats: { url: nats.url, federationId: FEDERATION_ID, reconcileIntervalMs: 60_000, ...(accountSeed ? { accountSeed } : {}) },
      ...(options.offlineAfterMissed ? { offlineAfterMissed: options.offlineAfterMissed } : {}),
    });
    let globalCpStopped: Promise<void> | undefined;
    const stopGlobalCp = () => (globalCpStopped ??= globalCp.stop());
    started.push({ stop: stopGlobalCp });
    options.say(`  global CP  ${globalCp.url}`);

    const ctlConfigFile = join(dataDir, 'meshfedctl.yaml');
    await writeFileAtomically(ctlConfigFile, stringify({ server: globalCp.url, tokenFile: adminTokenFile }));
    const restartNats = async (restart?: { downMs?: number }) => {
      if (!natsServer) throw new ConfigError('NATS was given by URL, not started here: it cannot be restarted');
      await natsServer.restart(restart);
    };
    return { globalCp, redis, nats, federationId: FEDERATION_ID, adminToken, adminTokenFile, ctlConfigFile, restartNats, stopGlobalCp, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error instanceof ConfigError ? error : new ConfigError((error as Error).message);
  }
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolveFree) => {
    const server = createServer();
    server.once('error', () => resolveFree(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolveFree(true)));
  });
}
