import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { TSchema } from '@sinclair/typebox';
import { parseAllDocuments } from 'yaml';
import { API_VERSION } from '../../core/schemas/common.js';
import { POLICY_KIND_NAMES, isPolicyKind, policyInputSchema, type PolicyKind } from '../../core/schemas/policies/index.js';
import { TenantDocumentInput } from '../../core/schemas/tenant.js';
import { ZoneDocumentInput } from '../../core/schemas/zone.js';
import { usageError } from './errors.js';

export type DocumentKind = 'Zone' | 'Tenant' | PolicyKind;

export interface ManifestDocument {
  /** "file.yaml#2": where the document came from, for messages. */
  source: string;
  kind: DocumentKind;
  name: string;
  /** Policies only: metadata.tenant, or the default tenant. */
  tenant?: string;
  doc: Record<string, unknown>;
}

const KINDS = ['Zone', 'Tenant', ...POLICY_KIND_NAMES];
const checkers = new Map<string, TypeCheck<TSchema>>();

function checkerFor(kind: DocumentKind): TypeCheck<TSchema> {
  let checker = checkers.get(kind);
  if (!checker) {
    const schema = kind === 'Zone' ? ZoneDocumentInput : kind === 'Tenant' ? TenantDocumentInput : policyInputSchema(kind);
    checker = TypeCompiler.Compile(schema);
    checkers.set(kind, checker);
  }
  return checker;
}

/**
 * Parses a multi-document YAML or JSON text and validates every document
 * against the same schemas the API uses. Throws with every problem found, so
 * nothing is sent when any document is wrong.
 */
export function parseManifest(text: string, fileName: string, defaultTenant?: string): ManifestDocument[] {
  const problems: string[] = [];
  const docs: ManifestDocument[] = [];
  const parsed = parseAllDocuments(text, { prettyErrors: true });
  const list = Array.isArray(parsed) ? parsed : [parsed];
  list.forEach((yamlDoc, i) => {
    const source = `${fileName}#${i + 1}`;
    if (yamlDoc.errors.length) {
      problems.push(`${source}: ${yamlDoc.errors[0]!.message.split('\n')[0]}`);
      return;
    }
    const value: unknown = yamlDoc.toJS();
    if (value === null || value === undefined) return; // an empty document between separators
    for (const item of Array.isArray(value) ? value : isList(value) ? value.items : [value]) {
      const result = checkDocument(item, source, defaultTenant);
      if ('problems' in result) problems.push(...result.problems);
      else docs.push(result);
    }
  });
  if (problems.length) throw usageError(`${fileName}: ${problems.length} problem${problems.length > 1 ? 's' : ''} found; nothing was applied`, problems);
  if (!docs.length) throw usageError(`${fileName}: no documents found`);
  return docs;
}

function isList(value: unknown): value is { items: unknown[] } {
  return typeof value === 'object' && value !== null && Array.isArray((value as { items?: unknown }).items) && !('kind' in value);
}

function checkDocument(value: unknown, source: string, defaultTenant?: string): ManifestDocument | { problems: string[] } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { problems: [`${source}: a document must be a mapping`] };
  const doc = value as Record<string, unknown>;
  const kind = doc.kind;
  if (typeof kind !== 'string' || !KINDS.includes(kind)) {
    return { problems: [`${source}: /kind: must be one of ${KINDS.join(', ')} (got ${JSON.stringify(kind)})`] };
  }
  const where = `${source} (${kind})`;
  if (doc.apiVersion !== API_VERSION) return { problems: [`${where}: /apiVersion: must be ${API_VERSION}`] };
  const metadata = (doc.metadata ?? {}) as Record<string, unknown>;
  if (typeof metadata.name !== 'string') return { problems: [`${where}: /metadata/name: is required`] };
  const problems = [...checkerFor(kind as DocumentKind).Errors(doc)].slice(0, 20).map((e) => `${where} ${String(metadata.name)}: ${e.path || '/'}: ${e.message}`);
  if (problems.length) return { problems };
  const result: ManifestDocument = { source, kind: kind as DocumentKind, name: metadata.name, doc };
  if (isPolicyKind(kind)) {
    const tenant = typeof metadata.tenant === 'string' ? metadata.tenant : defaultTenant;
    if (!tenant) return { problems: [`${where} ${metadata.name}: /metadata/tenant: is required (or pass --tenant)`] };
    result.tenant = tenant;
  }
  return result;
}

/** Zones before the tenants placed in them, tenants before their policies; deletes go the other way. */
export function applyOrder(docs: ManifestDocument[]): ManifestDocument[] {
  const rank = (d: ManifestDocument) => (d.kind === 'Zone' ? 0 : d.kind === 'Tenant' ? 1 : 2);
  return docs.map((d, i) => ({ d, i })).sort((a, b) => rank(a.d) - rank(b.d) || a.i - b.i).map(({ d }) => d);
}
