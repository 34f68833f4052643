import { Value } from '@sinclair/typebox/value';
import { classifyTenantKey } from '../../core/federation/names.js';
import { checkZoneInventory, type InventoryOutcomes } from '../../core/federation/inventory-check.js';
import { TenantState, type ZoneInventory } from '../../core/schemas/federation.js';
import type { PolicyDocument } from '../../core/schemas/policies/index.js';

/** What a zone CP holds of one tenant placed in it. */
export interface TenantView {
  name: string;
  trustDomain: string;
  zones: string[];
  /** Tenant revision applied: every change up to it is in this view. 0 until the first tenant state arrives. */
  revision: number;
  /** Last NATS KV revision (stream sequence) applied: a reconnect resumes after it. */
  sequence: number;
  /** Creation time of the bucket the sequence belongs to; a re-created bucket starts over, so the view must too. */
  bucketCreated: string;
  /** "Kind/name" → document. */
  policies: Record<string, PolicyDocument>;
  /** zone → what that zone reported (this zone's own included). */
  inventories: Record<string, ZoneInventory>;
}

/** One KV change as the watcher sees it. */
export interface TenantEntry {
  key: string;
  operation: 'PUT' | 'DEL' | 'PURGE';
  sequence: number;
  value?: unknown;
}

export function emptyTenantView(name: string, trustDomain: string): TenantView {
  return { name, trustDomain, zones: [], revision: 0, sequence: 0, bucketCreated: '', policies: {}, inventories: {} };
}

/**
 * Applies one KV change. Pure but for telling `inventories` (when given)
 * what it made of an inventory: returns a new view. Entries at or below the
 * sequence already applied (redelivered after a resume) change nothing, and
 * so do tenant states and policies that fail their schema. An inventory that
 * fails its schema removes the zone's previous one: the view holds what a
 * zone CP syncing the bucket from scratch would hold, and the zone counts as
 * having published nothing rather than being routed to on stale counts.
 */
export function applyTenantEntry(view: TenantView, entry: TenantEntry, inventories?: InventoryOutcomes): TenantView {
  if (entry.sequence <= view.sequence) return view;
  const next: TenantView = { ...view, sequence: entry.sequence };
  const removed = entry.operation !== 'PUT';
  const what = classifyTenantKey(entry.key);
  switch (what.type) {
    case 'tenant':
      if (!removed && Value.Check(TenantState, entry.value)) {
        next.revision = entry.value.revision;
        next.trustDomain = entry.value.trustDomain;
        next.zones = entry.value.zones;
      }
      break;
    case 'policy': {
      const id = `${what.kind}/${what.name}`;
      next.policies = { ...view.policies };
      if (removed) delete next.policies[id];
      else if (isPolicyDocument(entry.value)) next.policies[id] = entry.value;
      break;
    }
    case 'inventory': {
      next.inventories = { ...view.inventories };
      if (removed) {
        delete next.inventories[what.zone];
        break;
      }
      // The key says whose inventory it is, whatever the value claims.
      const checked = checkZoneInventory(entry.value, { tenant: view.name, zone: what.zone });
      if (checked.ok) {
        next.inventories[what.zone] = checked.inventory;
        inventories?.accepted(view.name, what.zone);
      } else {
        delete next.inventories[what.zone];
        inventories?.rejected({ tenant: view.name, zone: what.zone, revision: entry.sequence, problem: checked.problem });
      }
      break;
    }
    case 'unknown':
      break;
  }
  return next;
}

function isPolicyDocument(value: unknown): value is PolicyDocument {
  return typeof value === 'object' && value !== null && 'kind' in value && 'metadata' in value && 'spec' in value;
}
