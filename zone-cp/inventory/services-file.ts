import { watchFile, unwatchFile } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { parse } from 'yaml';
import { Dns1123Label, Strict } from '../../core/schemas/common.js';
import { InventoryService } from '../../core/schemas/federation.js';

/**
 * The zone's local services, per tenant, from a YAML file — the stand-in for
 * workload discovery until the zone CP discovers workloads itself.
 */
export const ServicesFile = Strict({
  ingressAddress: Type.Optional(Type.String({ maxLength: 255, description: 'host:port of this zone\'s east-west ingress.' })),
  tenants: Type.Record(Dns1123Label('Tenant.'), Type.Array(InventoryService, { maxItems: 10_000 }), { additionalProperties: false }),
});
export type ServicesFile = Static<typeof ServicesFile>;

const check = TypeCompiler.Compile(ServicesFile);

/** Parses and validates the file's text; throws with every problem and the path it is at. Pure. */
export function parseServicesFile(text: string, source: string): ServicesFile {
  let value: unknown;
  try {
    value = parse(text) ?? { tenants: {} };
  } catch (error) {
    throw new Error(`${source}: not valid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  const problems = [...check.Errors(value)].slice(0, 10).map((e) => `${e.path || '/'}: ${e.message}`);
  if (problems.length) throw new Error(`${source}: ${problems.join('; ')}`);
  return value as ServicesFile;
}

/**
 * Calls `onLoad` with the file's content now and whenever it changes, and
 * `onError` when a version is unreadable or invalid (the last good one stays
 * in force). Polls the file's mtime, which also sees editors that replace the file.
 */
export function watchServicesFile(path: string, onLoad: (file: ServicesFile) => void, onError: (error: Error) => void, intervalMs = 250): () => void {
  let lastText: string | undefined;
  const load = async () => {
    try {
      const text = await readFile(path, 'utf8');
      if (text === lastText) return;
      lastText = text;
      onLoad(parseServicesFile(text, path));
    } catch (error) {
      onError(error as Error);
    }
  };
  void load();
  const listener = () => void load();
  watchFile(path, { interval: intervalMs }, listener);
  return () => unwatchFile(path, listener);
}
