import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { NatsConnection } from 'nats';
import { Counter, Gauge, type Registry } from 'prom-client';
import { canonicalJson } from '../../core/canonical-json.js';
import { openBucket } from '../../core/federation/kv.js';
import { inventoryKey, type NatsNames } from '../../core/federation/names.js';
import { ZoneInventory, type InventoryService, type InventorySubsets } from '../../core/schemas/federation.js';
import type { Logger } from '../../core/log.js';
import type { InventoryTruncation } from './from-endpoints.js';

const checkInventory = TypeCompiler.Compile(ZoneInventory);

/** Room kept under NATS's max_payload for the headers a KV put may carry (none today). */
export const HEADER_ALLOWANCE_BYTES = 1024;

/** Why an inventory is not published. */
export interface InventoryRefusal {
  reason: 'too-large' | 'invalid';
  message: string;
}

/**
 * Whether an inventory may be published: every reader must accept it (its
 * schema) and NATS must carry it (`maxPayload`, the server's max_payload, when
 * known). `text` is the inventory as it would be written. Pure.
 */
export function inventoryRefusal(inventory: ZoneInventory, text: string, maxPayload: number | undefined): InventoryRefusal | undefined {
  if (!checkInventory.Check(inventory)) {
    const error = checkInventory.Errors(inventory).First();
    return { reason: 'invalid', message: `fails the inventory schema at ${error ? `${error.path || '/'}: ${error.message}` : '/'}` };
  }
  const bytes = Buffer.byteLength(text);
  if (maxPayload !== undefined && bytes > maxPayload - HEADER_ALLOWANCE_BYTES) {
    return { reason: 'too-large', message: `${bytes} bytes (${inventory.services.length} services) is more than NATS carries: max_payload ${maxPayload} bytes, less ${HEADER_ALLOWANCE_BYTES} for headers` };
  }
  return undefined;
}

export type PublishableInventory =
  /** `subsetsLeftOut`: the whole inventory was refused for this, but fits without its subset counts. */
  | { ok: true; text: string; bytes: number; subsetsLeftOut?: InventoryRefusal }
  | { ok: false; bytes: number; refusal: InventoryRefusal };

/**
 * What to write for an inventory, if anything: as it is, or else without its
 * subset counts (other zones then treat its subsets as zones that predate
 * them do, weighting by all healthy endpoints), or nothing. `bytes` is the
 * size of the whole inventory. Pure.
 */
export function publishableInventory(inventory: ZoneInventory, maxPayload: number | undefined): PublishableInventory {
  const text = canonicalJson(inventory);
  const bytes = Buffer.byteLength(text);
  const refusal = inventoryRefusal(inventory, text, maxPayload);
  if (!refusal) return { ok: true, text, bytes };
  if (inventory.subsets) {
    const { subsets: _subsets, ...without } = inventory;
    const withoutText = canonicalJson(without);
    if (!inventoryRefusal(without, withoutText, maxPayload)) return { ok: true, text: withoutText, bytes, subsetsLeftOut: refusal };
  }
  return { ok: false, bytes, refusal };
}

/** "acme/shop/web: ports 64 of 70" — one line per cut, for logs. */
export function describeTruncation(t: InventoryTruncation): string {
  const what = t.field === 'service' ? `left out (${t.problem ?? 'fails the inventory schema'})` : `${t.field} ${t.kept} of ${t.total}`;
  return `${t.tenant}/${t.namespace}/${t.service}: ${what}`;
}

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

/**
 * Publishes the zone's own inventory key in each placed tenant's bucket;
 * skips what NATS already holds. An inventory that readers would refuse or
 * NATS cannot carry goes without its subset counts if that is enough;
 * otherwise it is not written, and the one published before is withdrawn:
 * other zones then see this zone as having published nothing for the tenant
 * (and fail over elsewhere) rather than route on counts that no longer hold —
 * as they would if they refused it themselves. Other tenants are published
 * as usual.
 */
export class InventoryPublisher {
  /** tenant → fingerprint of what NATS holds for it (the inventory, or its withdrawal). */
  private readonly published = new Map<string, string>();
  /** Tenants whose inventory is refused, or published without its subset counts: reported once until that ends. */
  private readonly refused = new Set<string>();
  private readonly subsetsLeftOut = new Set<string>();
  private truncationsReported = '';
  /** The tenants of the last publish: those placed in the zone. */
  private placed: ReadonlySet<string> = new Set();
  /** Tenants the per-tenant metrics have a value for. */
  private readonly measured = new Set<string>();
  private readonly metrics: { bytes: Gauge<'tenant'>; refusals: Counter<'tenant' | 'reason'>; subsetsLeftOut: Counter<'tenant' | 'reason'>; truncated: Gauge<'tenant'> };

  constructor(
    private readonly zone: string,
    private readonly nats: NatsConnection,
    private readonly names: NatsNames,
    private readonly log: Logger,
    registry?: Registry,
  ) {
    const registers = registry ? [registry] : [];
    this.metrics = {
      bytes: new Gauge({ name: 'meshfed_zone_inventory_bytes', help: 'Size of the inventory last built for the tenant, published or not; NATS carries at most its max_payload (1 MiB by default).', labelNames: ['tenant'], registers }),
      refusals: new Counter({ name: 'meshfed_zone_inventory_refused_total', help: 'Inventories not published (and the previous one withdrawn), by tenant and reason: too-large for NATS, or invalid.', labelNames: ['tenant', 'reason'], registers }),
      subsetsLeftOut: new Counter({ name: 'meshfed_zone_inventory_subsets_left_out_total', help: 'Inventories published without their subset counts, which made them too-large or invalid.', labelNames: ['tenant', 'reason'], registers }),
      truncated: new Gauge({ name: 'meshfed_zone_inventory_truncated_services', help: 'Services whose ports or localities the inventory lists only in part, or leaves out, to stay within its schema.', labelNames: ['tenant'], registers }),
    };
  }

  /**
   * Publishes what changed; false if some tenant could not be written (the
   * caller retries). `inventories` holds one per tenant placed in the zone:
   * what is kept of any other tenant, its metrics among it, is forgotten.
   */
  async publish(inventories: ZoneInventory[]): Promise<boolean> {
    this.placed = new Set(inventories.map((i) => i.tenant));
    this.forgetUnplaced();
    let ok = true;
    for (const inventory of inventories) {
      const { tenant } = inventory;
      // A later call (a new placement) may have come while this one waited on NATS.
      if (!this.placed.has(tenant)) continue;
      // Compare without the timestamp, so an unchanged inventory is not republished.
      const fingerprint = canonicalJson({ ...inventory, publishedAt: '' });
      if (this.published.get(tenant) === fingerprint) continue;
      const publishable = publishableInventory(inventory, this.nats.info?.max_payload);
      this.metrics.bytes.set({ tenant }, publishable.bytes);
      this.measured.add(tenant);
      try {
        const kv = await openBucket(this.nats.jetstream(), this.names.tenantBucket(tenant), false);
        if (!publishable.ok) {
          await kv.delete(inventoryKey(this.zone));
          this.published.set(tenant, fingerprint);
          this.metrics.refusals.inc({ tenant, reason: publishable.refusal.reason });
          const fields = { tenant, reason: publishable.refusal.reason, problem: publishable.refusal.message };
          if (this.refused.has(tenant)) this.log.debug(fields, 'inventory still cannot be published');
          else this.log.error(fields, 'inventory cannot be published; withdrew this zone\'s inventory of the tenant, so other zones see none from it');
          this.refused.add(tenant);
          continue;
        }
        await kv.put(inventoryKey(this.zone), publishable.text);
        this.published.set(tenant, fingerprint);
        this.reportSubsets(tenant, publishable.subsetsLeftOut);
        if (this.refused.delete(tenant)) this.log.info({ tenant, services: inventory.services.length }, 'inventory can be published again; published');
        else this.log.info({ tenant, services: inventory.services.length }, 'published inventory');
      } catch (error) {
        this.log.warn({ tenant, err: (error as Error).message }, `could not ${publishable.ok ? 'publish' : 'withdraw'} inventory; will retry`);
        ok = false;
      }
    }
    return ok;
  }

  /** A gauge keeps its last value until told otherwise: a tenant that left the zone would report its size forever. */
  private forgetUnplaced(): void {
    for (const tenant of this.measured) {
      if (this.placed.has(tenant)) continue;
      this.metrics.bytes.remove({ tenant });
      this.measured.delete(tenant);
    }
    for (const tenant of this.published.keys()) if (!this.placed.has(tenant)) this.published.delete(tenant);
    for (const tenant of this.refused) if (!this.placed.has(tenant)) this.refused.delete(tenant);
    for (const tenant of this.subsetsLeftOut) if (!this.placed.has(tenant)) this.subsetsLeftOut.delete(tenant);
  }

  private reportSubsets(tenant: string, leftOut: InventoryRefusal | undefined): void {
    if (!leftOut) {
      if (this.subsetsLeftOut.delete(tenant)) this.log.info({ tenant }, 'inventory carries its subset counts again');
      return;
    }
    this.metrics.subsetsLeftOut.inc({ tenant, reason: leftOut.reason });
    if (this.subsetsLeftOut.has(tenant)) return;
    this.subsetsLeftOut.add(tenant);
    this.log.warn({ tenant, reason: leftOut.reason, problem: leftOut.message }, 'published the inventory without its subset counts: other zones weight every subset of its services by all healthy endpoints');
  }

  /** Sets the truncation gauge and warns when the set of cut services changes. */
  reportTruncations(truncations: readonly InventoryTruncation[]): void {
    const services = new Map<string, Set<string>>();
    for (const t of truncations) {
      let ofTenant = services.get(t.tenant);
      if (!ofTenant) services.set(t.tenant, (ofTenant = new Set()));
      ofTenant.add(`${t.namespace}/${t.service}`);
    }
    this.metrics.truncated.reset();
    for (const [tenant, cut] of services) this.metrics.truncated.set({ tenant }, cut.size);
    // Counts move with every endpoint change: warn when which services are cut, and how, changes.
    const signature = truncations.map((t) => `${t.tenant}/${t.namespace}/${t.service}:${t.field}`).join(',');
    if (signature === this.truncationsReported) return;
    this.truncationsReported = signature;
    if (truncations.length === 0) this.log.info('inventory lists every service in full again');
    else this.log.warn({ cut: truncations.slice(0, 10).map(describeTruncation), truncations: truncations.length }, 'inventory lists some services only in part, to stay within its schema');
  }

  /** Forget what was published (after a reconnect or a re-placement), so the next publish writes everything again. */
  reset(tenant?: string): void {
    if (tenant) this.published.delete(tenant);
    else this.published.clear();
  }
}
