import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { readOrCreateSecretFile, writeFileAtomically } from '../../core/atomic-file.js';
import { resolve, join } from 'node:path';
import { stringify } from 'yaml';
import { startGlobalCp, type RunningGlobalCp } from '../../global-cp/main.js';
import { ConfigError } from '../../core/errors.js';
import { generateToken } from '../../tenants/tokens.js';
import { freePort } from './free-port.js';
import { startLocalNats, startLocalRedis, type LocalService } from './services.js';
import { ensureNatsAuthority } from './nats-authority.js';

export interface UpOptions {
  dataDir: string;
  /** Preferred port of the global CP API; a free one is taken if it is busy. */
  port: number;
  version: string;
  logLevel: string;
  /** Where progress lines go. */
  say: (line: string) => void;
}

export interface LocalFederation {
  globalCp: RunningGlobalCp;
  redis: LocalService;
  nats: LocalService;
  adminTokenFile: string;
  ctlConfigFile: string;
  stop(): Promise<void>;
}

/**
 * Starts a local federation: redis-server and nats-server -js from the local
 * binaries (data under dataDir, free ports), then a global CP against them.
 * Stops what it started, in reverse order, if any step fails.
 */
export async function startLocalFederation(options: UpOptions): Promise<LocalFederation> {
  const dataDir = resolve(options.dataDir);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const started: Array<{ stop(): Promise<void> }> = [];
  const stopAll = async () => {
    for (const s of started.reverse()) await s.stop().catch(() => undefined);
  };
  try {
    options.say('starting redis-server …');
    const redis = await startLocalRedis(join(dataDir, 'redis'));
    started.push(redis);
    options.say(`  redis      ${redis.url}  (data in ${redis.dataDir})`);

    options.say('starting nats-server -js (with per-zone authorization) …');
    const natsAuth = await ensureNatsAuthority(join(dataDir, 'nats-auth'));
    const nats = await startLocalNats(join(dataDir, 'nats'), undefined, natsAuth.serverConfig);
    started.push(nats);
    options.say(`  nats       ${nats.url}  (JetStream data in ${nats.dataDir})`);

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
      redisPrefix: 'mf:',
      adminToken,
      masterKey,
      logLevel: options.logLevel,
      version: options.version,
      nats: { url: nats.url, federationId: 'meshfed', reconcileIntervalMs: 60_000, accountSeed: natsAuth.authority.accountSeed },
    });
    started.push(globalCp);
    options.say(`  global CP  ${globalCp.url}`);

    const ctlConfigFile = join(dataDir, 'meshfedctl.yaml');
    await writeFileAtomically(ctlConfigFile, stringify({ server: globalCp.url, tokenFile: adminTokenFile }));
    return { globalCp, redis, nats, adminTokenFile, ctlConfigFile, stop: stopAll };
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
