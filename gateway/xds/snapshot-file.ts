import { readFile } from 'node:fs/promises';
import { writeFileAtomically } from '../../core/atomic-file.js';
import { RESOURCE_TYPES, type EncodedAny, type ResourceType } from '../../core/xds/protos.js';

export const XDS_SNAPSHOT_FORMAT = 'meshfed-gateway-xds/v1';

/** The last good config of one proxy, as kept on disk: the resources exactly as they came (base64 Anys). */
interface SnapshotFile {
  format: typeof XDS_SNAPSHOT_FORMAT;
  /** Whose config this is: a file of another node or kind is not used. */
  node: { id: string; kind: string };
  savedAt: string;
  types: Record<ResourceType, { version: string; resources: Array<{ type_url: string; value: string }> }>;
}

export type SavedResources = Record<ResourceType, { version: string; resources: EncodedAny[] }>;

/** Writes the snapshot atomically (mode 600): a crash leaves the old file or the new one. */
export async function saveXdsSnapshot(path: string, node: { id: string; kind: string }, held: SavedResources): Promise<void> {
  const types = Object.fromEntries(
    RESOURCE_TYPES.map((type) => [type, { version: held[type].version, resources: held[type].resources.map((r) => ({ type_url: r.type_url, value: r.value.toString('base64') })) }]),
  ) as SnapshotFile['types'];
  const file: SnapshotFile = { format: XDS_SNAPSHOT_FORMAT, node, savedAt: new Date().toISOString(), types };
  await writeFileAtomically(path, JSON.stringify(file));
}

/** Reads a saved snapshot: undefined when there is none; throws with the reason when it cannot be used. */
export async function loadXdsSnapshot(path: string, node: { id: string; kind: string }): Promise<{ savedAt: string; resources: SavedResources } | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error('not JSON');
  }
  const file = parsed as Partial<SnapshotFile> | null;
  if (file?.format !== XDS_SNAPSHOT_FORMAT) throw new Error(`format is not ${XDS_SNAPSHOT_FORMAT}`);
  if (file.node?.id !== node.id || file.node.kind !== node.kind) throw new Error(`it is the config of ${file.node?.kind ?? '?'} "${file.node?.id ?? '?'}", not of ${node.kind} "${node.id}"`);
  const resources = {} as SavedResources;
  for (const type of RESOURCE_TYPES) {
    const saved = file.types?.[type];
    if (!saved || typeof saved.version !== 'string' || !Array.isArray(saved.resources)) throw new Error(`${type} resources missing`);
    resources[type] = { version: saved.version, resources: saved.resources.map((r) => ({ type_url: String(r.type_url), value: Buffer.from(String(r.value), 'base64') })) };
  }
  return { savedAt: String(file.savedAt), resources };
}
