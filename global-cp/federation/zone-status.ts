import { Value } from '@sinclair/typebox/value';
import type { NatsConnection, Subscription } from 'nats';
import { Heartbeat } from '../../core/schemas/federation.js';
import type { ZoneStatus } from '../../core/schemas/zone.js';
import type { NatsNames } from '../../core/federation/names.js';
import type { Logger } from '../../core/log.js';
import type { ZoneStatusRecord } from '../store/records.js';
import type { RedisStore } from '../store/redis-store.js';

export const DEFAULT_OFFLINE_AFTER_MISSED = 3;

/**
 * A zone is online while its last heartbeat is younger than `missedBeats`
 * of its own heartbeat intervals. Pure: status is derived when read, so every
 * global CP replica agrees without coordinating.
 */
export function zoneStatusFrom(
  record: ZoneStatusRecord | undefined,
  tenants: Array<{ name: string; revision: number }>,
  nowMs: number,
  missedBeats: number,
): ZoneStatus {
  const online = record !== undefined && nowMs - Date.parse(record.lastSeen) < missedBeats * record.intervalMs;
  return {
    state: online ? 'online' : 'offline',
    lastSeen: record?.lastSeen ?? null,
    cpVersion: record?.cpVersion ?? null,
    ingressAddress: record?.ingressAddress ?? null,
    tenants: tenants.map((t) => {
      const applied = record?.applied[t.name] ?? null;
      return { name: t.name, revision: t.revision, appliedRevision: applied, upToDate: applied !== null && applied >= t.revision };
    }),
  };
}

/** Records zone heartbeats in Redis. A queue group: each heartbeat is handled by one global CP replica. */
export class HeartbeatListener {
  private subscription: Subscription | undefined;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly nats: NatsConnection,
    private readonly names: NatsNames,
    private readonly store: RedisStore,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.subscription = this.nats.subscribe(this.names.allHeartbeats, { queue: `${this.names.federationId}-global-cp` });
    this.loop = this.consume(this.subscription);
  }

  private async consume(subscription: Subscription): Promise<void> {
    for await (const message of subscription) {
      try {
        const beat: unknown = message.json();
        // Exactly this zone's own subject: a message delivered here from elsewhere keeps its own subject and is dropped.
        if (!Value.Check(Heartbeat, beat) || message.subject !== this.names.heartbeatSubject(beat.zone)) {
          this.log.warn({ subject: message.subject }, 'ignored malformed heartbeat');
          continue;
        }
        if (!(await this.store.getZone(beat.zone))) continue; // a deleted or unknown zone
        await this.store.recordHeartbeat(beat.zone, {
          lastSeen: new Date().toISOString(),
          cpVersion: beat.cpVersion,
          intervalMs: beat.intervalMs,
          ingressAddress: beat.ingressAddress,
          applied: beat.applied,
        });
      } catch (error) {
        this.log.warn({ err: (error as Error).message }, 'could not record heartbeat');
      }
    }
  }

  async stop(): Promise<void> {
    this.subscription?.unsubscribe();
    await this.loop;
  }
}
