import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ApiClient } from './client.js';
import { applyOrder, type ManifestDocument } from './documents.js';
import { CtlError } from './errors.js';

interface StoredResource {
  metadata: { resourceVersion: string; labels?: Record<string, string> };
  spec: Record<string, unknown>;
}

export interface ApplyOptions {
  /** Write new zone tokens here (mode 600) instead of printing them. */
  tokenDir?: string;
  say: (line: string) => void;
  warn: (line: string) => void;
}

const preconditionOf = (doc: Record<string, unknown>): Record<string, string> => {
  const rv = (doc.metadata as { resourceVersion?: string }).resourceVersion;
  return rv ? { 'if-match': rv } : {};
};

/**
 * Applies documents in dependency order: zones, tenants, then policies.
 * Idempotent: re-applying the same file reports "unchanged" and writes nothing.
 * A failing document is reported and the rest still go; the count of failures is returned.
 */
export async function applyDocuments(client: ApiClient, docs: ManifestDocument[], options: ApplyOptions): Promise<number> {
  return forEachDocument(applyOrder(docs), options, async (doc) =>
    doc.kind === 'Zone' ? applyZone(client, doc, options) : doc.kind === 'Tenant' ? applyTenant(client, doc) : applyPolicy(client, doc),
  );
}

/**
 * Runs `act` on each document and prints "<kind>/<name> <outcome>"; an API
 * failure is reported with its details and the rest still go. Returns the
 * number of failures.
 */
async function forEachDocument(docs: ManifestDocument[], options: Pick<ApplyOptions, 'say' | 'warn'>, act: (doc: ManifestDocument) => Promise<string>): Promise<number> {
  let failures = 0;
  for (const doc of docs) {
    const label = `${doc.kind.toLowerCase()}/${doc.name}${doc.tenant ? ` (tenant ${doc.tenant})` : ''}`;
    try {
      options.say(`${label} ${await act(doc)}`);
    } catch (error) {
      if (!(error instanceof CtlError)) throw error;
      failures++;
      options.warn(`error: ${doc.source} ${label}: ${error.message}`);
      for (const line of error.lines) options.warn(`  ${line}`);
    }
  }
  return failures;
}

function outcomeOf(header: string | null): string {
  return header === 'unchanged' ? 'unchanged' : header === 'created' ? 'created' : 'configured';
}

async function applyZone(client: ApiClient, doc: ManifestDocument, options: ApplyOptions): Promise<string> {
  const { metadata, spec } = doc.doc as { metadata: { labels?: Record<string, string> }; spec: { region: string; location: string; kind: string } };
  const existing = await client.request<StoredResource>('GET', `/zones/${doc.name}`, undefined, { allow: [404] });
  if (existing.status === 404) {
    const created = await client.request<{ token: string }>('POST', '/zones', { name: doc.name, ...spec, labels: metadata.labels ?? {} });
    return `created; ${await deliverZoneToken(doc.name, created.body.token, options)}`;
  }
  if (existing.body.spec.kind !== spec.kind) throw new CtlError(`spec.kind is fixed at registration (is ${String(existing.body.spec.kind)}, file says ${spec.kind}); delete and re-register the zone to change it`);
  const patched = await client.request('PATCH', `/zones/${doc.name}`, { region: spec.region, location: spec.location, labels: metadata.labels ?? {} }, { headers: preconditionOf(doc.doc) });
  return outcomeOf(patched.headers.get('meshfed-write'));
}

/** A zone token is shown once: into a mode-600 file when --token-dir is given, else on the terminal. */
export async function deliverZoneToken(zone: string, token: string, options: Pick<ApplyOptions, 'tokenDir'>): Promise<string> {
  if (!options.tokenDir) return `zone token (shown once, keep it secret): ${token}`;
  await mkdir(options.tokenDir, { recursive: true, mode: 0o700 });
  const path = join(options.tokenDir, `${zone}.token`);
  await writeFile(path, `${token}\n`, { mode: 0o600 });
  await chmod(path, 0o600);
  return `zone token written to ${path}`;
}

async function applyTenant(client: ApiClient, doc: ManifestDocument): Promise<string> {
  const { metadata, spec } = doc.doc as { metadata: { labels?: Record<string, string> }; spec: { zones?: string[]; quotas?: Record<string, number>; trustDomain?: string } };
  const existing = await client.request<StoredResource>('GET', `/tenants/${doc.name}`, undefined, { allow: [404] });
  if (existing.status === 404) {
    await client.request('POST', '/tenants', { name: doc.name, ...spec, labels: metadata.labels ?? {} });
    return 'created';
  }
  if (spec.trustDomain !== undefined && spec.trustDomain !== existing.body.spec.trustDomain) {
    throw new CtlError(`spec.trustDomain is fixed at creation (is ${String(existing.body.spec.trustDomain)}, file says ${spec.trustDomain})`);
  }
  const patch = { zones: spec.zones ?? [], labels: metadata.labels ?? {}, ...(spec.quotas ? { quotas: spec.quotas } : {}) };
  const patched = await client.request('PATCH', `/tenants/${doc.name}`, patch, { headers: preconditionOf(doc.doc) });
  return outcomeOf(patched.headers.get('meshfed-write'));
}

async function applyPolicy(client: ApiClient, doc: ManifestDocument): Promise<string> {
  const response = await client.request('PUT', `/tenants/${doc.tenant!}/policies/${doc.kind}/${doc.name}`, doc.doc);
  return outcomeOf(response.headers.get('meshfed-write'));
}

/** Deletes documents in reverse dependency order; a document already gone counts as deleted. */
export async function deleteDocuments(client: ApiClient, docs: ManifestDocument[], options: ApplyOptions): Promise<number> {
  return forEachDocument(applyOrder(docs).reverse(), options, async (doc) => {
    const path = doc.kind === 'Zone' ? `/zones/${doc.name}` : doc.kind === 'Tenant' ? `/tenants/${doc.name}` : `/tenants/${doc.tenant!}/policies/${doc.kind}/${doc.name}`;
    const response = await client.request('DELETE', path, undefined, { allow: [404] });
    return response.status === 404 ? 'not found' : 'deleted';
  });
}
