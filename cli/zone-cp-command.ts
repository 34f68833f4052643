import { Command, Option } from 'commander';
import { parseDurationFlag, parseFederationId, parseListenAddress, parseUrl, readSecretFile } from '../core/config.js';
import { ConfigError } from '../core/errors.js';
import { DNS1123_LABEL_PATTERN } from '../core/schemas/common.js';
import { createLogger } from '../core/log.js';
import { meshfedVersion } from '../core/version.js';
import { startZoneCp } from '../zone-cp/main.js';
import { runAction, untilSignal } from './run.js';

interface ZoneCpFlags {
  zone?: string;
  global?: string;
  tokenFile?: string;
  nats?: string;
  stateDir?: string;
  listen: string;
  servicesFile?: string;
  ingressAddress?: string;
  federationId: string;
  heartbeatInterval: string;
  logLevel: string;
}

export function zoneCpCommand(): Command {
  return new Command('zone-cp')
    .description('Run a zone control plane: follows its tenants\' policy from NATS, reports inventory and heartbeats, serves its last snapshot when cut off.')
    .addOption(new Option('--zone <name>', 'this zone\'s name, as registered at the global CP').env('MESHFED_ZONE'))
    .addOption(new Option('--global <url>', 'global CP URL').env('MESHFED_GLOBAL_URL'))
    .addOption(new Option('--token-file <path>', 'file holding the zone token (from POST /zones)').env('MESHFED_ZONE_TOKEN_FILE'))
    .addOption(new Option('--nats <url>', 'NATS JetStream').env('MESHFED_NATS_URL'))
    .addOption(new Option('--state-dir <dir>', 'where the snapshot is kept (survives restarts)').env('MESHFED_STATE_DIR'))
    .addOption(new Option('--listen <host:port>', 'address of /healthz, /readyz, /metrics and /api/v1/state').env('MESHFED_LISTEN').default('127.0.0.1:5682'))
    .addOption(new Option('--services-file <path>', 'YAML file of this zone\'s services per tenant (watched for changes)').env('MESHFED_SERVICES_FILE'))
    .addOption(new Option('--ingress-address <host:port>', 'where other zones reach this zone\'s ingress (overrides the services file)').env('MESHFED_INGRESS_ADDRESS'))
    .addOption(new Option('--federation-id <id>', 'prefix of NATS buckets and subjects; must match the global CP').env('MESHFED_FEDERATION_ID').default('meshfed'))
    .addOption(new Option('--heartbeat-interval <duration>', 'how often the zone reports in').env('MESHFED_HEARTBEAT_INTERVAL').default('5s'))
    .addOption(new Option('--log-level <level>', 'log level').env('MESHFED_LOG_LEVEL').choices(['trace', 'debug', 'info', 'warn', 'error']).default('info'))
    .action(
      runAction('meshfed zone-cp', async (flags: ZoneCpFlags) => {
        const zone = required('--zone', flags.zone);
        if (!new RegExp(DNS1123_LABEL_PATTERN).test(zone)) throw new ConfigError(`--zone: "${zone}" is not a DNS-1123 label`);
        const globalUrl = parseUrl('--global', required('--global', flags.global), ['http', 'https']).toString().replace(/\/$/, '');
        const natsUrl = parseUrl('--nats', required('--nats', flags.nats), ['nats', 'tls']).toString();
        const token = readSecretFile('--token-file', required('--token-file', flags.tokenFile));
        const running = await startZoneCp({
          zone,
          globalUrl,
          token,
          natsUrl,
          stateDir: required('--state-dir', flags.stateDir),
          listen: parseListenAddress('--listen', flags.listen),
          federationId: parseFederationId(flags.federationId),
          heartbeatIntervalMs: parseDurationFlag('--heartbeat-interval', flags.heartbeatInterval, 100),
          reauthIntervalMs: 60_000,
          version: meshfedVersion(),
          logLevel: flags.logLevel,
          ...(flags.servicesFile ? { servicesFile: flags.servicesFile } : {}),
          ...(flags.ingressAddress ? { ingressAddress: flags.ingressAddress } : {}),
        });
        const log = createLogger('zone-cp', flags.logLevel).child({ zone });
        log.info({ url: running.url, version: meshfedVersion() }, 'zone CP serving');
        const signal = await untilSignal();
        log.info({ signal }, 'stopping');
        await running.stop();
      }),
    );
}

function required(flag: string, value: string | undefined): string {
  if (!value) throw new ConfigError(`${flag} is required (see --help)`);
  return value;
}
