import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TYPE_URL, encodeResource } from '../../core/xds/protos.js';
import { loadXdsSnapshot, saveXdsSnapshot, type SavedResources } from './snapshot-file.js';

const node = { id: 'web-1', kind: 'sidecar' };
const held: SavedResources = {
  listener: { version: 'l1', resources: [] },
  route: { version: '', resources: [] },
  cluster: { version: 'c1', resources: [encodeResource(TYPE_URL.cluster, { name: 'a', type: 'EDS' })] },
  endpoint: { version: '', resources: [] },
};

describe('xDS snapshot file', () => {
  it('round-trips the resources exactly, mode 600', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'meshfed-gw-')), 'sub', 'xds.json');
    expect(await loadXdsSnapshot(file, node)).toBeUndefined();
    await saveXdsSnapshot(file, node, held);
    const loaded = await loadXdsSnapshot(file, node);
    expect(loaded?.resources).toEqual(held);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it("refuses another node's file and a damaged one", async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'meshfed-gw-')), 'xds.json');
    await saveXdsSnapshot(file, node, held);
    await expect(loadXdsSnapshot(file, { id: 'web-2', kind: 'sidecar' })).rejects.toThrow(/config of sidecar "web-1", not of sidecar "web-2"/);
    await writeFile(file, (await readFile(file, 'utf8')).slice(0, 20));
    await expect(loadXdsSnapshot(file, node)).rejects.toThrow(/not JSON/);
    await writeFile(file, JSON.stringify({ format: 'other' }));
    await expect(loadXdsSnapshot(file, node)).rejects.toThrow(/format/);
  });
});
