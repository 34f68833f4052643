/**
 * One zone of a local federation, in this process: its zone CP (universal
 * discovery), its east-west ingress gateway, and its demo workloads — an
 * echo application and a sidecar for each service instance and client.
 * Tokens come the way an operator gets them: the ingress token and the
 * dataplane tokens from the zone CP's API, with the zone token.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError } from '../../core/errors.js';
import { startGateway, type RunningGateway } from '../../gateway/main.js';
import { startZoneCp, type RunningZoneCp } from '../../zone-cp/main.js';
import { EchoApp } from './echo-app.js';
import { freePort } from './free-port.js';
import type { WorkloadPlan, ZonePlan } from './plan.js';
import { withTimeout } from './with-timeout.js';

export interface LocalZoneOptions {
  plan: ZonePlan;
  globalUrl: string;
  natsUrl: string;
  federationId: string;
  zoneToken: string;
  stateDir: string;
  version: string;
  logLevel: string;
  heartbeatIntervalMs: number;
  /** How long the zone CP may take to sync with NATS and the global CP. */
  syncTimeoutMs?: number;
}

export interface RunningWorkload {
  plan: WorkloadPlan;
  app: EchoApp;
  sidecar: RunningGateway;
}

export interface RunningLocalZone {
  plan: ZonePlan;
  cp: RunningZoneCp;
  /** host:port other zones reach this zone's ingress at (announced by the zone CP). */
  ingressAddress: string;
  ingress: RunningGateway;
  workloads: RunningWorkload[];
  /** Kills (up = false) or revives the echo applications of the workloads `which` selects; their sidecars stay. */
  setApplications(which: (workload: WorkloadPlan) => boolean, up: boolean): Promise<void>;
  /**
   * Stops the zone CP and starts it again on the same HTTP and gRPC ports with the same state dir
   * (so its ingress and sidecars reconnect on their own); `cp` is the new one afterwards. Resolves
   * once the new zone CP has synced with NATS and the global CP. `downMs`: how long it stays away.
   */
  restartControlPlane(options?: { downMs?: number }): Promise<void>;
  stop(): Promise<void>;
}

/** Gateways drain briefly: a local demo has nothing worth waiting 10 s for. */
const DRAIN_MS = 500;
/**
 * The name gateways check the zone CP's gRPC certificate for (it carries localhost). Without it they
 * would use the IP of the address, which Node warns about as a TLS server name (DEP0123).
 */
const ZONE_CP_SERVER_NAME = 'localhost';

export async function startLocalZone(options: LocalZoneOptions): Promise<RunningLocalZone> {
  const { plan } = options;
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    while (stops.length) await stops.pop()!().catch(() => undefined);
  };
  try {
    // The zone CP announces its ingress address, so the ingress's port is chosen first.
    const ingressPort = await freePort();
    const ingressAddress = `127.0.0.1:${ingressPort}`;
    const launchCp = (port: number, grpcPort: number) =>
      startZoneCp({
        zone: plan.name,
        globalUrl: options.globalUrl,
        token: options.zoneToken,
        natsUrl: options.natsUrl,
        stateDir: options.stateDir,
        listen: { host: '127.0.0.1', port },
        grpcListen: { host: '127.0.0.1', port: grpcPort },
        federationId: options.federationId,
        ingressAddress,
        heartbeatIntervalMs: options.heartbeatIntervalMs,
        reauthIntervalMs: 60_000,
        version: options.version,
        logLevel: options.logLevel,
      });
    const cpSynced = (zoneCp: RunningZoneCp) => withTimeout(zoneCp.synced(), options.syncTimeoutMs ?? 30_000, `${plan.name}: the zone CP did not sync with NATS and the global CP`);
    const cp = await launchCp(0, 0);
    // The zone CP running now (restartControlPlane replaces it); `undefined` while it is away.
    let currentCp: RunningZoneCp | undefined = cp;
    stops.push(async () => {
      const running = currentCp;
      currentCp = undefined;
      await running?.stop();
    });
    await cpSynced(cp);

    const zoneApi = new ZoneApi(cp.url, options.zoneToken, plan.name);
    const ingress = await startGateway({
      mode: 'ingress',
      zoneCpGrpc: cp.grpcAddress,
      caFile: cp.grpcCaFile,
      zoneCpServerName: ZONE_CP_SERVER_NAME,
      token: await zoneApi.ingressToken(),
      listen: { host: '127.0.0.1', port: ingressPort },
      adminListen: { host: '127.0.0.1', port: 0 },
      stateDir: join(options.stateDir, 'ingress'),
      logLevel: options.logLevel,
      drainMs: DRAIN_MS,
    });
    stops.push(() => ingress.stop());

    const workloads: RunningWorkload[] = [];
    const started = await Promise.allSettled(plan.workloads.map((w) => startWorkload(w, cp, zoneApi, options.logLevel)));
    for (const result of started) {
      if (result.status === 'fulfilled') {
        workloads.push(result.value);
        stops.push(() => stopWorkload(result.value));
      }
    }
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;

    const zone: RunningLocalZone = {
      plan,
      cp,
      ingressAddress,
      ingress,
      workloads,
      async setApplications(which, up) {
        await Promise.all(workloads.filter((w) => which(w.plan)).map((w) => (up ? w.app.start() : w.app.kill())));
      },
      async restartControlPlane(restart = {}) {
        const old = currentCp;
        if (!old) throw new Error(`${plan.name}: the zone CP is not running`);
        const port = portOf(old.url);
        const grpcPort = portOf(old.grpcAddress);
        currentCp = undefined;
        await old.stop();
        if (restart.downMs) await sleep(restart.downMs);
        const next = await launchCp(port, grpcPort);
        currentCp = next;
        zone.cp = next;
        await cpSynced(next);
      },
      // Workloads first (their sidecars deregister), then the ingress, then the zone CP.
      async stop() {
        const parallel = stops.splice(2);
        await Promise.all(parallel.map((stop) => stop().catch(() => undefined)));
        await stopAll();
      },
    };
    return zone;
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** The port of `http://host:port` or `host:port`. Pure. */
function portOf(address: string): number {
  const port = Number(address.slice(address.lastIndexOf(':') + 1).replace(/\/.*$/, ''));
  if (!Number.isInteger(port) || port <= 0) throw new Error(`no port in ${address}`);
  return port;
}

async function startWorkload(plan: WorkloadPlan, cp: RunningZoneCp, api: ZoneApi, logLevel: string): Promise<RunningWorkload> {
  const app = new EchoApp({ zone: plan.zone, region: plan.region, tenant: plan.tenant, namespace: plan.namespace, service: plan.service, instance: plan.instance, tags: plan.tags });
  const appPort = await app.start();
  try {
    const sidecar = await startGateway({
      mode: 'sidecar',
      zoneCpGrpc: cp.grpcAddress,
      caFile: cp.grpcCaFile,
      zoneCpServerName: ZONE_CP_SERVER_NAME,
      zoneCpUrl: cp.url,
      token: await api.dataplaneToken(plan.tenant, plan.namespace, plan.service),
      dataplane: {
        tenant: plan.tenant,
        namespace: plan.namespace,
        service: plan.service,
        instance: plan.instance,
        address: plan.address,
        ports: [{ port: plan.port, targetPort: appPort, protocol: 'http' }],
        ...(Object.keys(plan.tags).length ? { tags: plan.tags } : {}),
        locality: { region: plan.region, zone: plan.zone },
      },
      outboundAddress: plan.outboundAddress,
      adminListen: { host: '127.0.0.1', port: 0 },
      accessLog: 'off',
      logLevel,
      drainMs: DRAIN_MS,
    });
    return { plan, app, sidecar };
  } catch (error) {
    await app.kill();
    throw new ConfigError(`${plan.zone}: sidecar of ${plan.tenant}/${plan.namespace}/${plan.instance}: ${(error as Error).message}`);
  }
}

async function stopWorkload(workload: RunningWorkload): Promise<void> {
  await workload.sidecar.stop().catch(() => undefined);
  await workload.app.kill();
}

/** The zone CP's token API, called with the zone token. */
class ZoneApi {
  constructor(
    private readonly url: string,
    private readonly zoneToken: string,
    private readonly zone: string,
  ) {}

  ingressToken(): Promise<string> {
    return this.issue({ ingress: true }, 'ingress token');
  }

  dataplaneToken(tenant: string, namespace: string, serviceAccount: string): Promise<string> {
    return this.issue({ tenant, namespace, serviceAccount }, `dataplane token for ${tenant}/${namespace}/${serviceAccount}`);
  }

  /** POST /api/v1/dataplane-tokens; a tenant the zone has not been told about yet (404) is asked for again for a while. */
  private async issue(body: Record<string, unknown>, what: string): Promise<string> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const response = await fetch(`${this.url}/api/v1/dataplane-tokens`, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.zoneToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const text = await response.text();
      if (response.status === 201) return (JSON.parse(text) as { token: string }).token;
      if (response.status !== 404 || Date.now() > deadline) throw new ConfigError(`${this.zone}: ${what}: HTTP ${response.status} ${text.slice(0, 300)}`);
      await sleep(250);
    }
  }
}
