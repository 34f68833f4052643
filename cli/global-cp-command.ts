import { Command, Option } from 'commander';
import { checkAdminToken, readMasterKeyFile, parseCount, parseDurationFlag, parseFederationId, parseListenAddress, parseUrl, readSecretFile } from '../core/config.js';
import { ConfigError } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import { meshfedVersion } from '../core/version.js';
import { startGlobalCp } from '../global-cp/main.js';
import { parseRedisTarget } from '../global-cp/store/redis-target.js';
import { runAction, untilSignal } from './run.js';

interface GlobalCpFlags {
  listen: string;
  redis: string;
  redisPrefix: string;
  nats?: string;
  federationId: string;
  natsAccountSeedFile?: string;
  reconcileInterval: string;
  natsReplicas: string;
  zoneOfflineAfter: string;
  adminTokenFile?: string;
  masterKeyFile?: string;
  logLevel: string;
}

export function globalCpCommand(): Command {
  return new Command('global-cp')
    .description('Run the global control plane: the REST API for zones, tenants, tokens and policies, stored in Redis.')
    .addOption(new Option('--listen <host:port>', 'address of the REST API').env('MESHFED_LISTEN').default('127.0.0.1:5681'))
    .addOption(new Option('--redis <url>', 'Redis, the store of record: redis://, rediss:// (TLS) or redis-sentinel:// (high availability, below)').env('MESHFED_REDIS_URL').default('redis://127.0.0.1:6379'))
    .addOption(new Option('--redis-prefix <prefix>', 'prefix of every Redis key (several federations can share one Redis)').env('MESHFED_REDIS_PREFIX').default('mf:'))
    .addOption(new Option('--nats <url>', 'NATS JetStream for federation to zone CPs (without it, federation is off)').env('MESHFED_NATS_URL'))
    .addOption(new Option('--federation-id <id>', 'prefix of every NATS bucket and subject (several federations can share one NATS)').env('MESHFED_FEDERATION_ID').default('meshfed'))
    .addOption(new Option('--nats-account-seed-file <path>', 'turn on NATS authorization: the federation account key from `meshfed nats-auth init`').env('MESHFED_NATS_ACCOUNT_SEED_FILE'))
    .addOption(new Option('--nats-replicas <n>', 'copies JetStream keeps of each KV bucket: 3 on a NATS cluster (1-5)').env('MESHFED_NATS_REPLICAS').default('1'))
    .addOption(new Option('--reconcile-interval <duration>', 'how often NATS is repaired from Redis').env('MESHFED_RECONCILE_INTERVAL').default('60s'))
    .addOption(new Option('--zone-offline-after <n>', 'missed heartbeats after which a zone is offline').env('MESHFED_ZONE_OFFLINE_AFTER').default('3'))
    .addOption(new Option('--master-key-file <path>', 'required: 32-byte key (hex or base64) that seals tenant CA keys at rest; e.g. openssl rand -hex 32').env('MESHFED_MASTER_KEY_FILE'))
    .addOption(new Option('--admin-token-file <path>', 'file holding the admin token (else MESHFED_ADMIN_TOKEN)').env('MESHFED_ADMIN_TOKEN_FILE'))
    .addOption(new Option('--log-level <level>', 'log level').env('MESHFED_LOG_LEVEL').choices(['trace', 'debug', 'info', 'warn', 'error']).default('info'))
    .addHelpText(
      'after',
      [
        '',
        'The admin token comes from --admin-token-file or the MESHFED_ADMIN_TOKEN environment variable; it is never logged.',
        '',
        '--redis forms (percent-encode special characters in passwords; passwords are never logged):',
        '  redis://[user:password@]host:6379[/db]      one Redis; rediss:// for TLS',
        '  redis-sentinel://[user:password@]host:26379[,host:26379…]/master-name[?db=N&sentinelPassword=…&tls=true]',
        '                                              the primary Redis Sentinel names, followed across failovers',
        'Redis Cluster is not supported: the store writes several keys in one Lua script.',
      ].join('\n'),
    )
    .action(
      runAction('meshfed global-cp', async (flags: GlobalCpFlags) => {
        const listen = parseListenAddress('--listen', flags.listen);
        parseRedisTarget(flags.redis, '--redis');
        const nats = flags.nats ? parseUrl('--nats', flags.nats, ['nats', 'tls']).toString() : undefined;
        const federationId = parseFederationId(flags.federationId);
        const reconcileIntervalMs = parseDurationFlag('--reconcile-interval', flags.reconcileInterval, 1000);
        const offlineAfterMissed = parseCount('--zone-offline-after', flags.zoneOfflineAfter);
        const adminToken = resolveAdminToken(flags.adminTokenFile);
        if (!flags.masterKeyFile) throw new ConfigError('no master key: pass --master-key-file (or MESHFED_MASTER_KEY_FILE); it seals tenant CA keys at rest. Make one: openssl rand -hex 32 > master.key && chmod 600 master.key');
        const masterKey = readMasterKeyFile('--master-key-file', flags.masterKeyFile);
        const running = await startGlobalCp({
          listen,
          redisUrl: flags.redis,
          redisPrefix: flags.redisPrefix,
          adminToken,
          masterKey,
          logLevel: flags.logLevel,
          version: meshfedVersion(),
          offlineAfterMissed,
          ...(nats ? { nats: { url: nats, federationId, reconcileIntervalMs, bucketReplicas: natsReplicas(flags.natsReplicas), ...accountSeed(flags.natsAccountSeedFile) } } : {}),
        });
        const log = createLogger('global-cp', flags.logLevel);
        log.info({ url: running.url, version: meshfedVersion() }, 'global CP serving');
        const signal = await untilSignal();
        log.info({ signal }, 'stopping');
        await running.stop();
      }),
    );
}

function natsReplicas(value: string): number {
  const replicas = parseCount('--nats-replicas', value);
  if (replicas > 5) throw new ConfigError('--nats-replicas: JetStream keeps at most 5 replicas');
  return replicas;
}

function accountSeed(file: string | undefined): { accountSeed?: string } {
  if (!file) return {};
  const seed = readSecretFile('--nats-account-seed-file', file);
  if (!/^SA[A-Z2-7]{56}$/.test(seed)) throw new ConfigError(`--nats-account-seed-file: ${file} does not hold a NATS account seed (SA…)`);
  return { accountSeed: seed };
}

function resolveAdminToken(file: string | undefined): string {
  if (file) return checkAdminToken('--admin-token-file', readSecretFile('--admin-token-file', file));
  const fromEnv = process.env.MESHFED_ADMIN_TOKEN;
  if (fromEnv) return checkAdminToken('MESHFED_ADMIN_TOKEN', fromEnv.trim());
  throw new ConfigError('no admin token: set MESHFED_ADMIN_TOKEN or pass --admin-token-file');
}
