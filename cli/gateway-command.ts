import { Command, Option } from 'commander';
import { isIP } from 'node:net';
import { parseCount, parseDurationFlag, parseListenAddress, parseUrl, readSecretFile } from '../core/config.js';
import { ConfigError } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import { readDataplaneFile } from '../gateway/dataplane/registration.js';
import { startGateway, type GatewayOptions } from '../gateway/main.js';
import { runAction, untilSignal } from './run.js';

interface GatewayFlags {
  mode?: string;
  zoneCp?: string;
  zoneCpGrpc: string;
  zoneCpServerName?: string;
  caCertFile?: string;
  tokenFile?: string;
  dataplaneFile?: string;
  register: boolean;
  outboundAddress?: string;
  inboundAddress?: string;
  listen?: string;
  maxConnectionsPerTenant?: string;
  stateDir?: string;
  adminListen: string;
  accessLog: string;
  drain: string;
  logLevel: string;
}

export function gatewayCommand(): Command {
  return new Command('gateway')
    .description('Run meshfed\'s proxy: a workload\'s sidecar (mTLS, routing, retries, failover) or the zone\'s east-west ingress (SNI passthrough).')
    .addOption(new Option('--mode <mode>', 'sidecar or ingress').choices(['sidecar', 'ingress']).env('MESHFED_GATEWAY_MODE'))
    .addOption(new Option('--zone-cp <url>', 'the zone CP\'s API, for the dataplane registration (sidecar)').env('MESHFED_ZONE_CP_URL'))
    .addOption(new Option('--zone-cp-grpc <host:port>', 'the zone CP\'s TLS gRPC port (ADS and certificates)').env('MESHFED_ZONE_CP_GRPC').default('127.0.0.1:5685'))
    .addOption(new Option('--zone-cp-server-name <name>', 'name to check the zone CP\'s certificate for, when not the host of --zone-cp-grpc').env('MESHFED_ZONE_CP_SERVER_NAME'))
    .addOption(new Option('--ca-cert-file <path>', 'the zone CP\'s gRPC CA (<zone state dir>/tls/ca.crt)').env('MESHFED_CA_CERT_FILE'))
    .addOption(new Option('--token-file <path>', 'dataplane token (sidecar) or ingress token, from POST /api/v1/dataplane-tokens').env('MESHFED_TOKEN_FILE'))
    .addOption(new Option('--dataplane-file <path>', 'sidecar: YAML/JSON of the workload (tenant, namespace, service, instance, address, ports, locality)').env('MESHFED_DATAPLANE_FILE'))
    .addOption(new Option('--no-register', 'sidecar: do not register with the zone CP (Kubernetes discovers the workload)'))
    .addOption(new Option('--outbound-address <ip>', 'sidecar: bind outbound listeners here instead of 127.0.0.1 (one loopback address per sidecar on a shared host)').env('MESHFED_OUTBOUND_ADDRESS'))
    .addOption(new Option('--inbound-address <ip>', 'sidecar: bind inbound listeners here instead of the workload\'s address').env('MESHFED_INBOUND_ADDRESS'))
    .addOption(new Option('--listen <host:port>', 'ingress: the SNI port (also announced to the zone CP)').env('MESHFED_LISTEN'))
    .addOption(new Option('--max-connections-per-tenant <n>', 'ingress: open connections one tenant may hold').env('MESHFED_MAX_CONNECTIONS_PER_TENANT'))
    .addOption(new Option('--state-dir <dir>', 'keeps the last config, served at restart before the zone CP answers').env('MESHFED_STATE_DIR'))
    .addOption(new Option('--admin-listen <host:port>', '/healthz, /readyz, /metrics and /status').env('MESHFED_ADMIN_LISTEN').default('127.0.0.1:15000'))
    .addOption(new Option('--access-log <dest>', 'sidecar: stdout, off, or a file').env('MESHFED_ACCESS_LOG').default('stdout'))
    .addOption(new Option('--drain <duration>', 'time open connections get to finish on stop or when a listener goes away').env('MESHFED_DRAIN').default('10s'))
    .addOption(new Option('--log-level <level>', 'log level').env('MESHFED_LOG_LEVEL').choices(['trace', 'debug', 'info', 'warn', 'error']).default('info'))
    .action(
      runAction('meshfed gateway', async (flags: GatewayFlags) => {
        const options = await gatewayOptions(flags);
        let running;
        try {
          running = await startGateway(options);
        } catch (error) {
          throw error instanceof ConfigError ? error : new ConfigError((error as Error).message);
        }
        const log = createLogger(`gateway-${options.mode}`, flags.logLevel);
        const signal = await untilSignal();
        log.info({ signal }, 'stopping: draining connections');
        await running.stop();
      }),
    );
}

/** Flags → options, every problem a ConfigError naming the flag. */
export async function gatewayOptions(flags: GatewayFlags): Promise<GatewayOptions> {
  const mode = required('--mode', flags.mode);
  const token = readSecretFile('--token-file', required('--token-file', flags.tokenFile));
  const common = {
    zoneCpGrpc: flags.zoneCpGrpc,
    caFile: required('--ca-cert-file', flags.caCertFile),
    token,
    adminListen: parseListenAddress('--admin-listen', flags.adminListen),
    logLevel: flags.logLevel,
    drainMs: parseDurationFlag('--drain', flags.drain, 0),
    ...(flags.zoneCpServerName ? { zoneCpServerName: flags.zoneCpServerName } : {}),
    ...(flags.stateDir ? { stateDir: flags.stateDir } : {}),
  };
  parseListenAddress('--zone-cp-grpc', flags.zoneCpGrpc);
  if (mode === 'ingress') {
    const listen = parseListenAddress('--listen', required('--listen', flags.listen));
    return { mode, ...common, listen, ...(flags.maxConnectionsPerTenant ? { maxConnectionsPerTenant: parseCount('--max-connections-per-tenant', flags.maxConnectionsPerTenant) } : {}) };
  }
  const dataplane = await readDataplaneFile(required('--dataplane-file', flags.dataplaneFile));
  for (const [flag, value] of [['--outbound-address', flags.outboundAddress], ['--inbound-address', flags.inboundAddress]] as const) {
    if (value !== undefined && !isIP(value)) throw new ConfigError(`${flag}: "${value}" is not an IP address`);
  }
  const zoneCpUrl = flags.register ? parseUrl('--zone-cp', required('--zone-cp', flags.zoneCp), ['http', 'https']).toString().replace(/\/$/, '') : undefined;
  return {
    mode: 'sidecar',
    ...common,
    dataplane,
    accessLog: flags.accessLog,
    ...(zoneCpUrl ? { zoneCpUrl } : {}),
    ...(flags.outboundAddress ? { outboundAddress: flags.outboundAddress } : {}),
    ...(flags.inboundAddress ? { inboundAddress: flags.inboundAddress } : {}),
  };
}

function required(flag: string, value: string | undefined): string {
  if (!value) throw new ConfigError(`${flag} is required (see --help)`);
  return value;
}
