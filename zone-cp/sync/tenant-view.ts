import { classifyTenantKey } from '../../core/federation/names.js';
import { checkZoneInventory, type InventoryCheck, type InventoryOutcomes } from '../../core/federation/inventory-check.js';
import type { ZoneInventory } from '../../core/schemas/federation.js';
import { isPolicyKind, type PolicyDocument } from '../../core/schemas/policies/index.js';
import { NOT_JSON, checkPolicyDocument, checkTenantState, fencedPermission, type DocumentOutcomes } from './document-check.js';

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
  /** "Kind/name" → document; for a refused TrafficPermission, the permission admitting no caller that stands in for it. */
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
  /** The PUT's value did not parse as JSON (`value` is then undefined). */
  notJson?: boolean;
}

/** Who is told what became of the documents read (to log and count refusals). */
export interface EntryOutcomes {
  inventories?: InventoryOutcomes;
  documents?: DocumentOutcomes;
}

export function emptyTenantView(name: string, trustDomain: string): TenantView {
  return { name, trustDomain, zones: [], revision: 0, sequence: 0, bucketCreated: '', policies: {}, inventories: {} };
}

/**
 * Applies one KV change. Pure but for telling `outcomes` what it made of
 * each document: returns a new view. Entries at or below the sequence
 * already applied (redelivered after a resume) change nothing. A document
 * that is not JSON or fails its check is refused, and what the view holds
 * instead depends on its kind:
 *
 * - a tenant state: the last valid one is kept;
 * - a TrafficPermission: a permission that admits no caller to its target;
 * - any other policy, and an inventory: nothing (as if the key were deleted).
 *
 * Except for the tenant state, the view then holds what a zone CP syncing
 * the bucket from scratch would hold.
 */
export function applyTenantEntry(view: TenantView, entry: TenantEntry, outcomes: EntryOutcomes = {}): TenantView {
  if (entry.sequence <= view.sequence) return view;
  const next: TenantView = { ...view, sequence: entry.sequence };
  const removed = entry.operation !== 'PUT';
  const { inventories, documents } = outcomes;
  const refused = { tenant: view.name, key: entry.key, revision: entry.sequence };
  const what = classifyTenantKey(entry.key);
  switch (what.type) {
    case 'tenant': {
      if (removed) {
        documents?.settled(view.name, entry.key);
        break;
      }
      const checked = entry.notJson ? { ok: false as const, problem: NOT_JSON } : checkTenantState(entry.value);
      if (checked.ok) {
        next.revision = checked.document.revision;
        next.trustDomain = checked.document.trustDomain;
        next.zones = checked.document.zones;
        documents?.settled(view.name, entry.key);
      } else {
        // Kept rather than dropped: the tenant state has no safe empty value. Its trust domain names every SVID and
        // RBAC principal of the tenant, and its revision is what this zone reports as applied: keeping the old one
        // shows the zone as behind on the global CP instead of claiming, or resetting, a revision it does not hold.
        documents?.rejected({ ...refused, kind: 'TenantState', problem: checked.problem, action: 'kept-previous' });
      }
      break;
    }
    case 'policy': {
      const id = `${what.kind}/${what.name}`;
      next.policies = { ...view.policies };
      if (removed) {
        delete next.policies[id];
        documents?.settled(view.name, entry.key);
        break;
      }
      const checked = entry.notJson ? { ok: false as const, problem: NOT_JSON } : checkPolicyDocument(entry.value, what);
      if (checked.ok) {
        next.policies[id] = checked.document;
        documents?.settled(view.name, entry.key);
        break;
      }
      const kind = isPolicyKind(what.kind) ? what.kind : 'unknown';
      if (what.kind === 'TrafficPermission') {
        // A service without a TrafficPermission admits every caller of the tenant: dropping a refused one would
        // fail open, and keeping the one it replaced would enforce rules the tenant has since changed (and a zone
        // syncing from scratch has none to keep). Admitting no caller fails closed, the same way in every zone CP.
        next.policies[id] = fencedPermission(entry.value, what.name, entry.sequence);
        documents?.rejected({ ...refused, kind, problem: checked.problem, action: 'fenced' });
      } else {
        // Only TrafficPermission decides who may call: without a policy of another kind a service falls back to
        // defaults (or the tenant-wide one), which widens no access. Dropping holds what a zone syncing from scratch
        // would, rather than a policy the tenant has since replaced.
        delete next.policies[id];
        documents?.rejected({ ...refused, kind, problem: checked.problem, action: 'dropped' });
      }
      break;
    }
    case 'inventory': {
      next.inventories = { ...view.inventories };
      if (removed) {
        delete next.inventories[what.zone];
        break;
      }
      // The key says whose inventory it is, whatever the value claims.
      const checked: InventoryCheck = entry.notJson ? { ok: false, problem: NOT_JSON } : checkZoneInventory(entry.value, { tenant: view.name, zone: what.zone });
      if (checked.ok) {
        next.inventories[what.zone] = checked.inventory;
        inventories?.accepted(view.name, what.zone);
      } else {
        // The zone counts as having published nothing rather than being routed to on stale counts.
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
