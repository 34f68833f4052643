import { sleep } from '../core/sleep.js';
import { Events, connect, jwtAuthenticator, type NatsConnection } from 'nats';
import { loadCredentials, renewalDelayMs, requestCredentials, saveCredentials } from './nats-credentials.js';
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
import { IntermediateKeeper } from './certs/intermediates.js';
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
  let natsUp = false;
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
  let warnedUnplaced = '';
  const publishInventory = () => {
    if (!inventory || refused) return;
    // Only once placement is known can the file be said to name tenants that are not placed here.
    const unplaced = sync?.initialized() ? Object.keys(services.tenants).filter((t) => !tenants[t]).sort().join(',') : '';
    if (unplaced && unplaced !== warnedUnplaced) log.warn({ tenants: unplaced.split(',') }, 'services file names tenants not placed in this zone; they are not published');
    warnedUnplaced = unplaced;
    const ingress = config.ingressAddress ?? services.ingressAddress ?? null;
    void inventory.publish(inventoriesFor(config.zone, Object.keys(tenants).sort(), services.tenants, ingress, new Date().toISOString())).then((ok) => {
      if (!ok && !stopping) setTimeout(publishInventory, 2000).unref();
    });
  };
  const stopWatchingFile = config.servicesFile
    ? watchServicesFile(
        config.servicesFile,
        (file) => {
          services = file;
          publishInventory();
        },
        (error) => log.error({ err: error.message }, 'services file rejected; keeping the last good one'),
      )
    : () => undefined;

  // ---- intermediate CAs, one per placed tenant; one sync at a time ----
  const intermediates = new IntermediateKeeper({ stateDir: config.stateDir, zone: config.zone, globalUrl: config.globalUrl, token: config.token, log });
  let certSync: Promise<void> = Promise.resolve();
  const syncIntermediates = () => {
    if (stopping || refused || !trusted()) return;
    certSync = certSync
      .then(() => intermediates.sync(Object.keys(tenants).sort()))
      .catch((error: Error) => log.warn({ err: error.message }, 'intermediate CA sync failed; will retry'));
  };
  const certTimer = setInterval(syncIntermediates, 60_000);
  certTimer.unref();

  let placedKey = Object.keys(tenants).sort().join(',');
  const onChange = () => {
    lastSyncAt = new Date();
    scheduleSave();
    const key = Object.keys(tenants).sort().join(',');
    if (key !== placedKey) {
      placedKey = key;
      // A tenant placed here again may have had this zone's inventory removed meanwhile: write it all again.
      inventory?.reset();
      publishInventory();
      syncIntermediates();
    }
  };

  // ---- heartbeats: on connecting, on reconnecting, then every interval ----
  function sendHeartbeat(): void {
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
  }

  // ---- NATS credentials: off, or a user JWT the global CP signs for this zone's own key ----
  let credentials = await loadCredentials(config.stateDir);
  // Saved credentials mean NATS wants them; a zone that synced before without any ran without NATS authorization.
  let natsAuth: 'unknown' | 'on' | 'off' = credentials ? 'on' : snapshot?.authenticatedTokenHash ? 'off' : 'unknown';
  const renewCredentials = async (): Promise<boolean> => {
    const outcome = await requestCredentials(config.globalUrl, config.zone, config.token, credentials);
    if (outcome.status === 'disabled') natsAuth = 'off';
    if (outcome.status !== 'ok') {
      if (outcome.status !== 'disabled') log.warn({ reason: outcome.reason }, 'could not renew NATS credentials');
      return outcome.status === 'disabled';
    }
    credentials = outcome.credentials;
    natsAuth = 'on';
    await saveCredentials(config.stateDir, credentials);
    log.info({ tenants: credentials.tenants, expiresAt: credentials.expiresAt }, 'NATS credentials renewed');
    return true;
  };
  /** New permissions apply from the next connection: renew, then reconnect. */
  const renewAndReconnect = async () => {
    if (natsAuth !== 'on' || refused) return;
    if (await renewCredentials()) await nats?.reconnect();
  };
  const credentialRenewal = async () => {
    while (!stopping && !refused) {
      await sleep(credentials ? renewalDelayMs(credentials.expiresAt, Date.now()) : 60_000, lifetime.signal);
      if (!stopping) await renewAndReconnect().catch((error: Error) => log.warn({ err: error.message }, 'credential renewal failed'));
    }
  };

  // ---- NATS ----
  const startSync = async () => {
    while (!trusted() && !stopping && !refused) await sleep(200, lifetime.signal);
    // Learn whether NATS wants credentials; a saved, unexpired identity lets a restart proceed while the global CP is away.
    for (let failures = 0; !stopping && !refused; failures++) {
      if (await renewCredentials()) break;
      if (natsAuth === 'off') break;
      if (natsAuth === 'on' && credentials && Date.parse(credentials.expiresAt) > Date.now()) break;
      await sleep(retryDelayMs(failures, 500, 30_000), lifetime.signal);
    }
    if (stopping || refused) return;
    const auth =
      natsAuth === 'on' && credentials
        ? {
            authenticator: jwtAuthenticator(
              () => credentials!.jwt,
              () => new TextEncoder().encode(credentials!.seed),
            ),
            inboxPrefix: credentials.inboxPrefix,
          }
        : undefined;
    if (auth) background.push(credentialRenewal());
    const nc = await connect(natsConnectionOptions(config.natsUrl, `meshfed-zone-cp-${config.zone}`, auth));
    if (stopping) return nc.close();
    nats = nc;
    natsUp = true;
    log.info({ nats: redactUrl(config.natsUrl) }, 'connected to NATS');
    inventory = new InventoryPublisher(config.zone, nc, names, log);
    sync = new ZoneSync({
      zone: config.zone,
      nats: nc,
      names,
      log,
      tenants,
      onChange,
      onBucketReplaced: (tenant) => {
        inventory?.reset(tenant);
        publishInventory();
      },
      beforeWatching: async (placed) => {
        if (natsAuth === 'on' && credentials && placed.join(',') !== [...credentials.tenants].sort().join(',')) await renewAndReconnect();
      },
    });
    sync.start();
    publishInventory();
    syncIntermediates();
    // Report in at once rather than one interval from now: a zone that just started is online.
    sendHeartbeat();
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === Events.Disconnect) {
          natsUp = false;
          log.warn('NATS disconnected; serving what we have');
        }
        if (s.type === Events.Reconnect) {
          natsUp = true;
          log.info('NATS reconnected');
          sendHeartbeat();
          // Re-open the watches at once rather than wait for the consumers to notice missed heartbeats.
          sync?.restartWatches();
          inventory?.reset();
          publishInventory();
        }
      }
    })();
  };
  background.push(startSync().catch((error: Error) => log.error({ err: error.message }, 'NATS sync could not start')));

  // ---- heartbeats, and periodic re-authentication ----
  const heartbeat = setInterval(sendHeartbeat, config.heartbeatIntervalMs);

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
      natsConnected: () => natsUp && nats !== undefined && !nats.isClosed() && !refused,
      authenticated: () => authenticated && !refused,
      tenants: () => tenants,
      intermediates: () => intermediates.current(),
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
      clearInterval(certTimer);
      stopWatchingFile();
      if (saveTimer) clearTimeout(saveTimer);
      await certSync;
      await sync?.stop();
      await saveNow();
      await server.close();
      await nats?.drain().catch(() => undefined);
      log.info('zone CP stopped');
    },
  };
}
