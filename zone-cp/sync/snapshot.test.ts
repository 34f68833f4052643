import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SNAPSHOT_FORMAT, loadSnapshot, saveSnapshot, snapshotPath, type ZoneSnapshot } from './snapshot.js';
import { emptyTenantView } from './tenant-view.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshfed-snapshot-test-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const snapshot = (overrides: Partial<ZoneSnapshot> = {}): ZoneSnapshot => ({
  format: SNAPSHOT_FORMAT,
  zone: 'eu-1',
  authenticatedTokenHash: 'ab'.repeat(32),
  tenants: {
    acme: {
      ...emptyTenantView('acme', 'acme.mesh'),
      zones: ['eu-1'],
      revision: 4,
      sequence: 17,
      bucketCreated: '2025-01-01T00:00:00.000Z',
      policies: {},
      inventories: { 'eu-1': { zone: 'eu-1', tenant: 'acme', ingressAddress: null, services: [], publishedAt: '2025-01-01T00:00:00.000Z' } },
    },
  },
  savedAt: '2025-01-01T00:00:01.000Z',
  ...overrides,
});

describe('snapshots', () => {
  it('keeps the snapshot in <stateDir>/snapshot.json', () => {
    expect(snapshotPath('/var/lib/meshfed')).toBe('/var/lib/meshfed/snapshot.json');
  });

  it('round-trips what was saved', async () => {
    const saved = snapshot();
    await saveSnapshot(dir, saved);
    expect(await loadSnapshot(dir, 'eu-1')).toEqual(saved);
  });

  it('replaces an older snapshot', async () => {
    await saveSnapshot(dir, snapshot());
    await saveSnapshot(dir, snapshot({ tenants: {}, authenticatedTokenHash: null }));
    expect(await loadSnapshot(dir, 'eu-1')).toEqual(snapshot({ tenants: {}, authenticatedTokenHash: null }));
  });

  it('writes the file readable by its owner only', async () => {
    await saveSnapshot(dir, snapshot());
    expect((await stat(snapshotPath(dir))).mode & 0o777).toBe(0o600);
  });

  it('creates a missing state directory, private to its owner', async () => {
    const nested = join(dir, 'a', 'b');
    await saveSnapshot(nested, snapshot());
    expect(await loadSnapshot(nested, 'eu-1')).toEqual(snapshot());
    expect((await stat(nested)).mode & 0o077).toBe(0);
  });

  it('leaves no temporary files behind', async () => {
    await saveSnapshot(dir, snapshot());
    await Promise.all([saveSnapshot(dir, snapshot()), saveSnapshot(dir, snapshot({ zone: 'eu-1', tenants: {} }))]);
    expect(await readdir(dir)).toEqual(['snapshot.json']);
  });

  it('is undefined when there is no snapshot', async () => {
    expect(await loadSnapshot(dir, 'eu-1')).toBeUndefined();
    expect(await loadSnapshot(join(dir, 'does-not-exist'), 'eu-1')).toBeUndefined();
  });

  it('refuses a snapshot of another zone', async () => {
    await saveSnapshot(dir, snapshot({ zone: 'us-1' }));
    await expect(loadSnapshot(dir, 'eu-1')).rejects.toThrow(/belongs to zone "us-1", not "eu-1"/);
  });

  it('refuses a snapshot of another format', async () => {
    await saveSnapshot(dir, snapshot({ format: SNAPSHOT_FORMAT + 1 }));
    await expect(loadSnapshot(dir, 'eu-1')).rejects.toThrow(`snapshot format ${SNAPSHOT_FORMAT + 1}, expected ${SNAPSHOT_FORMAT}`);
  });

  it('refuses a corrupt file instead of reading it as empty', async () => {
    await writeFile(snapshotPath(dir), '{"format":1,"zone":"eu-1","ten', { mode: 0o600 });
    await expect(loadSnapshot(dir, 'eu-1')).rejects.toThrow();
  });

  it('fails, leaving no temporary file, when the snapshot cannot be written', async () => {
    // The target path is a directory: the rename fails after the temporary file was written.
    const blocked = join(dir, 'blocked');
    await saveSnapshot(blocked, snapshot());
    await rm(snapshotPath(blocked));
    await mkdir(join(snapshotPath(blocked), 'x'), { recursive: true });
    await expect(saveSnapshot(blocked, snapshot())).rejects.toThrow();
    expect((await readdir(blocked)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
