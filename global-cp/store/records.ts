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

/**
 * One signing CA of a tenant. Usually a root (generated, or uploaded by the
 * operator); for an uploaded intermediate, `certificatePem` is that
 * intermediate and `chainPem` leads from its issuer up to the self-signed root
 * that workloads trust.
 */
export interface TenantCaRoot {
  /** The certificate whose key signs; its serial (as @peculiar/x509 prints it) names this entry in the API. */
  certificatePem: string;
  /** PKCS#8 key of certificatePem, sealed with the master key, bound to tenant and serial. */
  sealedKey: string;
  createdAt: string;
  /** Uploaded intermediate only: its issuer first, ending with the self-signed root the trust bundle carries. */
  chainPem?: string[];
  /** Absent in records written before roots could be uploaded: 'generated'. */
  source?: 'generated' | 'uploaded';
  /** Added with activate: false and not the signer yet (its root is in the trust bundle already). */
  staged?: boolean;
}

/**
 * A tenant's certificate authority. `roots[0]` signs (the active one); every
 * entry's root is in the trust bundle, so certificates issued under a
 * retiring or staged root still verify. Keys are sealed with the master key.
 */
export interface TenantCa {
  roots: TenantCaRoot[];
}
