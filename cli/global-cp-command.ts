import { Command, Option } from 'commander';
import { checkAdminToken, parseListenAddress, parseUrl, readSecretFile } from '../core/config.js';
import { ConfigError } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import { meshfedVersion } from '../core/version.js';
import { startGlobalCp } from '../global-cp/main.js';
import { runAction, untilSignal } from './run.js';

interface GlobalCpFlags {
  listen: string;
  redis: string;
  redisPrefix: string;
  nats?: string;
  adminTokenFile?: string;
  logLevel: string;
}

export function globalCpCommand(): Command {
  return new Command('global-cp')
    .description('Run the global control plane: the REST API for zones, tenants, tokens and policies, stored in Redis.')
    .addOption(new Option('--listen <host:port>', 'address of the REST API').env('MESHFED_LISTEN').default('127.0.0.1:5681'))
    .addOption(new Option('--redis <url>', 'Redis, the store of record').env('MESHFED_REDIS_URL').default('redis://127.0.0.1:6379'))
    .addOption(new Option('--redis-prefix <prefix>', 'prefix of every Redis key (several federations can share one Redis)').env('MESHFED_REDIS_PREFIX').default('mf:'))
    .addOption(new Option('--nats <url>', 'NATS JetStream for federation to zone CPs (not used yet: federation is the next milestone)').env('MESHFED_NATS_URL'))
    .addOption(new Option('--admin-token-file <path>', 'file holding the admin token (else MESHFED_ADMIN_TOKEN)').env('MESHFED_ADMIN_TOKEN_FILE'))
    .addOption(new Option('--log-level <level>', 'log level').env('MESHFED_LOG_LEVEL').choices(['trace', 'debug', 'info', 'warn', 'error']).default('info'))
    .addHelpText('after', '\nThe admin token comes from --admin-token-file or the MESHFED_ADMIN_TOKEN environment variable; it is never logged.')
    .action(
      runAction('meshfed global-cp', async (flags: GlobalCpFlags) => {
        const listen = parseListenAddress('--listen', flags.listen);
        const redis = parseUrl('--redis', flags.redis, ['redis', 'rediss']);
        if (flags.nats) parseUrl('--nats', flags.nats, ['nats', 'tls']);
        const adminToken = resolveAdminToken(flags.adminTokenFile);
        const running = await startGlobalCp({ listen, redisUrl: redis.toString(), redisPrefix: flags.redisPrefix, adminToken, logLevel: flags.logLevel, version: meshfedVersion() });
        const log = createLogger('global-cp', flags.logLevel);
        log.info({ url: running.url, version: meshfedVersion() }, 'global CP serving');
        const signal = await untilSignal();
        log.info({ signal }, 'stopping');
        await running.stop();
      }),
    );
}

function resolveAdminToken(file: string | undefined): string {
  if (file) return checkAdminToken('--admin-token-file', readSecretFile('--admin-token-file', file));
  const fromEnv = process.env.MESHFED_ADMIN_TOKEN;
  if (fromEnv) return checkAdminToken('MESHFED_ADMIN_TOKEN', fromEnv.trim());
  throw new ConfigError('no admin token: set MESHFED_ADMIN_TOKEN or pass --admin-token-file');
}
