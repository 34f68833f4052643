/**
 * The meshfed the dataplane bench measures, started once per run (on the
 * first meshfed target) and stopped after every target:
 *
 *   redis-server + nats-server (local binaries, in the run's temp dir)
 *   global CP, zone CPs "zone-a" and "zone-b" (same region)  — in the bench process
 *   zone-b's east-west ingress                               — its own process
 *   tenant "bench", placed in both zones
 *
 * The control planes run in the bench's own process: they are not measured
 * (the bench's CPU is left out of every figure) and are idle while the load
 * runs. Every gateway, ingress and sidecars alike, is a `meshfed gateway`
 * process of its own (./gateway-process.ts) on its own loopback addresses.
 *
 * Registrations are kept for a day (`dataplaneLiveness`): the TLS backend
 * registered without a sidecar (`registerWithoutSidecar`) is then not expired
 * during a long run; sidecars deregister when they stop.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { freePort } from '../../deploy/local/free-port.js';
import { startLocalNats, startLocalRedis, type LocalService } from '../../deploy/local/services.js';
import { startGlobalCp, type RunningGlobalCp } from '../../global-cp/main.js';
import type { DataplaneRegistration } from '../../core/schemas/dataplane.js';
import { generateToken } from '../../tenants/tokens.js';
import { startZoneCp, type RunningZoneCp } from '../../zone-cp/main.js';
import { spawnGateway, type GatewayProcess } from './gateway-process.js';
import type { Address } from './haproxy.js';
import { waitForPort } from './processes.js';

export const MESH_TENANT = 'bench';
export const MESH_NAMESPACE = 'bench';
export const MESH_REGION = 'bench-region';
const FEDERATION_ID = 'bench';
export type ZoneName = 'zone-a' | 'zone-b';
const ZONES: ZoneName[] = ['zone-a', 'zone-b'];
/** zone-b's ingress binds here (its own loopback address); the port is a free one. */
const INGRESS_HOST = '127.0.33.2';
const DAY_MS = 24 * 3_600_000;

export interface MeshZone {
  name: ZoneName;
  cp: RunningZoneCp;
  zoneToken: string;
}

export interface BenchMesh {
  zones: Record<ZoneName, MeshZone>;
  /** zone-b's ingress process; it listens only once zone-b has a service with an endpoint (`waitForIngress`). */
  ingress: GatewayProcess;
  ingressAddress: Address;
  /** Resolves once the ingress accepts connections (after a zone-b registration). */
  waitForIngress(): Promise<void>;
  /** A dataplane token for a workload of the bench tenant (service account = service). */
  dataplaneToken(zone: ZoneName, service: string): string;
  /** Registers an endpoint with no sidecar in front of it (the ingress forwards to it directly). */
  registerWithoutSidecar(zone: ZoneName, dataplane: DataplaneRegistration): Promise<void>;
  deregister(zone: ZoneName, service: string, instance: string): Promise<void>;
  stop(): Promise<void>;
}

export interface MeshOptions {
  dir: string;
  log: (message: string) => void;
  profileDir?: string;
}

export async function startBenchMesh(options: MeshOptions): Promise<BenchMesh> {
  const { dir, log } = options;
  const stops: Array<{ what: string; stop: () => Promise<void> }> = [];
  const stopAll = async () => {
    const failures: string[] = [];
    while (stops.length) {
      const { what, stop } = stops.pop()!;
      await stop().catch((e: Error) => failures.push(`${what}: ${e.message}`));
    }
    if (failures.length) throw new Error(`stopping the mesh: ${failures.join('; ')}`);
  };
  try {
    const t0 = Date.now();
    const [redis, nats] = await Promise.all([startLocalRedis(join(dir, 'redis')), startLocalNats(join(dir, 'nats'))]);
    for (const service of [nats, redis]) stops.push({ what: `${service.name}-server`, stop: () => stopService(service) });
    const adminToken = generateToken('admin');
    const globalCp: RunningGlobalCp = await startGlobalCp({
      listen: { host: '127.0.0.1', port: 0 },
      redisUrl: redis.url,
      redisPrefix: `${FEDERATION_ID}:`,
      adminToken,
      masterKey: randomBytes(32),
      logLevel: 'silent',
      version: 'bench',
      nats: { url: nats.url, federationId: FEDERATION_ID, reconcileIntervalMs: 600_000 },
    });
    stops.push({ what: 'global CP', stop: () => globalCp.stop() });
    await globalCp.federation!.ready;
    const api = async (method: string, path: string, body: unknown): Promise<Record<string, unknown>> => {
      const response = await fetch(`${globalCp.url}/api/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const text = await response.text();
      if (!response.ok) throw new Error(`global CP: ${method} ${path}: HTTP ${response.status} ${text}`);
      return JSON.parse(text) as Record<string, unknown>;
    };
    const zoneTokens: Record<string, string> = {};
    for (const zone of ZONES) zoneTokens[zone] = String((await api('POST', '/zones', { name: zone, region: MESH_REGION, location: `dc:${zone}`, kind: 'universal' })).token);
    await api('POST', '/tenants', { name: MESH_TENANT, zones: ZONES });

    const ingressAddress = { host: INGRESS_HOST, port: await freePort(INGRESS_HOST) };
    const zones = {} as Record<ZoneName, MeshZone>;
    for (const name of ZONES) {
      const cp = await startZoneCp({
        zone: name,
        globalUrl: globalCp.url,
        token: zoneTokens[name]!,
        natsUrl: nats.url,
        stateDir: join(dir, name),
        listen: { host: '127.0.0.1', port: 0 },
        grpcListen: { host: '127.0.0.1', port: 0 },
        federationId: FEDERATION_ID,
        ...(name === 'zone-b' ? { ingressAddress: `${ingressAddress.host}:${ingressAddress.port}` } : {}),
        heartbeatIntervalMs: 1_000,
        reauthIntervalMs: 600_000,
        xdsDebounceMs: 10,
        dataplaneLiveness: { unhealthyAfterMs: DAY_MS, removeAfterMs: 2 * DAY_MS },
        version: 'bench',
        logLevel: 'silent',
      });
      stops.push({ what: `zone CP ${name}`, stop: () => cp.stop() });
      zones[name] = { name, cp, zoneToken: zoneTokens[name]! };
    }
    await withTimeout(Promise.all(ZONES.map((z) => zones[z].cp.synced())), 30_000, 'the zone CPs did not sync with NATS and the global CP');

    const zoneB = zones['zone-b'];
    const ingress = await spawnGateway({
      name: 'ingress (zone-b)',
      role: 'ingress',
      mode: 'ingress',
      dir: join(dir, 'ingress'),
      zone: zoneB.cp,
      token: await ingressToken(zoneB),
      listen: ingressAddress,
      ...(options.profileDir ? { profileDir: options.profileDir } : {}),
    });
    stops.push({ what: 'ingress', stop: () => ingress.stop() });
    log(`mesh: redis pid ${redis.process.pid}, nats pid ${nats.process.pid}, global CP ${globalCp.url}, zone CPs ${ZONES.map((z) => `${z} ${zones[z].cp.url}`).join(', ')} (in this process); ` +
      `zone-b ingress pid ${ingress.pid} on ${ingressAddress.host}:${ingressAddress.port}; up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    const zoneApi = async (zone: ZoneName, method: string, path: string, token: string, body?: unknown): Promise<void> => {
      const response = await fetch(`${zones[zone].cp.url}/api/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      if (!response.ok) throw new Error(`zone CP ${zone}: ${method} ${path}: HTTP ${response.status} ${await response.text()}`);
    };
    const dataplaneToken = (zone: ZoneName, service: string) => zones[zone].cp.issueDataplaneToken({ tenant: MESH_TENANT, namespace: MESH_NAMESPACE, serviceAccount: service });
    return {
      zones,
      ingress,
      ingressAddress,
      waitForIngress: () => waitForPort(ingressAddress.host, ingressAddress.port, ingress.process, 30_000),
      dataplaneToken,
      registerWithoutSidecar: (zone, dataplane) => zoneApi(zone, 'POST', '/dataplanes', dataplaneToken(zone, dataplane.service), dataplane),
      deregister: (zone, service, instance) => zoneApi(zone, 'DELETE', `/dataplanes/${service}/${instance}`, dataplaneToken(zone, service)),
      stop: stopAll,
    };
  } catch (error) {
    await stopAll().catch(() => undefined);
    throw error;
  }
}

async function ingressToken(zone: MeshZone): Promise<string> {
  const response = await fetch(`${zone.cp.url}/api/v1/dataplane-tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${zone.zoneToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ingress: true }),
  });
  if (response.status !== 201) throw new Error(`zone CP ${zone.name}: ingress token: HTTP ${response.status} ${await response.text()}`);
  return ((await response.json()) as { token: string }).token;
}

/** Stops redis-server / nats-server and checks it is gone. */
async function stopService(service: LocalService): Promise<void> {
  await service.stop();
  if (service.process.exitCode === null && service.process.signalCode === null) throw new Error(`${service.name}-server (pid ${service.process.pid}) still running`);
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${message} within ${ms / 1000} s`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
