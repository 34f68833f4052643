import { canonicalJson } from '../../core/canonical-json.js';
import { openBucket } from '../../core/federation/kv.js';
import { inventoryKey, type NatsNames } from '../../core/federation/names.js';
import type { InventoryService, InventorySubsets, ZoneInventory } from '../../core/schemas/federation.js';
import type { Logger } from '../../core/log.js';
import type { NatsConnection } from 'nats';

/**
 * What this zone reports for each placed tenant: its services there (none if
 * it has none), its ingress, and its subset counts when it has them. Pure.
 */
export function inventoriesFor(
  zone: string,
  placedTenants: string[],
  services: Record<string, InventoryService[]>,
  ingressAddress: string | null,
  now: string,
  subsets: Record<string, InventorySubsets> = {},
): ZoneInventory[] {
  return placedTenants.map((tenant) => ({ zone, tenant, ingressAddress, services: services[tenant] ?? [], ...(subsets[tenant] ? { subsets: subsets[tenant] } : {}), publishedAt: now }));
}

/** Publishes the zone's own inventory key in each placed tenant's bucket; skips what NATS already holds. */
export class InventoryPublisher {
  private readonly published = new Map<string, string>();

  constructor(
    private readonly zone: string,
    private readonly nats: NatsConnection,
    private readonly names: NatsNames,
    private readonly log: Logger,
  ) {}

  /** Publishes what changed; false if some tenant could not be written (the caller retries). */
  async publish(inventories: ZoneInventory[]): Promise<boolean> {
    let ok = true;
    for (const inventory of inventories) {
      // Compare without the timestamp, so an unchanged inventory is not republished.
      const fingerprint = canonicalJson({ ...inventory, publishedAt: '' });
      if (this.published.get(inventory.tenant) === fingerprint) continue;
      try {
        const kv = await openBucket(this.nats.jetstream(), this.names.tenantBucket(inventory.tenant), false);
        await kv.put(inventoryKey(this.zone), canonicalJson(inventory));
        this.published.set(inventory.tenant, fingerprint);
        this.log.info({ tenant: inventory.tenant, services: inventory.services.length }, 'published inventory');
      } catch (error) {
        this.log.warn({ tenant: inventory.tenant, err: (error as Error).message }, 'could not publish inventory; will retry');
        ok = false;
      }
    }
    return ok;
  }

  /** Forget what was published (after a reconnect or a re-placement), so the next publish writes everything again. */
  reset(tenant?: string): void {
    if (tenant) this.published.delete(tenant);
    else this.published.clear();
  }
}
