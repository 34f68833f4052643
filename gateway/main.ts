/**
 * `meshfed gateway`: a sidecar or the zone's east-west ingress. Wires the
 * SVID manager (sidecar), the ADS client (with its saved snapshot, so a
 * restart serves the last config before the zone CP answers), the data
 * plane (Sidecar or IngressGateway), the dataplane registration (sidecar,
 * universal mode) and the admin server.
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import Fastify from 'fastify';
import type { Registry } from 'prom-client';
import type { ListenAddress } from '../core/config.js';
import { installErrorHandling } from '../core/http/errors.js';
import { createLogger, loggerOptions, type Logger } from '../core/log.js';
import { createRegistry } from '../core/metrics.js';
import type { DataplaneRegistration } from '../core/schemas/dataplane.js';
import { SvidManager, readDataplaneToken, type DataplaneTokenClaims } from './certs/index.js';
import { DataplaneRegistrar } from './dataplane/registration.js';
import { IngressGateway } from './ingress/ingress-gateway.js';
import { ProxyMetrics, createAccessLogger, type AccessLogger } from './observability/index.js';
import { Sidecar } from './sidecar/sidecar.js';
import { TlsIdentity } from './sidecar/tls-identity.js';
import { AdsClient } from './xds/index.js';

interface CommonOptions {
  /** host:port of the zone CP's TLS gRPC port (ADS and certificates). */
  zoneCpGrpc: string;
  /** The zone CP's gRPC CA (`<zone state dir>/tls/ca.crt`). */
  caFile: string;
  /** Name to check the zone CP's certificate for, when not the host of zoneCpGrpc. */
  zoneCpServerName?: string;
  token: string;
  /** Keeps the last xDS snapshot here (static stability across restarts). */
  stateDir?: string;
  adminListen: ListenAddress;
  logLevel?: string;
  /** Time connections get to finish on stop; default 10 s. */
  drainMs?: number;
}

export interface SidecarGatewayOptions extends CommonOptions {
  mode: 'sidecar';
  dataplane: DataplaneRegistration;
  /** The zone CP's API (registration); undefined when workloads are discovered otherwise (Kubernetes). */
  zoneCpUrl?: string;
  outboundAddress?: string;
  inboundAddress?: string;
  /** `stdout`, `off` or a file. */
  accessLog: string;
  /** SVID lifetime to ask for; 0 takes the zone's. */
  svidValiditySeconds?: number;
}

export interface IngressGatewayProcessOptions extends CommonOptions {
  mode: 'ingress';
  listen: ListenAddress;
  maxConnectionsPerTenant?: number;
}

export type GatewayOptions = SidecarGatewayOptions | IngressGatewayProcessOptions;

export interface RunningGateway {
  /** Admin server URL. */
  url: string;
  registry: Registry;
  sidecar?: Sidecar;
  ingress?: IngressGateway;
  ads: AdsClient;
  stop(): Promise<void>;
}

export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  const claims = readDataplaneToken(options.token);
  if (options.mode === 'ingress' && !claims.ingress) throw new Error('--mode ingress needs an ingress token (POST /api/v1/dataplane-tokens {"ingress": true})');
  if (options.mode === 'sidecar' && claims.ingress) throw new Error('an ingress token cannot run a sidecar: issue a dataplane token for the workload');
  const log = createLogger(`gateway-${options.mode}`, options.logLevel).child({ zone: claims.zone });
  const registry = createRegistry(`gateway-${options.mode}`);
  return options.mode === 'sidecar' ? startSidecar(options, claims, log, registry) : startIngress(options, log, registry);
}

async function startSidecar(options: SidecarGatewayOptions, claims: DataplaneTokenClaims, log: Logger, registry: Registry): Promise<RunningGateway> {
  const { dataplane } = options;
  if (dataplane.tenant !== claims.tenant || dataplane.namespace !== claims.namespace) {
    throw new Error(`the dataplane is ${dataplane.tenant}/${dataplane.namespace} but the token is for ${claims.tenant}/${claims.namespace}`);
  }
  const svids = new SvidManager({
    address: options.zoneCpGrpc,
    caFile: options.caFile,
    token: options.token,
    ...(options.zoneCpServerName ? { serverName: options.zoneCpServerName } : {}),
    ...(options.svidValiditySeconds ? { validitySeconds: options.svidValiditySeconds } : {}),
    registry,
    log,
  });
  const identity = new TlsIdentity(svids);
  const accessLog: AccessLogger = createAccessLogger(options.accessLog);
  const metrics = new ProxyMetrics(registry);
  const sidecar = new Sidecar({
    identity,
    metrics,
    accessLog,
    log,
    localService: `${dataplane.service}.${dataplane.namespace}`,
    ...(options.outboundAddress ? { outboundAddress: options.outboundAddress } : {}),
    ...(options.inboundAddress ? { inboundAddress: options.inboundAddress } : {}),
    drainMs: options.drainMs ?? 10_000,
  });
  const ads = new AdsClient({
    address: options.zoneCpGrpc,
    caFile: options.caFile,
    token: options.token,
    node: { id: `${dataplane.service}.${dataplane.instance}`, kind: 'sidecar', service: dataplane.service, instance: dataplane.instance, ...(dataplane.locality ? { locality: dataplane.locality } : {}) },
    identity: svids,
    ...(options.stateDir ? { snapshotFile: join(options.stateDir, 'xds-snapshot.json') } : {}),
    ...(options.zoneCpServerName ? { serverName: options.zoneCpServerName } : {}),
    registry,
    log,
  });
  const registrar = options.zoneCpUrl ? new DataplaneRegistrar({ zoneCpUrl: options.zoneCpUrl, token: options.token, dataplane, log }) : undefined;
  ads.onSnapshot((snapshot) => {
    void sidecar.apply(snapshot).catch(() => undefined);
  });
  svids.start();
  // The zone CP reads a sidecar's registered ports when its ADS stream opens: a stream opened before the
  // registration was accepted (the tenant's placement had not reached the zone yet, say) would carry no
  // inbound listeners, so it is opened again once the registration is in.
  registrar?.onRegistered(() => ads.renewStream('the dataplane registration was accepted'));
  await ads.start();
  if (registrar) await registrar.start();
  const admin = await startAdmin(options.adminListen, registry, options.logLevel, {
    ready: () => {
      if (!identity.ready()) return { ready: false, reason: 'no SVID yet' };
      if (!sidecar.ready()) return { ready: false, reason: 'no config applied yet, or a listener could not bind' };
      if (registrar && !registrar.isRegistered()) return { ready: false, reason: 'not registered with the zone CP yet' };
      return { ready: true, reason: 'serving' };
    },
    status: () => ({ mode: 'sidecar', spiffeId: identity.spiffeId() ?? null, zoneCpConnected: ads.connected(), xds: ads.status(), applicationHealthy: registrar?.applicationHealthy() ?? null, ...sidecar.status() }),
  });
  log.info({ admin: admin.url, service: dataplane.service, instance: dataplane.instance, zoneCp: options.zoneCpGrpc }, 'sidecar started');
  return {
    url: admin.url,
    registry,
    sidecar,
    ads,
    stop: async () => {
      // Deregister first: callers stop choosing this instance while its listeners drain.
      await registrar?.stop();
      await ads.stop();
      await sidecar.stop(options.drainMs ?? 10_000);
      await svids.stop();
      identity.stop();
      await accessLog.close();
      await admin.app.close();
    },
  };
}

async function startIngress(options: IngressGatewayProcessOptions, log: Logger, registry: Registry): Promise<RunningGateway> {
  const ingress = new IngressGateway({
    port: options.listen.port,
    ...(options.listen.host ? { bindAddress: options.listen.host } : {}),
    registry,
    log,
    ...(options.drainMs !== undefined ? { drainMs: options.drainMs } : {}),
    ...(options.maxConnectionsPerTenant ? { maxConnectionsPerTenant: options.maxConnectionsPerTenant } : {}),
    // The zone CP sends ingress clusters without outlier detection; an endpoint that refuses
    // connections is still taken out of rotation quickly (its retries cost the caller's handshake).
    defaultOutlierDetection: { consecutive5xx: 3, consecutiveGatewayFailure: 3, intervalMs: 10_000, baseEjectionTimeMs: 10_000, maxEjectionPercent: 50 },
  });
  const ads = new AdsClient({
    address: options.zoneCpGrpc,
    caFile: options.caFile,
    token: options.token,
    // One stream per node id at the zone CP: replicas must differ, so the host name is in it.
    node: { id: `ingress-${hostname()}-${options.listen.port}`, kind: 'ingress', ingressPort: options.listen.port },
    ...(options.stateDir ? { snapshotFile: join(options.stateDir, 'xds-snapshot.json') } : {}),
    ...(options.zoneCpServerName ? { serverName: options.zoneCpServerName } : {}),
    registry,
    log,
  });
  ads.onSnapshot((snapshot) => {
    void ingress.apply(snapshot).catch((error: Error) => log.error({ err: error.message }, 'cannot listen'));
  });
  await ads.start();
  const admin = await startAdmin(options.adminListen, registry, options.logLevel, {
    ready: () => (ingress.ready() ? { ready: true, reason: 'serving' } : { ready: false, reason: 'no config from the zone CP yet, or the port could not be bound' }),
    status: () => ({ mode: 'ingress', zoneCpConnected: ads.connected(), xds: ads.status(), address: ingress.address() ?? null, openConnections: ingress.openConnections(), problems: ingress.problems() }),
  });
  log.info({ admin: admin.url, listen: options.listen, zoneCp: options.zoneCpGrpc }, 'ingress started');
  return {
    url: admin.url,
    registry,
    ingress,
    ads,
    stop: async () => {
      await ads.stop();
      await ingress.stop();
      await admin.app.close();
    },
  };
}

interface AdminSources {
  ready(): { ready: boolean; reason: string };
  status(): unknown;
}

/** /healthz, /readyz, /metrics and /status (what the gateway applied, for debugging). */
async function startAdmin(listen: ListenAddress, registry: Registry, logLevel: string | undefined, sources: AdminSources): Promise<{ app: FastifyInstance; url: string }> {
  const app = Fastify({ logger: loggerOptions('gateway-admin', logLevel === 'debug' || logLevel === 'trace' ? logLevel : 'warn') });
  installErrorHandling(app);
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const { ready, reason } = sources.ready();
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', reason });
  });
  app.get('/metrics', async (_request, reply) => reply.header('content-type', registry.contentType).send(await registry.metrics()));
  app.get('/status', async () => sources.status());
  const url = await app.listen({ host: listen.host || '127.0.0.1', port: listen.port });
  return { app, url };
}
