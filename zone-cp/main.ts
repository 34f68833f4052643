import type { FastifyInstance } from 'fastify';
import type { KubeConfig } from '@kubernetes/client-node';
import type { NatsConnection } from 'nats';
import type { ListenAddress } from '../core/config.js';
import { ConfigError } from '../core/errors.js';
import { InventoryRejections } from '../core/federation/inventory-check.js';
import { natsNames } from '../core/federation/names.js';
import { createLogger } from '../core/log.js';
import { createRegistry } from '../core/metrics.js';
import { hashToken } from '../tenants/tokens.js';
import { IntermediateKeeper } from './certs/intermediates.js';
import { ensureServingCert } from './certs/serving-cert.js';
import { DEFAULT_SVID_TTL_MS, SvidIssuer } from './certs/svid-issuer.js';
import { DataplaneTokenAuthority } from './dataplanes/token-authority.js';
import { startDiscovery, type Discovery } from './discovery/start.js';
import { FederationLink } from './federation-link.js';
import { inventoryFromEndpoints } from './inventory/from-endpoints.js';
import { InventoryPublisher, inventoriesFor } from './inventory/inventory-publisher.js';
import { subsetCountsFromEndpoints, subsetTagKeys, subsetsWithinInventory } from './inventory/subset-counts.js';
import { buildZoneCpServer } from './server.js';
import { dataplaneRoutes } from './api/dataplanes.js';
import { proxyRoutes } from './api/proxies.js';
import { DocumentRejections } from './sync/document-check.js';
import { SNAPSHOT_FORMAT, loadSnapshot, saveSnapshot } from './sync/snapshot.js';
import type { TenantView } from './sync/tenant-view.js';
import { startXds, type RunningXds } from './xds/start.js';

export interface ZoneCpConfig {
  zone: string;
  globalUrl: string;
  token: string;
  natsUrl: string;
  stateDir: string;
  listen: ListenAddress;
  federationId: string;
  /** gRPC port (TLS): ADS for meshfed's proxies (mTLS) and the certificate service. Port 0 picks a free one. */
  grpcListen?: ListenAddress;
  /** Plaintext ADS for proxyless gRPC clients; off unless set. Loopback or node-local only. */
  plaintextXdsListen?: ListenAddress;
  /** Names (DNS or IP) the gRPC TLS certificate carries; default localhost, 127.0.0.1, ::1. */
  grpcTlsNames?: string[];
  /** Workload discovery: a services file, Kubernetes informers, or universal registrations (default). */
  servicesFile?: string;
  kubeConfig?: KubeConfig;
  /** Overrides the services file's ingressAddress. */
  ingressAddress?: string;
  heartbeatIntervalMs: number;
  /** How often the zone token is checked again (a revoked zone stops syncing). */
  reauthIntervalMs: number;
  svidTtlMs?: number;
  /** How long xDS waits to gather a burst of changes into one push. */
  xdsDebounceMs?: number;
  /** Universal mode: a dataplane silent this long is unhealthy / removed. */
  dataplaneLiveness?: { unhealthyAfterMs: number; removeAfterMs: number };
  version: string;
  logLevel?: string;
}

export interface RunningZoneCp {
  url: string;
  /** host:port of the TLS gRPC port (ADS + certificates). */
  grpcAddress: string;
  plaintextXdsAddress: string | undefined;
  /** PEM file of the CA that signed the gRPC port's certificate: what proxies pin. */
  grpcCaFile: string;
  tenants(): Record<string, TenantView>;
  /** Resolves when every placed tenant has caught up with NATS (never, while NATS or the global CP is away). */
  synced(): Promise<void>;
  issueDataplaneToken(binding: { tenant: string; namespace: string; serviceAccount: string }, ttlMs?: number): string;
  stop(): Promise<void>;
}

/**
 * Runs a zone control plane: serves its last snapshot at once, authenticates
 * to the global CP, follows its tenants' buckets in NATS, discovers local
 * workloads, publishes inventory and heartbeats, signs proxies' SVIDs and
 * programs them over ADS. Every outside dependency may be down at start; the
 * zone keeps serving what it has and retries with jittered back-off.
 */
export async function startZoneCp(config: ZoneCpConfig): Promise<RunningZoneCp> {
  const log = createLogger('zone-cp', config.logLevel).child({ zone: config.zone });
  const registry = createRegistry('zone-cp');
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
  let stopping = false;
  // Assigned once started; the callbacks below that reach it may run before.
  let xds: RunningXds | undefined;
  let lastSyncAt: Date | undefined;
  let snapshotSavedAt: Date | undefined;

  // ---- snapshot: written after changes, atomically, one write at a time ----
  let saveTimer: NodeJS.Timeout | undefined;
  let saving: Promise<void> = Promise.resolve();
  const saveNow = () => {
    saving = saving.then(async () => {
      await saveSnapshot(config.stateDir, {
        format: SNAPSHOT_FORMAT,
        zone: config.zone,
        authenticatedTokenHash: link.trusted() && !link.refused ? tokenHash : null,
        ...(link.region ? { region: link.region } : {}),
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

  // ---- inventory: from the services file, or from discovered endpoints ----
  let inventory: InventoryPublisher | undefined;
  let warnedUnplaced = '';
  // The tag keys of each placed tenant's TrafficRoute splits: the subset counts are counted by them, so a change republishes.
  // Checked on every federation change: computed again only when a tenant's policies object is replaced (a policy changed).
  const tagKeysOfPolicies = new WeakMap<TenantView['policies'], string[]>();
  const subsetKeysOf = (view: TenantView) => {
    let keys = tagKeysOfPolicies.get(view.policies);
    if (!keys) tagKeysOfPolicies.set(view.policies, (keys = subsetTagKeys(Object.values(view.policies))));
    return keys;
  };
  const subsetKeysByTenant = () => Object.fromEntries(Object.keys(tenants).sort().map((t) => [t, subsetKeysOf(tenants[t]!)]));
  let subsetKeysPublished = '';
  const publishInventory = () => {
    if (!inventory || link.refused) return;
    const fromFile = discovery.inventory();
    // A services file is checked against the inventory schema when read; discovered endpoints are cut to fit it here.
    const discovered = fromFile ? undefined : inventoryFromEndpoints(discovery.endpoints());
    const local = fromFile ?? discovered?.services ?? {};
    // Only placed tenants' inventories are published, cut or not.
    inventory.reportTruncations((discovered?.truncations ?? []).filter((t) => tenants[t.tenant]));
    const tagKeys = subsetKeysByTenant();
    subsetKeysPublished = JSON.stringify(tagKeys);
    // A services file reports counts, not tags: no subset counts then, and other zones treat its subsets as before.
    const subsets = fromFile ? {} : subsetsWithinInventory(subsetCountsFromEndpoints(discovery.endpoints(), tagKeys), local);
    // Only once placement is known can discovery be said to name tenants that are not placed here.
    const unplaced = link.initialized() ? Object.keys(local).filter((t) => !tenants[t]).sort().join(',') : '';
    if (unplaced && unplaced !== warnedUnplaced) log.warn({ tenants: unplaced.split(',') }, 'local services of tenants not placed in this zone are not published');
    warnedUnplaced = unplaced;
    void inventory.publish(inventoriesFor(config.zone, Object.keys(tenants).sort(), local, ingressAddress(), new Date().toISOString(), subsets)).then((ok) => {
      if (!ok && !stopping) setTimeout(publishInventory, 2000).unref();
    });
  };
  const ingressAddress = () => config.ingressAddress ?? discovery.ingressAddress() ?? null;

  // ---- intermediate CAs, one per placed tenant; one sync at a time ----
  const intermediates = new IntermediateKeeper({ stateDir: config.stateDir, zone: config.zone, globalUrl: config.globalUrl, token: config.token, log });
  let certSync: Promise<void> = Promise.resolve();
  const syncIntermediates = () => {
    if (stopping || link.refused || !link.trusted()) return;
    certSync = certSync
      .then(() => intermediates.sync(Object.keys(tenants).sort()))
      .then(() => xds?.invalidate())
      .catch((error: Error) => log.warn({ err: error.message }, 'intermediate CA sync failed; will retry'));
  };
  const certTimer = setInterval(syncIntermediates, 60_000);
  certTimer.unref();
  // A root rotation bumps the tenant revision: look at the trust bundle soon, not at every one of a burst of changes.
  let revisionsKey = '';
  let certSyncSoon: NodeJS.Timeout | undefined;
  const syncIntermediatesOnRevision = () => {
    const key = Object.values(tenants).map((t) => `${t.name}:${t.revision}`).sort().join(',');
    if (key === revisionsKey) return;
    revisionsKey = key;
    certSyncSoon ??= setTimeout(() => {
      certSyncSoon = undefined;
      syncIntermediates();
    }, 2000);
  };

  let placedKey = Object.keys(tenants).sort().join(',');
  const link = new FederationLink(
    { ...config },
    names,
    tenants,
    snapshot,
    tokenHash,
    {
      onChange: () => {
        lastSyncAt = new Date();
        scheduleSave();
        xds?.invalidate();
        syncIntermediatesOnRevision();
        const key = Object.keys(tenants).sort().join(',');
        if (key !== placedKey) {
          placedKey = key;
          // A tenant placed here again may have had this zone's inventory removed meanwhile: write it all again.
          inventory?.reset();
          publishInventory();
          syncIntermediates();
        } else if (JSON.stringify(subsetKeysByTenant()) !== subsetKeysPublished) {
          publishInventory();
        }
      },
      onBucketReplaced: (tenant) => {
        inventory?.reset(tenant);
        publishInventory();
      },
      onNatsConnected: (nats: NatsConnection) => {
        inventory ??= new InventoryPublisher(config.zone, nats, names, log, registry);
        inventory.reset();
        publishInventory();
        syncIntermediates();
      },
      onRefused: () => saveNow(),
      ingressAddress,
      inventories: new InventoryRejections(log, registry),
      documents: new DocumentRejections(log, registry),
    },
    log,
  );

  const tokens = await DataplaneTokenAuthority.open(config.stateDir, config.zone);
  const zoneLocality = () => ({ region: link.region ?? 'unknown', zone: config.zone });
  const discovery: Discovery = await startDiscovery(config, zoneLocality, log, () => {
    publishInventory();
    xds?.invalidate();
  });

  await link.start();

  // ---- certificates for proxies, and xDS ----
  const svids = new SvidIssuer({ intermediates, trustDomainOf: (t) => tenants[t]?.trustDomain, defaultTtlMs: config.svidTtlMs ?? DEFAULT_SVID_TTL_MS, registry });
  const servingCert = await ensureServingCert(config.stateDir, config.zone, config.grpcTlsNames ?? ['localhost', '127.0.0.1', '::1']);
  try {
    xds = await startXds({
      zone: config.zone,
      zoneLocality,
      tenants: () => tenants,
      endpoints: () => discovery.endpoints(),
      tokens,
      intermediates,
      svids,
      servingCert,
      grpcListen: config.grpcListen ?? { host: '127.0.0.1', port: 5685 },
      ...(config.plaintextXdsListen ? { plaintextListen: config.plaintextXdsListen } : {}),
      debounceMs: config.xdsDebounceMs ?? 100,
      registry,
      log,
    });
  } catch (error) {
    await abort();
    throw error;
  }

  // ---- ops server and zone API ----
  let server: FastifyInstance;
  try {
    server = await buildZoneCpServer(
      {
        zone: config.zone,
        version: config.version,
        ready: () => {
          if (link.refused) return { ready: false, reason: `zone token refused: ${link.refused}` };
          if (!discovery.ready()) return { ready: false, reason: `waiting for the first ${discovery.name} discovery listing` };
          if (link.initialized()) return { ready: true, reason: 'in sync with NATS' };
          if (snapshot) return { ready: true, reason: 'serving the saved snapshot' };
          return { ready: false, reason: link.nats ? 'initial sync in progress' : 'waiting for NATS and the global CP' };
        },
        natsConnected: () => link.connected(),
        authenticated: () => link.authenticated && !link.refused,
        tenants: () => tenants,
        intermediates: () => intermediates.current(),
        lastSyncAt: () => lastSyncAt,
        snapshotSavedAt: () => snapshotSavedAt,
      },
      registry,
      config.logLevel,
      [
        async (app) => {
          await app.register(dataplaneRoutes, { zoneToken: config.token, tokens, universal: discovery.universal, placedTenants: () => Object.keys(tenants), trustDomainOf: (t) => tenants[t]?.trustDomain });
        },
        async (app) => {
          await app.register(proxyRoutes, { zoneToken: config.token, connected: () => xds?.connected() ?? [] });
        },
      ],
    );
    await server.listen({ host: config.listen.host, port: config.listen.port });
  } catch (error) {
    await abort();
    throw new ConfigError(`cannot listen on ${config.listen.host}:${config.listen.port}: ${(error as Error).message}`);
  }
  const address = server.server.address();
  const port = typeof address === 'object' && address ? address.port : config.listen.port;

  async function abort(): Promise<void> {
    stopping = true;
    clearInterval(certTimer);
    await xds?.stop();
    await discovery.stop();
    await link.stop();
    await link.close();
  }

  return {
    url: `http://${config.listen.host === '0.0.0.0' ? '127.0.0.1' : config.listen.host}:${port}`,
    grpcAddress: xds.grpcAddress,
    plaintextXdsAddress: xds.plaintextAddress,
    grpcCaFile: servingCert.caFile,
    tenants: () => tenants,
    async synced() {
      while (!link.initialized()) {
        if (stopping) throw new Error('zone CP stopped before it synced');
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    issueDataplaneToken: (binding, ttlMs = 24 * 3_600_000) => tokens.issue({ ...binding, trustDomain: tenants[binding.tenant]?.trustDomain }, ttlMs).token,
    async stop() {
      stopping = true;
      clearInterval(certTimer);
      clearTimeout(certSyncSoon);
      if (saveTimer) clearTimeout(saveTimer);
      // Proxies first: their streams end cleanly and they keep their last config.
      await xds?.stop();
      await link.stop();
      await certSync;
      await discovery.stop();
      await saveNow();
      await server.close();
      await link.close();
      log.info('zone CP stopped');
    },
  };
}
