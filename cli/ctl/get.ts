import type { ApiClient } from './client.js';
import { usageError } from './errors.js';
import { age, formatLabels, renderDocuments, renderTable, type Column, type OutputFormat } from './output.js';
import { POLICY_KIND_NAMES, isPolicyKind } from '../../core/schemas/policies/index.js';

interface Doc {
  kind: string;
  metadata: { name: string; tenant?: string; labels?: Record<string, string>; resourceVersion: string; generation: number; creationTimestamp: string };
  spec: Record<string, unknown>;
  status?: { state?: string; lastSeen?: string | null; policies?: number; revision?: number };
}

interface TokenInfo {
  id: string;
  role: string;
  description: string;
  createdAt: string;
  expiresAt: string;
}

export type ResourceType = 'zones' | 'tenants' | 'tokens' | 'policies';

const ALIASES: Record<string, ResourceType> = {
  zone: 'zones', zones: 'zones',
  tenant: 'tenants', tenants: 'tenants',
  token: 'tokens', tokens: 'tokens',
  policy: 'policies', policies: 'policies',
};

export function resourceType(word: string): ResourceType {
  const type = ALIASES[word.toLowerCase()];
  if (!type) throw usageError(`unknown resource type "${word}"; one of zones, tenants, tokens, policies`);
  return type;
}

export function requireTenant(tenant: string | undefined): string {
  if (!tenant) throw usageError('this needs a tenant: pass --tenant NAME, set MESHFED_TENANT, or put tenant: in the config file');
  return tenant;
}

export function requirePolicyKind(kind: string): string {
  const match = POLICY_KIND_NAMES.find((k) => k.toLowerCase() === kind.toLowerCase());
  if (!match || !isPolicyKind(match)) throw usageError(`unknown policy kind "${kind}"; one of ${POLICY_KIND_NAMES.join(', ')}`);
  return match;
}

const zoneColumns: Column<Doc>[] = [
  { header: 'NAME', value: (d) => d.metadata.name },
  { header: 'REGION', value: (d) => String(d.spec.region) },
  { header: 'LOCATION', value: (d) => String(d.spec.location) },
  { header: 'KIND', value: (d) => String(d.spec.kind) },
  { header: 'STATE', value: (d) => d.status?.state ?? '-' },
  { header: 'LAST SEEN', value: (d) => age(d.status?.lastSeen) },
  { header: 'AGE', value: (d) => age(d.metadata.creationTimestamp) },
];

const tenantColumns: Column<Doc>[] = [
  { header: 'NAME', value: (d) => d.metadata.name },
  { header: 'TRUST DOMAIN', value: (d) => String(d.spec.trustDomain) },
  { header: 'ZONES', value: (d) => (d.spec.zones as string[]).join(',') || '<none>' },
  { header: 'POLICIES', value: (d) => `${String(d.status?.policies)}/${String((d.spec.quotas as { maxPolicies: number }).maxPolicies)}` },
  { header: 'REVISION', value: (d) => String(d.status?.revision) },
  { header: 'AGE', value: (d) => age(d.metadata.creationTimestamp) },
];

const policyColumns: Column<Doc>[] = [
  { header: 'KIND', value: (d) => d.kind },
  { header: 'NAME', value: (d) => d.metadata.name },
  { header: 'TARGET', value: (d) => describeTarget(d.spec.targetRef as { kind: string; name?: string; namespace?: string }) },
  { header: 'LABELS', value: (d) => formatLabels(d.metadata.labels) },
  { header: 'VERSION', value: (d) => d.metadata.resourceVersion },
  { header: 'AGE', value: (d) => age(d.metadata.creationTimestamp) },
];

const tokenColumns: Column<TokenInfo>[] = [
  { header: 'ID', value: (t) => t.id },
  { header: 'ROLE', value: (t) => t.role },
  { header: 'EXPIRES', value: (t) => t.expiresAt },
  { header: 'DESCRIPTION', value: (t) => t.description || '-' },
];

function describeTarget(ref: { kind: string; name?: string; namespace?: string } | undefined): string {
  if (!ref) return '-';
  return ref.kind === 'Service' ? `${ref.name}.${ref.namespace}` : 'tenant';
}

export interface GetRequest {
  type: ResourceType;
  args: string[];
  tenant?: string;
  selector?: string;
  output: OutputFormat;
}

/** Fetches what `get` asks for and renders it; returns the text to print. */
export async function getResources(client: ApiClient, request: GetRequest): Promise<string> {
  const { type, args, output } = request;
  switch (type) {
    case 'zones':
    case 'tenants': {
      if (args.length > 1) throw usageError(`get ${type} takes at most one name`);
      const path = `/${type}${args[0] ? `/${args[0]}` : ''}`;
      const items = args[0] ? [(await client.request<Doc>('GET', path)).body] : (await client.request<{ items: Doc[] }>('GET', path)).body.items;
      return render(items, type === 'zones' ? zoneColumns : tenantColumns, output, Boolean(args[0]), `No ${type} found.`);
    }
    case 'tokens': {
      const tenant = requireTenant(request.tenant);
      const items = (await client.request<{ items: TokenInfo[] }>('GET', `/tenants/${tenant}/tokens`)).body.items;
      return render(items, tokenColumns, output, false, `No tokens in tenant ${tenant}.`);
    }
    case 'policies': {
      const tenant = requireTenant(request.tenant);
      if (args.length > 2) throw usageError('get policies takes at most KIND and NAME');
      const kind = args[0] ? requirePolicyKind(args[0]) : undefined;
      if (kind && args[1]) {
        const doc = (await client.request<Doc>('GET', `/tenants/${tenant}/policies/${kind}/${args[1]}`)).body;
        return render([doc], policyColumns, output, true, '');
      }
      const query = new URLSearchParams();
      if (kind) query.set('kind', kind);
      if (request.selector) query.set('labelSelector', request.selector);
      const qs = query.size ? `?${query.toString()}` : '';
      const items = (await client.request<{ items: Doc[] }>('GET', `/tenants/${tenant}/policies${qs}`)).body.items;
      return render(items, policyColumns, output, false, `No policies found in tenant ${tenant}.`);
    }
  }
}

function render<T>(items: T[], columns: Column<T>[], output: OutputFormat, single: boolean, empty: string): string {
  if (output !== 'table') return renderDocuments(items, output, single);
  return items.length ? renderTable(items, columns) : empty;
}
