import { Events, connect, jwtAuthenticator, type NatsConnection } from 'nats';
import { redactUrl } from '../core/config.js';
import { ConfigError } from '../core/errors.js';
import type { InventoryOutcomes } from '../core/federation/inventory-check.js';
import { natsConnectionOptions } from '../core/federation/kv.js';
import type { NatsNames } from '../core/federation/names.js';
import type { Logger } from '../core/log.js';
import type { Heartbeat } from '../core/schemas/federation.js';
import { sleep } from '../core/sleep.js';
import { authenticateZone } from './global-client.js';
import { loadCredentials, renewalDelayMs, requestCredentials, saveCredentials, type ZoneNatsCredentials } from './nats-credentials.js';
import type { DocumentOutcomes } from './sync/document-check.js';
import type { ZoneSnapshot } from './sync/snapshot.js';
import type { TenantView } from './sync/tenant-view.js';
import { ZoneSync, retryDelayMs } from './sync/zone-sync.js';

export interface FederationLinkConfig {
  zone: string;
  globalUrl: string;
  token: string;
  natsUrl: string;
  stateDir: string;
  heartbeatIntervalMs: number;
  reauthIntervalMs: number;
  version: string;
}

export interface FederationLinkHooks {
  /** Something in `tenants` changed. */
  onChange(): void;
  onBucketReplaced(tenant: string): void;
  /** Connected (first time) or reconnected to NATS: inventory must be written again. */
  onNatsConnected(nats: NatsConnection): void;
  /** The global CP refused the zone token: everything that depends on it must stop. */
  onRefused(): Promise<void>;
  ingressAddress(): string | null;
  /** Told of every other zone's inventory accepted or refused. */
  inventories?: InventoryOutcomes;
  /** Told of every tenant state and policy refused. */
  documents?: DocumentOutcomes;
}

/**
 * The zone CP's link to the federation: proves the zone token to the global
 * CP (and keeps proving it), holds the zone's NATS credentials, follows its
 * tenants' buckets and sends heartbeats. Everything retries with jittered
 * back-off; what it has stays in `tenants` while the other side is away.
 */
export class FederationLink {
  authenticated = false;
  refused: string | undefined;
  region: string | undefined;
  nats: NatsConnection | undefined;
  natsUp = false;
  sync: ZoneSync | undefined;
  private stopping = false;
  private readonly lifetime = new AbortController();
  private readonly background: Array<Promise<unknown>> = [];
  private credentials: ZoneNatsCredentials | undefined;
  private natsAuth: 'unknown' | 'on' | 'off' = 'unknown';
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(
    private readonly config: FederationLinkConfig,
    private readonly names: NatsNames,
    private readonly tenants: Record<string, TenantView>,
    private readonly snapshot: ZoneSnapshot | undefined,
    private readonly tokenHash: string,
    private readonly hooks: FederationLinkHooks,
    private readonly log: Logger,
  ) {
    this.region = snapshot?.region;
  }

  /** The same token authenticated before this restart: sync from NATS even before the global CP answers. */
  trusted(): boolean {
    return this.authenticated || this.snapshot?.authenticatedTokenHash === this.tokenHash;
  }

  /** Checks the token once before anything else: a wrong or revoked one ends the process with a clear message. */
  async start(): Promise<void> {
    const { config, log } = this;
    const first = await authenticateZone(config.globalUrl, config.zone, config.token);
    if (first.status === 'refused') throw new ConfigError(`zone "${config.zone}": the global CP at ${config.globalUrl} refused the token: ${first.reason}`);
    if (first.status === 'ok') {
      this.authenticated = true;
      this.region = first.region ?? this.region;
    } else log.warn({ global: config.globalUrl, reason: first.reason }, 'global CP unreachable; serving the snapshot and retrying');
    this.credentials = await loadCredentials(config.stateDir);
    // Saved credentials mean NATS wants them; a zone that synced before without any ran without NATS authorization.
    this.natsAuth = this.credentials ? 'on' : this.snapshot?.authenticatedTokenHash ? 'off' : 'unknown';
    this.background.push(this.connectAndSync().catch((error: Error) => log.error({ err: error.message }, 'NATS sync could not start')));
    this.background.push(this.reauthenticate());
    this.heartbeat = setInterval(() => this.sendHeartbeat(), config.heartbeatIntervalMs);
  }

  initialized(): boolean {
    return this.sync?.initialized() ?? false;
  }

  connected(): boolean {
    return this.natsUp && this.nats !== undefined && !this.nats.isClosed() && !this.refused;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.lifetime.abort();
    clearInterval(this.heartbeat);
    await this.sync?.stop();
  }

  /** After stop() and the last snapshot: nothing is left to publish. */
  async close(): Promise<void> {
    await this.nats?.drain().catch(() => undefined);
  }

  sendHeartbeat(): void {
    const { nats, config } = this;
    if (!nats || nats.isClosed() || this.refused) return;
    const beat: Heartbeat = {
      zone: config.zone,
      cpVersion: config.version,
      intervalMs: config.heartbeatIntervalMs,
      ingressAddress: this.hooks.ingressAddress(),
      applied: Object.fromEntries(Object.values(this.tenants).map((t) => [t.name, t.revision])),
      sentAt: new Date().toISOString(),
    };
    nats.publish(this.names.heartbeatSubject(config.zone), JSON.stringify(beat));
  }

  // ---- NATS credentials: off, or a user JWT the global CP signs for this zone's own key ----

  private async renewCredentials(): Promise<boolean> {
    const outcome = await requestCredentials(this.config.globalUrl, this.config.zone, this.config.token, this.credentials);
    if (outcome.status === 'disabled') this.natsAuth = 'off';
    if (outcome.status !== 'ok') {
      if (outcome.status !== 'disabled') this.log.warn({ reason: outcome.reason }, 'could not renew NATS credentials');
      return outcome.status === 'disabled';
    }
    this.credentials = outcome.credentials;
    this.natsAuth = 'on';
    await saveCredentials(this.config.stateDir, outcome.credentials);
    this.log.info({ tenants: outcome.credentials.tenants, expiresAt: outcome.credentials.expiresAt }, 'NATS credentials renewed');
    return true;
  }

  /** New permissions apply from the next connection: renew, then reconnect. */
  private async renewAndReconnect(): Promise<void> {
    if (this.natsAuth !== 'on' || this.refused) return;
    if (await this.renewCredentials()) await this.nats?.reconnect();
  }

  private async credentialRenewal(): Promise<void> {
    while (!this.stopping && !this.refused) {
      await sleep(this.credentials ? renewalDelayMs(this.credentials.expiresAt, Date.now()) : 60_000, this.lifetime.signal);
      if (!this.stopping) await this.renewAndReconnect().catch((error: Error) => this.log.warn({ err: error.message }, 'credential renewal failed'));
    }
  }

  // ---- NATS ----

  private async connectAndSync(): Promise<void> {
    const { config, log } = this;
    while (!this.trusted() && !this.stopping && !this.refused) await sleep(200, this.lifetime.signal);
    // Learn whether NATS wants credentials; a saved, unexpired identity lets a restart proceed while the global CP is away.
    for (let failures = 0; !this.stopping && !this.refused; failures++) {
      if (await this.renewCredentials()) break;
      if (this.natsAuth === 'off') break;
      if (this.natsAuth === 'on' && this.credentials && Date.parse(this.credentials.expiresAt) > Date.now()) break;
      await sleep(retryDelayMs(failures, 500, 30_000), this.lifetime.signal);
    }
    if (this.stopping || this.refused) return;
    const auth =
      this.natsAuth === 'on' && this.credentials
        ? {
            authenticator: jwtAuthenticator(
              () => this.credentials!.jwt,
              () => new TextEncoder().encode(this.credentials!.seed),
            ),
            inboxPrefix: this.credentials.inboxPrefix,
          }
        : undefined;
    if (auth) this.background.push(this.credentialRenewal());
    const nc = await connect(natsConnectionOptions(config.natsUrl, `meshfed-zone-cp-${config.zone}`, auth));
    if (this.stopping) return nc.close();
    this.nats = nc;
    this.natsUp = true;
    log.info({ nats: redactUrl(config.natsUrl) }, 'connected to NATS');
    this.sync = new ZoneSync({
      zone: config.zone,
      nats: nc,
      names: this.names,
      log,
      tenants: this.tenants,
      onChange: () => this.hooks.onChange(),
      onBucketReplaced: (tenant) => this.hooks.onBucketReplaced(tenant),
      inventories: this.hooks.inventories,
      documents: this.hooks.documents,
      beforeWatching: async (placed) => {
        if (this.natsAuth === 'on' && this.credentials && placed.join(',') !== [...this.credentials.tenants].sort().join(',')) await this.renewAndReconnect();
      },
    });
    this.sync.start();
    this.hooks.onNatsConnected(nc);
    // Report in at once rather than one interval from now: a zone that just started is online.
    this.sendHeartbeat();
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === Events.Disconnect) {
          this.natsUp = false;
          log.warn('NATS disconnected; serving what we have');
        }
        if (s.type === Events.Reconnect) {
          this.natsUp = true;
          log.info('NATS reconnected');
          this.sendHeartbeat();
          // Re-open the watches at once rather than wait for the consumers to notice missed heartbeats.
          this.sync?.restartWatches();
          this.hooks.onNatsConnected(nc);
        }
      }
    })();
  }

  // ---- periodic re-authentication: a revoked zone stops syncing ----

  private async reauthenticate(): Promise<void> {
    let failures = 0;
    while (!this.stopping && !this.refused) {
      await sleep(this.authenticated ? this.config.reauthIntervalMs : retryDelayMs(failures++, 500, 30_000), this.lifetime.signal);
      if (this.stopping) return;
      const outcome = await authenticateZone(this.config.globalUrl, this.config.zone, this.config.token);
      if (outcome.status === 'ok') {
        if (!this.authenticated) this.log.info('authenticated to the global CP');
        this.authenticated = true;
        this.region = outcome.region ?? this.region;
        failures = 0;
      } else if (outcome.status === 'refused') {
        this.refused = outcome.reason;
        this.log.error({ reason: outcome.reason }, 'the global CP refused the zone token; sync stopped, serving the last state');
        await this.sync?.stop();
        await this.hooks.onRefused();
      }
    }
  }
}
