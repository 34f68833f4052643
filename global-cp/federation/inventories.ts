import { checkZoneInventory, type InventoryOutcomes } from '../../core/federation/inventory-check.js';
import { INVENTORY_KEY_PREFIX } from '../../core/federation/names.js';
import type { ZoneInventory } from '../../core/schemas/federation.js';

/** What the reader needs of a KV entry (nats' KvEntry has it). */
export interface InventoryEntry {
  key: string;
  revision: number;
  operation: string;
  json(): unknown;
}

/**
 * The inventories of one tenant's bucket that pass their schema, each filed
 * under the zone its key names. A value that is not JSON or fails the schema
 * is left out, as if its zone had published nothing, and told to `outcomes`
 * (which logs and counts it). Pure but for `outcomes`.
 */
export function acceptedInventories(tenant: string, entries: Iterable<InventoryEntry>, outcomes?: InventoryOutcomes): ZoneInventory[] {
  const found: ZoneInventory[] = [];
  for (const entry of entries) {
    if (entry.operation !== 'PUT' || !entry.key.startsWith(INVENTORY_KEY_PREFIX)) continue;
    const zone = entry.key.slice(INVENTORY_KEY_PREFIX.length);
    let value: unknown;
    try {
      value = entry.json();
    } catch {
      outcomes?.rejected({ tenant, zone, revision: entry.revision, problem: { path: '', message: 'not JSON' } });
      continue;
    }
    // The key and bucket say whose inventory it is, whatever the value claims.
    const checked = checkZoneInventory(value, { tenant, zone });
    if (checked.ok) {
      found.push(checked.inventory);
      outcomes?.accepted(tenant, zone);
    } else {
      outcomes?.rejected({ tenant, zone, revision: entry.revision, problem: checked.problem });
    }
  }
  return found;
}
