import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

/** Reads deploy/k8s the way `kubectl apply -k` would, without kustomize: resources, then patches. */

export const REPO_DIR = fileURLToPath(new URL('../../', import.meta.url));
export const K8S_DIR = join(REPO_DIR, 'deploy/k8s');

// Loose on purpose: manifests are checked against the Kubernetes schemas, this only walks them.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type K8sObject = Record<string, any>;

export interface Manifest {
  /** Path relative to the repository, for test names and messages. */
  file: string;
  object: K8sObject;
}

export interface KustomizeBuild {
  manifests: Manifest[];
  /** Every file the build read: kustomizations, resources and patches (absolute paths). */
  files: Set<string>;
}

export function readYamlDocuments(path: string): K8sObject[] {
  const docs = parseAllDocuments(readFileSync(path, 'utf8'));
  return docs.flatMap((doc) => {
    if (doc.errors.length) throw new Error(`${rel(path)}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value: unknown = doc.toJS();
    return value === null || value === undefined ? [] : [value as K8sObject];
  });
}

/** The objects a kustomization directory yields, with its strategic-merge patches applied. */
export function kustomizeBuild(dir: string): KustomizeBuild {
  const kustomizationFile = join(dir, 'kustomization.yaml');
  if (!existsSync(kustomizationFile)) throw new Error(`${rel(dir)}: no kustomization.yaml`);
  const [kustomization] = readYamlDocuments(kustomizationFile);
  const files = new Set([kustomizationFile]);
  const manifests: Manifest[] = [];
  for (const entry of (kustomization?.resources ?? []) as string[]) {
    const path = resolve(dir, entry);
    if (!existsSync(path)) throw new Error(`${rel(kustomizationFile)}: resource ${entry} does not exist`);
    if (statSync(path).isDirectory()) {
      const nested = kustomizeBuild(path);
      manifests.push(...nested.manifests);
      for (const f of nested.files) files.add(f);
    } else {
      files.add(path);
      for (const object of readYamlDocuments(path)) manifests.push({ file: rel(path), object });
    }
  }
  for (const entry of (kustomization?.patches ?? []) as Array<{ path?: string }>) {
    if (!entry.path) throw new Error(`${rel(kustomizationFile)}: only file patches (path:) are supported here`);
    const path = resolve(dir, entry.path);
    files.add(path);
    for (const patch of readYamlDocuments(path)) {
      const target = manifests.find((m) => sameObject(m.object, patch));
      if (!target) throw new Error(`${rel(path)}: patch target ${patch.kind} ${patch.metadata?.namespace}/${patch.metadata?.name} is not among the resources`);
      target.object = strategicMerge(target.object, patch) as K8sObject;
      target.file = `${target.file} + ${rel(path)}`;
    }
  }
  return { manifests, files };
}

/** Every YAML file under `dir`, recursively. */
export function yamlFilesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
    .map((f) => join(dir, f));
}

/** The part of strategic merge the patches here use: maps merge, lists of named items merge by name. */
export function strategicMerge(base: unknown, patch: unknown): unknown {
  if (isObject(base) && isObject(patch)) {
    const out: Record<string, unknown> = { ...base };
    for (const [key, value] of Object.entries(patch)) out[key] = key in base ? strategicMerge(base[key], value) : value;
    return out;
  }
  if (Array.isArray(base) && Array.isArray(patch) && [...base, ...patch].every((i) => isObject(i) && typeof i.name === 'string')) {
    const out = base.map((item: unknown) => {
      const update = patch.find((p) => (p as K8sObject).name === (item as K8sObject).name);
      return update ? strategicMerge(item, update) : item;
    });
    for (const item of patch) if (!base.some((b) => (b as K8sObject).name === (item as K8sObject).name)) out.push(item);
    return out;
  }
  return patch;
}

export function objectId(object: K8sObject): string {
  const ns = object.metadata?.namespace ? `${object.metadata.namespace}/` : '';
  return `${object.kind} ${ns}${object.metadata?.name}`;
}

function sameObject(a: K8sObject, b: K8sObject): boolean {
  return a.kind === b.kind && a.metadata?.name === b.metadata?.name && (a.metadata?.namespace ?? '') === (b.metadata?.namespace ?? '');
}

export function rel(path: string): string {
  return relative(REPO_DIR, path);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
