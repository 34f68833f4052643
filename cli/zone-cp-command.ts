import { Command, Option } from 'commander';
import { parseDurationFlag, parseFederationId, parseListenAddress, parseUrl, readSecretFile } from '../core/config.js';
import { ConfigError } from '../core/errors.js';
import { DNS1123_LABEL_PATTERN } from '../core/schemas/common.js';
import { createLogger } from '../core/log.js';
import { meshfedVersion } from '../core/version.js';
import type { KubeConfig } from '@kubernetes/client-node';
import { startZoneCp } from '../zone-cp/main.js';
import { MIN_SVID_TTL_MS } from '../zone-cp/certs/svid-issuer.js';
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
  grpcListen: string;
  xdsPlaintextListen?: string;
  grpcTlsName: string[];
  svidTtl: string;
  kubeconfig?: string;
  kube?: boolean;
  dataplaneUnhealthyAfter: string;
  dataplaneRemoveAfter: string;
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
    .addOption(new Option('--grpc-listen <host:port>', 'TLS gRPC port: ADS for meshfed proxies (mTLS) and the certificate service').env('MESHFED_GRPC_LISTEN').default('127.0.0.1:5685'))
    .addOption(new Option('--xds-plaintext-listen <host:port>', 'plaintext ADS for proxyless gRPC clients (off unless set; keep it on loopback or the node)').env('MESHFED_XDS_PLAINTEXT_LISTEN'))
    .addOption(new Option('--grpc-tls-name <name>', 'DNS name or IP the gRPC port\'s certificate carries (repeatable; default localhost, 127.0.0.1, ::1)').env('MESHFED_GRPC_TLS_NAMES').argParser(collect).default([]))
    .addOption(new Option('--svid-ttl <duration>', 'lifetime of proxy SVIDs (minimum 5m); proxies renew at half life').env('MESHFED_SVID_TTL').default('24h'))
    .addOption(new Option('--kube', 'discover workloads from Kubernetes with the in-cluster config (or KUBECONFIG)').env('MESHFED_KUBE'))
    .addOption(new Option('--kubeconfig <path>', 'discover workloads from the Kubernetes cluster of this kubeconfig').env('MESHFED_KUBECONFIG'))
    .addOption(new Option('--dataplane-unhealthy-after <duration>', 'universal mode: a dataplane silent this long is unhealthy').env('MESHFED_DATAPLANE_UNHEALTHY_AFTER').default('30s'))
    .addOption(new Option('--dataplane-remove-after <duration>', 'universal mode: a dataplane silent this long is removed').env('MESHFED_DATAPLANE_REMOVE_AFTER').default('5m'))
    .addOption(new Option('--log-level <level>', 'log level').env('MESHFED_LOG_LEVEL').choices(['trace', 'debug', 'info', 'warn', 'error']).default('info'))
    .action(
      runAction('meshfed zone-cp', async (flags: ZoneCpFlags) => {
        const zone = required('--zone', flags.zone);
        if (!new RegExp(DNS1123_LABEL_PATTERN).test(zone)) throw new ConfigError(`--zone: "${zone}" is not a DNS-1123 label`);
        const globalUrl = parseUrl('--global', required('--global', flags.global), ['http', 'https']).toString().replace(/\/$/, '');
        const natsUrl = parseUrl('--nats', required('--nats', flags.nats), ['nats', 'tls']).toString();
        const token = readSecretFile('--token-file', required('--token-file', flags.tokenFile));
        if (flags.servicesFile && (flags.kube || flags.kubeconfig)) throw new ConfigError('--services-file and --kube/--kubeconfig are two discovery modes; choose one');
        const unhealthyAfterMs = parseDurationFlag('--dataplane-unhealthy-after', flags.dataplaneUnhealthyAfter, 1000);
        const removeAfterMs = parseDurationFlag('--dataplane-remove-after', flags.dataplaneRemoveAfter, 1000);
        if (removeAfterMs <= unhealthyAfterMs) throw new ConfigError('--dataplane-remove-after must be longer than --dataplane-unhealthy-after');
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
          grpcListen: parseListenAddress('--grpc-listen', flags.grpcListen),
          ...(flags.xdsPlaintextListen ? { plaintextXdsListen: parseListenAddress('--xds-plaintext-listen', flags.xdsPlaintextListen) } : {}),
          ...(flags.grpcTlsName.length ? { grpcTlsNames: flags.grpcTlsName } : {}),
          svidTtlMs: parseDurationFlag('--svid-ttl', flags.svidTtl, MIN_SVID_TTL_MS),
          dataplaneLiveness: { unhealthyAfterMs, removeAfterMs },
          ...(flags.kube || flags.kubeconfig ? { kubeConfig: await loadKubeConfig(flags.kubeconfig) } : {}),
          ...(flags.servicesFile ? { servicesFile: flags.servicesFile } : {}),
          ...(flags.ingressAddress ? { ingressAddress: flags.ingressAddress } : {}),
        });
        const log = createLogger('zone-cp', flags.logLevel).child({ zone });
        log.info({ url: running.url, grpc: running.grpcAddress, plaintextXds: running.plaintextXdsAddress ?? 'off', grpcCaFile: running.grpcCaFile, version: meshfedVersion() }, 'zone CP serving');
        const signal = await untilSignal();
        log.info({ signal }, 'stopping');
        await running.stop();
      }),
    );
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, ...value.split(',').map((v) => v.trim()).filter(Boolean)];
}

/** In-cluster config when running in a pod, else the kubeconfig given (or KUBECONFIG / ~/.kube/config). */
async function loadKubeConfig(path: string | undefined): Promise<KubeConfig> {
  // Loaded only when asked for: the client library costs a second of start-up.
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  try {
    if (path) kc.loadFromFile(path);
    else kc.loadFromDefault();
  } catch (error) {
    throw new ConfigError(`cannot load the Kubernetes config${path ? ` ${path}` : ''}: ${(error as Error).message}`);
  }
  if (!kc.getCurrentCluster()) throw new ConfigError('no Kubernetes cluster configured (in-cluster, --kubeconfig or KUBECONFIG)');
  return kc;
}

function required(flag: string, value: string | undefined): string {
  if (!value) throw new ConfigError(`${flag} is required (see --help)`);
  return value;
}
