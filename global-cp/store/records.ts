import type { Labels } from '../../core/schemas/common.js';
import type { TenantSpec } from '../../core/schemas/tenant.js';
import type { ZONE_KINDS } from '../../core/schemas/zone.js';

/** Server-owned metadata of a stored resource. */
export interface Meta {
  resourceVersion: string;
  generation: number;
  creationTimestamp: string;
  specHash: string;
}

export interface ZoneSpec {
  region: string;
  location: string;
  kind: (typeof ZONE_KINDS)[number];
}

export interface ZoneRecord {
  name: string;
  labels: Labels;
  spec: ZoneSpec;
  meta: Meta;
}

export interface TenantRecord {
  name: string;
  labels: Labels;
  spec: TenantSpec;
  meta: Meta;
  revision: number;
  policyCount: number;
}

export interface PolicyRecord {
  tenant: string;
  kind: string;
  name: string;
  labels: Labels;
  spec: Record<string, unknown>;
  meta: Meta;
}

export interface TokenRecord {
  id: string;
  tenant: string;
  role: 'admin' | 'editor' | 'viewer';
  description: string;
  createdAt: string;
  expiresAt: string;
}

/** What a compare-and-set write expects of the current state. */
export type Expect = 'create' | 'exists' | 'any' | { resourceVersion: string };

export type WriteResult<T> =
  | { status: 'created' | 'updated' | 'unchanged'; value: T }
  | { status: 'exists' | 'not-found' | 'tenant-not-found' }
  | { status: 'precondition'; currentResourceVersion: string }
  | { status: 'quota'; limit: number }
  | { status: 'unknown-zone'; zone: string; index: number }
  | { status: 'trust-domain-taken'; owner: string };

export type DeleteResult =
  | { status: 'deleted' }
  | { status: 'not-found' | 'tenant-not-found' | 'exists' }
  | { status: 'precondition'; currentResourceVersion: string }
  | { status: 'conflict'; tenants: string[] };

/** One committed write, as the change stream (outbox) records it. */
export interface ChangeEntry {
  id: string;
  /** '' for zone writes. */
  tenant: string;
  revision: number;
  /** "tenant", "policy:<Kind>/<name>" or "zone:<name>". */
  what: string;
}

/** The last heartbeat of a zone. */
export interface ZoneStatusRecord {
  lastSeen: string;
  cpVersion: string;
  intervalMs: number;
  ingressAddress: string | null;
  applied: Record<string, number>;
}

/** A tenant's certificate authority: its roots, newest first; keys sealed with the master key. */
export interface TenantCa {
  roots: Array<{ certificatePem: string; sealedKey: string; createdAt: string }>;
}
