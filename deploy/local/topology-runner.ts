/**
 * `meshfed up` with a topology: Redis, NATS and the global CP (up.ts), the
 * manifests applied, then every zone (zone-runner.ts) and the load
 * generators. Stops in reverse order: traffic, zones (workloads, ingress,
 * zone CP), global CP, NATS, Redis.
 *
 * Everything but Redis and NATS runs in this one process. Separate
 * `meshfed zone-cp` / `meshfed gateway` processes would be closer to real
 * use and would isolate crashes, but the default topology has 18 of them
 * (global CP, 3 zone CPs, 3 ingresses, 11 sidecars): at ~100 MB and a
 * second or two of CPU to start each, that is ~1.8 GB and a slow start on
 * a 2-core machine, against one process of ~210 MB that is up in under
 * 15 s (measured). Those commands are tested as processes on their own
 * (test/cli, test/federation); here what matters is the federation as a
 * whole. And with one process, nothing of it can outlive Ctrl-C but the
 * two servers, which are killed if this process exits (and, on Linux, get
 * a parent-death signal should it be killed outright: services.ts).
 */
import { createServer } from 'node:net';
import { join } from 'node:path';
import { readSecretFile, redactUrl } from '../../core/config.js';
import { ConfigError } from '../../core/errors.js';
import { ApiClient } from '../../cli/ctl/client.js';
import { applyDocuments, deliverZoneToken } from '../../cli/ctl/apply.js';
import { CtlError } from '../../cli/ctl/errors.js';
import { planTopology, meshHost, type ZonePlan } from './plan.js';
import { LoadGenerator, TrafficStats } from './traffic.js';
import { startLocalFederation, type LocalFederation } from './up.js';
import { withTimeout } from './with-timeout.js';
import { startLocalZone, type RunningLocalZone } from './zone-runner.js';
import type { LoadedTopology } from './topology.js';
import type { ClientRow } from './status.js';

export interface TopologyRunOptions {
  loaded: LoadedTopology;
  dataDir: string;
  /** Preferred global CP port; overrides the topology's. */
  port?: number;
  version: string;
  logLevel: string;
  say: (line: string) => void;
  /** Zone CP heartbeat interval; default 2 s (the global CP calls a zone offline after 3 missed). */
  heartbeatIntervalMs?: number;
  /** How long sidecars and ingresses may take to become ready before start-up is called failed; default 60 s. */
  readyTimeoutMs?: number;
  /** Aborts start-up between steps: what has started is stopped and StartAborted is thrown. */
  signal?: AbortSignal;
}

/** Start-up was aborted (Ctrl-C while starting); everything started has been stopped. */
export class StartAborted extends Error {
  constructor() {
    super('start-up aborted');
    this.name = 'StartAborted';
  }
}

export interface RunningClient {
  zone: string;
  tenant: string;
  calls: string;
  stats: TrafficStats;
  generator: LoadGenerator;
}

export interface RunningTopology {
  federation: LocalFederation;
  plans: ZonePlan[];
  zones: RunningLocalZone[];
  clients: RunningClient[];
  zoneTokenFile(zone: string): string;
  /** The clients' numbers over the last `seconds`. */
  traffic(seconds: number): ClientRow[];
  stop(): Promise<void>;
}

export async function startTopology(options: TopologyRunOptions): Promise<RunningTopology> {
  const { topology, documents, facts } = options.loaded;
  const say = options.say;
  const plans = planTopology(topology);
  const step = () => {
    if (options.signal?.aborted) throw new StartAborted();
  };
  await checkAddressesFree(plans);
  const federation = await startLocalFederation({
    dataDir: options.dataDir,
    port: options.port ?? topology.globalCp?.port ?? 5681,
    version: options.version,
    logLevel: options.logLevel,
    say,
    ...(topology.redis?.url ? { redisUrl: topology.redis.url } : {}),
    ...(topology.redis?.prefix ? { redisPrefix: topology.redis.prefix } : {}),
    ...(topology.nats?.url ? { natsUrl: topology.nats.url } : {}),
  });
  const zones: RunningLocalZone[] = [];
  const clients: RunningClient[] = [];
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.all(clients.map((c) => c.generator.stop()));
    // Zones in parallel: they do not depend on each other, and each stops its own parts in order.
    await Promise.all(zones.map((z) => z.stop().catch(() => undefined)));
    await federation.stop();
  };
  const tokenDir = join(federation.adminTokenFile, '..', 'zone-tokens');
  const zoneTokenFile = (zone: string) => join(tokenDir, `${zone}.token`);
  try {
    step();
    const api = new ApiClient({ server: federation.globalCp.url, token: federation.adminToken });
    if (federation.globalCp.federation) await withTimeout(federation.globalCp.federation.ready, 20_000, `the global CP could not connect to NATS at ${redactUrl(federation.nats.url)}`);

    say('applying the topology\'s zones and manifests …');
    await registerUndeclaredZones(api, plans.filter((p) => !facts.zones.has(p.name)), topology.zones, tokenDir, say);
    if (documents.length) {
      const failures = await applyDocuments(api, documents, { tokenDir, say: (l) => say(`  ${l}`), warn: (l) => say(`  ${l}`) });
      if (failures) throw new ConfigError(`${failures} document${failures > 1 ? 's' : ''} of the manifests could not be applied (see above)`);
    }
    for (const note of options.loaded.notes) say(`  note: ${note}`);
    step();

    const workloads = plans.reduce((n, p) => n + p.workloads.length, 0);
    say(`starting ${plans.length} zone${plans.length === 1 ? '' : 's'} (zone CP, ingress, ${workloads} workload${workloads === 1 ? '' : 's'} with sidecars) …`);
    const tokens = plans.map((plan) => readZoneToken(zoneTokenFile(plan.name), plan.name));
    const results = await Promise.allSettled(
      plans.map((plan, i) =>
        startLocalZone({
          plan,
          globalUrl: federation.globalCp.url,
          natsUrl: federation.nats.url,
          federationId: federation.federationId,
          zoneToken: tokens[i]!,
          stateDir: join(options.dataDir, 'zones', plan.name),
          version: options.version,
          logLevel: options.logLevel,
          heartbeatIntervalMs: options.heartbeatIntervalMs ?? 2000,
        }),
      ),
    );
    for (const r of results) if (r.status === 'fulfilled') zones.push(r.value);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    step();

    await waitUntilReady(zones, options.readyTimeoutMs ?? 60_000, say, step);

    for (const zone of zones) {
      for (const w of zone.workloads) {
        if (!w.plan.traffic) continue;
        const stats = new TrafficStats(w.plan.tenant);
        const generator = new LoadGenerator({ address: w.plan.outboundAddress, port: w.plan.traffic.port, host: meshHost(w.plan.traffic), path: w.plan.traffic.path, rate: w.plan.traffic.rate, stats });
        clients.push({ zone: w.plan.zone, tenant: w.plan.tenant, calls: `${w.plan.service} → ${w.plan.traffic.service}.${w.plan.traffic.namespace}:${w.plan.traffic.port}`, stats, generator });
      }
    }
    for (const c of clients) c.generator.start();

    return {
      federation,
      plans,
      zones,
      clients,
      zoneTokenFile,
      traffic: (seconds) => clients.map((c) => ({ zone: c.zone, tenant: c.tenant, calls: c.calls, window: c.stats.window(seconds) })),
      stop,
    };
  } catch (error) {
    await stop();
    if (error instanceof StartAborted) throw error;
    if (error instanceof CtlError) throw new ConfigError([error.message, ...error.lines.map((l) => `  ${l}`)].join('\n'));
    throw error instanceof ConfigError ? error : new ConfigError((error as Error).message);
  }
}

/** Zones the topology runs that no manifest declares: registered here as universal zones. */
async function registerUndeclaredZones(api: ApiClient, plans: ZonePlan[], zones: LoadedTopology['topology']['zones'], tokenDir: string, say: (line: string) => void): Promise<void> {
  for (const plan of plans) {
    const zone = zones.find((z) => z.name === plan.name)!;
    const existing = await api.request<{ spec: { region: string } }>('GET', `/zones/${plan.name}`, undefined, { allow: [404] });
    if (existing.status === 404) {
      const created = await api.request<{ token: string }>('POST', '/zones', { name: plan.name, region: plan.region, location: zone.location ?? `local:${plan.name}`, kind: 'universal' });
      say(`  zone/${plan.name} created; ${await deliverZoneToken(plan.name, created.body.token, { tokenDir })}`);
    } else if (existing.body.spec.region !== plan.region) {
      await api.request('PATCH', `/zones/${plan.name}`, { region: plan.region });
      say(`  zone/${plan.name} configured (region ${plan.region})`);
    } else say(`  zone/${plan.name} unchanged`);
  }
}

/**
 * Fails early, naming the address, when a workload's listener could not bind: most likely another
 * `meshfed up` using the same network.loopbackPrefix. (Its sidecar would only be "not ready" later.)
 */
async function checkAddressesFree(plans: ZonePlan[]): Promise<void> {
  const ports = [...new Set(plans.flatMap((p) => p.workloads.map((w) => w.port)))];
  const addresses = plans.flatMap((p) => p.workloads.flatMap((w) => [`${w.address}:${w.port}`, ...ports.map((port) => `${w.outboundAddress}:${port}`)]));
  for (const address of addresses) {
    const colon = address.lastIndexOf(':');
    const problem = await new Promise<string | undefined>((resolve) => {
      const server = createServer();
      server.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
      server.listen(Number(address.slice(colon + 1)), address.slice(0, colon), () => server.close(() => resolve(undefined)));
    });
    if (problem) {
      throw new ConfigError(
        `cannot listen on ${address} (${problem}), where a workload of this topology must: is another \`meshfed up\` running with the same network.loopbackPrefix? ` +
          '(Workload addresses need the whole of 127.0.0.0/8 on the loopback interface, as Linux has it.)',
      );
    }
  }
}

function readZoneToken(file: string, zone: string): string {
  try {
    return readSecretFile(`zone ${zone}`, file);
  } catch (error) {
    throw new ConfigError(
      `${(error as Error).message}. The zone is registered but its token is not in this data dir (a zone token is shown once, when the zone is created). ` +
        'Start over with an empty --data-dir, or delete the zone (meshfedctl delete -f <manifest>) and run again.',
    );
  }
}

/** Waits until every ingress and sidecar says it is ready (GET /readyz of its admin server). */
async function waitUntilReady(zones: RunningLocalZone[], timeoutMs: number, say: (line: string) => void, step: () => void): Promise<void> {
  const gateways = zones.flatMap((z) => [
    { name: `${z.plan.name} ingress`, url: z.ingress.url },
    ...z.workloads.map((w) => ({ name: `${z.plan.name} sidecar ${w.plan.tenant}/${w.plan.instance}`, url: w.sidecar.url })),
  ]);
  const deadline = Date.now() + timeoutMs;
  let waiting = gateways.map((g) => ({ ...g, reason: 'not asked yet' }));
  while (waiting.length) {
    step();
    const checked = await Promise.all(
      waiting.map(async (g) => {
        try {
          const response = await fetch(`${g.url}/readyz`, { signal: AbortSignal.timeout(2000) });
          const body = (await response.json()) as { reason?: string };
          return response.ok ? undefined : { ...g, reason: body.reason ?? `HTTP ${response.status}` };
        } catch (error) {
          return { ...g, reason: (error as Error).message };
        }
      }),
    );
    waiting = checked.filter((g): g is NonNullable<typeof g> => g !== undefined);
    if (!waiting.length) return;
    if (Date.now() > deadline) {
      throw new ConfigError([`not ready after ${Math.round(timeoutMs / 1000)} s:`, ...waiting.map((g) => `  ${g.name}: ${g.reason} (${g.url}/status)`)].join('\n'));
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  say(`  ${gateways.length} gateways ready`);
}
