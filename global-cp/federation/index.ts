import { Events, connect, jwtAuthenticator, type NatsConnection } from 'nats';
import { controlPlaneIdentity } from '../../core/federation/nats-auth.js';
import type { Registry } from 'prom-client';
import { natsConnectionOptions, openBucket } from '../../core/federation/kv.js';
import { INVENTORY_KEY_PREFIX, natsNames } from '../../core/federation/names.js';
import { InventoryRejections } from '../../core/federation/inventory-check.js';
import { redactUrl } from '../../core/config.js';
import type { Logger } from '../../core/log.js';
import type { InventoryReader } from '../routes/services.js';
import type { RedisStore } from '../store/redis-store.js';
import { acceptedInventories, type InventoryEntry } from './inventories.js';
import { FederationPublisher } from './publisher.js';
import { HeartbeatListener } from './zone-status.js';

export interface FederationOptions {
  store: RedisStore;
  natsUrl: string;
  federationId: string;
  reconcileIntervalMs: number;
  /** Copies of each KV bucket (3 on a NATS cluster). Default 1. */
  bucketReplicas?: number;
  log: Logger;
  registry: Registry;
  /** With NATS authorization on: the federation account's key, to sign the global CP's own identity. */
  accountSeed?: string;
}

export interface Federation {
  inventory: InventoryReader;
  /** Resolves once connected to NATS and publishing has started. */
  ready: Promise<void>;
  connected(): boolean;
  publisher(): FederationPublisher | undefined;
  stop(): Promise<void>;
}

/**
 * The global CP's end of federation. NATS is connected in the background:
 * Redis is the store of record, so the API serves while NATS is away, and
 * the publisher catches up (with a full repair) once it is back.
 */
export function startFederation(options: FederationOptions): Federation {
  const names = natsNames(options.federationId);
  let nats: NatsConnection | undefined;
  let publisher: FederationPublisher | undefined;
  let heartbeats: HeartbeatListener | undefined;
  let stopped = false;

  const ready = (async () => {
    const identity = options.accountSeed ? await controlPlaneIdentity(options.accountSeed) : undefined;
    const nc = await connect(
      natsConnectionOptions(options.natsUrl, 'meshfed-global-cp', identity ? { authenticator: jwtAuthenticator(identity.jwt, identity.seed) } : undefined),
    );
    if (stopped) {
      await nc.close();
      return;
    }
    nats = nc;
    options.log.info({ nats: redactUrl(options.natsUrl), federationId: names.federationId }, 'connected to NATS');
    void (async () => {
      for await (const status of nc.status()) {
        if (status.type === Events.Disconnect || status.type === Events.Reconnect) options.log.warn({ nats: status.type }, `NATS ${status.type}`);
      }
    })();
    publisher = new FederationPublisher({ store: options.store, nats: nc, names, log: options.log, registry: options.registry, reconcileIntervalMs: options.reconcileIntervalMs, ...(options.bucketReplicas ? { bucketReplicas: options.bucketReplicas } : {}) });
    publisher.start();
    heartbeats = new HeartbeatListener(nc, names, options.store, options.log);
    heartbeats.start();
  })();
  ready.catch((error: Error) => options.log.error({ err: error.message }, 'federation could not start'));

  const rejections = new InventoryRejections(options.log, options.registry);
  const inventory: InventoryReader = {
    async tenantInventories(tenant) {
      if (!nats) return [];
      const kv = await openBucket(nats.jetstream(), names.tenantBucket(tenant), false);
      const keys: string[] = [];
      try {
        for await (const key of await kv.keys(`${INVENTORY_KEY_PREFIX}>`)) keys.push(key);
      } catch (error) {
        // Binding never asks the server: a bucket not published yet (or lost) shows up here.
        if (/stream not found/i.test((error as Error).message)) return [];
        throw error;
      }
      const entries: InventoryEntry[] = [];
      for (const key of keys) {
        const entry = await kv.get(key);
        if (entry) entries.push(entry);
      }
      // A refused inventory is logged and counted once per KV revision, however often the API reads it.
      return acceptedInventories(tenant, entries, rejections);
    },
  };

  return {
    inventory,
    ready,
    connected: () => nats !== undefined && !nats.isClosed(),
    publisher: () => publisher,
    async stop() {
      stopped = true;
      await publisher?.stop();
      await heartbeats?.stop();
      await nats?.drain().catch(() => undefined);
    },
  };
}
