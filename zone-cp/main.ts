import { sleep } from '../core/sleep.js';
import { Events, connect, type NatsConnection } from 'nats';
import type { FastifyInstance } from 'fastify';
import { redactUrl, type ListenAddress } from '../core/config.js';
import { ConfigError } from '../core/errors.js';
import { natsConnectionOptions } from '../core/federation/kv.js';
import { natsNames } from '../core/federation/names.js';
import type { Heartbeat } from '../core/schemas/federation.js';
import { createLogger } from '../core/log.js';
import { createRegistry } from '../core/metrics.js';
import { hashToken } from '../tenants/tokens.js';
import { authenticateZone } from './global-client.js';
import { InventoryPublisher, inventoriesFor } from './inventory/inventory-publisher.js';
import { watchServicesFile, type ServicesFile } from './inventory/services-file.js';
import { buildZoneCpServer } from './server.js';
import { SNAPSHOT_FORMAT, loadSnapshot, saveSnapshot } from './sync/snapshot.js';
import type { TenantView } from './sync/tenant-view.js';
import { ZoneSync, retryDelayMs } from './sync/zone-sync.js';

export interface ZoneCpConfig {
  zone: string;
  globalUrl: string;
  token: string;
  natsUrl: string;
  stateDir: string;
  listen: ListenAddress;
  federationId: string;
  servicesFile?: string;
  /** Overrides the services file's ingressAddress. */
  ingressAddress?: string;
  heartbeatIntervalMs: number;
  /** How often the zone token is checked again (a revoked zone stops syncing). */
  reauthIntervalMs: number;
  version: string;
  logLevel?: string;
}

export interface RunningZoneCp {
  url: string;
  tenants(): Record<string, TenantView>;
  /** Resolves when every placed tenant has caught up with NATS (never, while NATS or the global CP is away). */
  synced(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Runs a zone control plane: serves its last snapshot at once, authenticates
 * to the global CP, then follows its tenants' buckets in NATS, publishing its
 * inventory and heartbeats. Every outside dependency may be down at start;
 * the zone keeps serving what it has and retries with jittered back-off.
 */
export async function startZoneCp(config: ZoneCpConfig): Promise<RunningZoneCp> {
  const log = createLogger('zone-cp', config.logLevel).child({ zone: config.zone });
  const names = natsNames(config.federationId);
  const tokenHash = hashToken(config.token);

  let snapshot;
  try {
    snapshot = await loadSnapshot(config.stateDir, config.zone);
  } catch (error) {
    throw new ConfigError(`cannot use the snapshot in ${config.stateDir}: ${(error as Error).message}`);
  }
  const tenants: Record<string, TenantView> = snapshot?.tenants ?? {};
  if (snapshot) log.info({ tenants: Object.keys(tenants), savedAt: snapshot.savedAt }, 'serving the saved snapshot');

  let authenticated = false;
  let refused: string | undefined;
  let stopping = false;
  let nats: NatsConnection | undefined;
  let sync: ZoneSync | undefined;
  let lastSyncAt: Date | undefined;
  let snapshotSavedAt: Date | undefined;
  let services: ServicesFile = { tenants: {} };
  const background: Array<Promise<unknown>> = [];
  const lifetime = new AbortController();

  // The token is checked before anything else: a wrong or revoked one ends the process with a clear message.
  const first = await authenticateZone(config.globalUrl, config.zone, config.token);
  if (first.status === 'refused') throw new ConfigError(`zone "${config.zone}": the global CP at ${config.globalUrl} refused the token: ${first.reason}`);
  if (first.status === 'ok') authenticated = true;
  else log.warn({ global: config.globalUrl, reason: first.reason }, 'global CP unreachable; serving the snapshot and retrying');
  // The same token authenticated before this restart: sync from NATS even before the global CP answers.
  const trusted = () => authenticated || snapshot?.authenticatedTokenHash === tokenHash;

  // ---- snapshot: written after changes, atomically, one write at a time ----
  let saveTimer: NodeJS.Timeout | undefined;
  let saving: Promise<void> = Promise.resolve();
  const saveNow = () => {
    saving = saving.then(async () => {
      await saveSnapshot(config.stateDir, {
        format: SNAPSHOT_FORMAT,
        zone: config.zone,
        authenticatedTokenHash: trusted() && !refused ? tokenHash : null,
        tenants,
        savedAt: new Date().toISOString(),
      }).catch((error: Error) => log.error({ err: error.message }, 'could not save snapshot'));
      snapshotSavedAt = new Date();
    });
    return saving;
  };
  const scheduleSave = () => {
    saveTimer ??= setTimeout(() => {
      saveTimer = undefined;
      void saveNow();
    }, 50);
  };

  // ---- inventory ----
  let inventory: InventoryPublisher | undefined;
  const publishInventory = () => {
    if (!inventory || refused) return;
    const ingress = config.ingressAddress ?? services.ingressAddress ?? null;
    void inventory.publish(inventoriesFor(config.zone, Object.keys(tenants).sort(), services.tenants, ingress, new Date().toISOString()));
  };
  const stopWatchingFile = config.servicesFile
    ? watchServicesFile(
        config.servicesFile,
        (file) => {
          services = file;
          const unplaced = Object.keys(file.tenants).filter((t) => !tenants[t]);
          if (unplaced.length) log.warn({ tenants: unplaced }, 'services file names tenants not placed in this zone; they are not published');
          publishInventory();
        },
        (error) => log.error({ err: error.message }, 'services file rejected; keeping the last good one'),
      )
    : () => undefined;

  let placedKey = Object.keys(tenants).sort().join(',');
  const onChange = () => {
    lastSyncAt = new Date();
    scheduleSave();
    const key = Object.keys(tenants).sort().join(',');
    if (key !== placedKey) {
      placedKey = key;
      publishInventory();
    }
  };

  // ---- NATS ----
  const startSync = async () => {
    while (!trusted() && !stopping && !refused) await sleep(200, lifetime.signal);
    if (stopping || refused) return;
    const nc = await connect(natsConnectionOptions(config.natsUrl, `meshfed-zone-cp-${config.zone}`));
    if (stopping) return nc.close();
    nats = nc;
    log.info({ nats: redactUrl(config.natsUrl) }, 'connected to NATS');
    inventory = new InventoryPublisher(config.zone, nc, names, log);
    sync = new ZoneSync({ zone: config.zone, nats: nc, names, log, tenants, onChange });
    sync.start();
    publishInventory();
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === Events.Disconnect) log.warn('NATS disconnected; serving what we have');
        if (s.type === Events.Reconnect) {
          log.info('NATS reconnected');
          inventory?.reset();
          publishInventory();
        }
      }
    })();
  };
  background.push(startSync().catch((error: Error) => log.error({ err: error.message }, 'NATS sync could not start')));

  // ---- heartbeats, and periodic re-authentication ----
  const heartbeat = setInterval(() => {
    if (!nats || nats.isClosed() || refused) return;
    const beat: Heartbeat = {
      zone: config.zone,
      cpVersion: config.version,
      intervalMs: config.heartbeatIntervalMs,
      ingressAddress: config.ingressAddress ?? services.ingressAddress ?? null,
      applied: Object.fromEntries(Object.values(tenants).map((t) => [t.name, t.revision])),
      sentAt: new Date().toISOString(),
    };
    nats.publish(names.heartbeatSubject(config.zone), JSON.stringify(beat));
  }, config.heartbeatIntervalMs);

  const reauth = async () => {
    let failures = 0;
    while (!stopping && !refused) {
      await sleep(authenticated ? config.reauthIntervalMs : retryDelayMs(failures++, 500, 30_000), lifetime.signal);
      if (stopping) return;
      const outcome = await authenticateZone(config.globalUrl, config.zone, config.token);
      if (outcome.status === 'ok') {
        if (!authenticated) log.info('authenticated to the global CP');
        authenticated = true;
        failures = 0;
      } else if (outcome.status === 'refused') {
        refused = outcome.reason;
        log.error({ reason: outcome.reason }, 'the global CP refused the zone token; sync stopped, serving the last state');
        await sync?.stop();
        await saveNow();
      }
    }
  };
  background.push(reauth());

  // ---- ops server ----
  const registry = createRegistry('zone-cp');
  const server: FastifyInstance = await buildZoneCpServer(
    {
      zone: config.zone,
      version: config.version,
      ready: () => {
        if (refused) return { ready: false, reason: `zone token refused: ${refused}` };
        if (sync?.initialized()) return { ready: true, reason: 'in sync with NATS' };
        if (snapshot) return { ready: true, reason: 'serving the saved snapshot' };
        return { ready: false, reason: nats ? 'initial sync in progress' : 'waiting for NATS and the global CP' };
      },
      natsConnected: () => nats !== undefined && !nats.isClosed() && !refused,
      authenticated: () => authenticated && !refused,
      tenants: () => tenants,
      lastSyncAt: () => lastSyncAt,
      snapshotSavedAt: () => snapshotSavedAt,
    },
    registry,
    config.logLevel,
  );
  try {
    await server.listen({ host: config.listen.host, port: config.listen.port });
  } catch (error) {
    stopping = true;
    lifetime.abort();
    clearInterval(heartbeat);
    stopWatchingFile();
    throw new ConfigError(`cannot listen on ${config.listen.host}:${config.listen.port}: ${(error as Error).message}`);
  }
  const address = server.server.address();
  const port = typeof address === 'object' && address ? address.port : config.listen.port;

  return {
    url: `http://${config.listen.host === '0.0.0.0' ? '127.0.0.1' : config.listen.host}:${port}`,
    tenants: () => tenants,
    async synced() {
      while (!sync?.initialized()) await sleep(20, lifetime.signal);
    },
    async stop() {
      stopping = true;
      lifetime.abort();
      clearInterval(heartbeat);
      stopWatchingFile();
      if (saveTimer) clearTimeout(saveTimer);
      await sync?.stop();
      await saveNow();
      await server.close();
      await nats?.drain().catch(() => undefined);
      log.info('zone CP stopped');
    },
  };
}
