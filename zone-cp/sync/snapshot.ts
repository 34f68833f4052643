import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomically } from '../../core/atomic-file.js';
import type { TenantView } from './tenant-view.js';

export const SNAPSHOT_FORMAT = 1;

/** Everything a zone CP needs to serve without NATS or the global CP. */
export interface ZoneSnapshot {
  format: number;
  zone: string;
  /** sha256 of the zone token that last authenticated, so a restart with the same token may sync before the global CP answers. */
  authenticatedTokenHash: string | null;
  /** The zone's region as the global CP last said (older snapshots lack it). */
  region?: string;
  tenants: Record<string, TenantView>;
  savedAt: string;
}

export function snapshotPath(stateDir: string): string {
  return join(stateDir, 'snapshot.json');
}

/** Reads the last snapshot; undefined if there is none. A snapshot of another zone or format is an error, never silently used. */
export async function loadSnapshot(stateDir: string, zone: string): Promise<ZoneSnapshot | undefined> {
  let text: string;
  try {
    text = await readFile(snapshotPath(stateDir), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const snapshot = JSON.parse(text) as ZoneSnapshot;
  if (snapshot.format !== SNAPSHOT_FORMAT) throw new Error(`${snapshotPath(stateDir)}: snapshot format ${snapshot.format}, expected ${SNAPSHOT_FORMAT}`);
  if (snapshot.zone !== zone) throw new Error(`${snapshotPath(stateDir)} belongs to zone "${snapshot.zone}", not "${zone}"`);
  return snapshot;
}

/** Writes atomically: a temporary file, fsync, rename, fsync of the directory — a crash leaves the old or the new snapshot, never half of one. */
export async function saveSnapshot(stateDir: string, snapshot: ZoneSnapshot): Promise<void> {
  await writeFileAtomically(snapshotPath(stateDir), JSON.stringify(snapshot));
}
