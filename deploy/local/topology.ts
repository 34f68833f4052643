/**
 * Reading a `meshfed up` topology: the file against its schema, the rules a
 * schema cannot say (unique names, clients calling something that runs,
 * ports a sidecar can use), and the agreement between the topology and the
 * manifests it applies (regions, tenant placement). Every problem names
 * the field: `topology.yaml: /zones/1/region: must be a DNS-1123 label …`.
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { parseAllDocuments } from 'yaml';
import { ConfigError } from '../../core/errors.js';
import { DNS1123_LABEL_PATTERN } from '../../core/schemas/common.js';
import { parseManifest, type ManifestDocument } from '../../cli/ctl/documents.js';
import { CtlError } from '../../cli/ctl/errors.js';
import { CALL_TARGET_PATTERN, Topology, type TopologyClient } from './topology-schema.js';

export interface Problem {
  /** JSON pointer into the topology, or a manifest's `file#n`. */
  path: string;
  message: string;
}

export const DEFAULT_CLIENT_PORT = 9000;
export const DEFAULT_CLIENT_RATE = 20;
export const DEFAULT_LOOPBACK_PREFIX = '127.77';
/** Workloads (service instances + clients) one zone can have: one loopback address each, .1 to .254. */
export const MAX_WORKLOADS_PER_ZONE = 254;

const checkTopology = TypeCompiler.Compile(Topology);

/** What a client calls, from `<service>.<namespace>:<port>`. Pure. */
export function callTarget(client: Pick<TopologyClient, 'calls'>): { service: string; namespace: string; port: number } {
  const match = new RegExp(CALL_TARGET_PATTERN).exec(client.calls);
  if (!match) throw new Error(`not a call target: ${client.calls}`);
  return { service: match[1]!, namespace: match[3]!, port: Number(match[5]) };
}

/** A schema error as a person would put it. Pure. */
export function describeValueError(error: ValueError): string {
  if (error.type === ValueErrorType.ObjectRequiredProperty) return 'is required';
  if (error.type === ValueErrorType.ObjectAdditionalProperties) {
    // A map (labels, tags) refuses a key that does not match its key pattern the same way.
    if ((error.schema as { patternProperties?: unknown }).patternProperties) return 'is not a valid label key (e.g. version, app.kubernetes.io/name)';
    const known = Object.keys((error.schema as { properties?: Record<string, unknown> }).properties ?? {});
    return known.length ? `unknown field (known: ${known.join(', ')})` : 'unknown field';
  }
  const schema = error.schema as { errorMessage?: unknown; pattern?: unknown; anyOf?: Array<{ const?: unknown }> };
  if (typeof schema.errorMessage === 'string') return schema.errorMessage;
  if (schema.pattern === DNS1123_LABEL_PATTERN) return 'must be a DNS-1123 label (lowercase letters, digits and "-", at most 63 characters)';
  if (error.type === ValueErrorType.Union && schema.anyOf?.every((s) => s.const !== undefined)) return `must be one of ${schema.anyOf.map((s) => JSON.stringify(s.const)).join(', ')}`;
  switch (error.type) {
    case ValueErrorType.Array:
      return 'must be a list';
    case ValueErrorType.Object:
      return 'must be a mapping';
    case ValueErrorType.String:
      return 'must be a string';
    case ValueErrorType.Integer:
      return 'must be a whole number';
    case ValueErrorType.Number:
      return 'must be a number';
    case ValueErrorType.Boolean:
      return 'must be true or false';
    case ValueErrorType.ArrayMaxItems:
      return `must have at most ${String((error.schema as { maxItems?: number }).maxItems)} items`;
    default:
      return error.message.replace(/^Expected /, 'must be ');
  }
}

/** Schema problems, one per field (the first said about it). Pure. */
export function schemaProblems(value: unknown): Problem[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [{ path: '/', message: 'must be a mapping (zones: …, manifests: …)' }];
  const problems: Problem[] = [];
  const seen = new Set<string>();
  for (const error of checkTopology.Errors(value)) {
    const path = error.path || '/';
    if (seen.has(path)) continue;
    seen.add(path);
    problems.push({ path, message: describeValueError(error) });
  }
  return problems;
}

/** What the schema cannot check: unique names, what clients call, addresses and ports. Pure; `topology` must have passed the schema. */
export function semanticProblems(topology: Topology): Problem[] {
  const problems: Problem[] = [];
  const zoneAt = new Map<string, number>();
  const services = new Map<string, Array<{ zone: string; port: number }>>();
  const key = (tenant: string, namespace: string, name: string) => `${tenant}/${namespace}/${name}`;
  topology.zones.forEach((zone, z) => {
    const first = zoneAt.get(zone.name);
    if (first !== undefined) problems.push({ path: `/zones/${z}/name`, message: `zone "${zone.name}" is already listed at /zones/${first}` });
    else zoneAt.set(zone.name, z);
    const inZone = new Map<string, string>();
    const unique = (path: string, id: string, what: string) => {
      const earlier = inZone.get(id);
      if (earlier) problems.push({ path, message: `${what} is already listed at ${earlier}` });
      else inZone.set(id, path);
    };
    (zone.services ?? []).forEach((service, s) => {
      const id = key(service.tenant, service.namespace, service.name);
      unique(`/zones/${z}/services/${s}/name`, id, `service ${id}`);
      services.set(id, [...(services.get(id) ?? []), { zone: zone.name, port: service.port }]);
    });
    (zone.clients ?? []).forEach((client, c) => {
      const id = key(client.tenant, client.namespace, client.service);
      unique(`/zones/${z}/clients/${c}/service`, id, `client ${id}`);
    });
    const workloads = (zone.services ?? []).reduce((n, s) => n + s.instances, 0) + (zone.clients ?? []).length;
    if (workloads > MAX_WORKLOADS_PER_ZONE) problems.push({ path: `/zones/${z}`, message: `${workloads} workloads (instances and clients); at most ${MAX_WORKLOADS_PER_ZONE} per zone` });
  });
  topology.zones.forEach((zone, z) => {
    (zone.services ?? []).forEach((service, s) => {
      const ports = new Set((services.get(key(service.tenant, service.namespace, service.name)) ?? []).map((p) => p.port));
      if (ports.size > 1) problems.push({ path: `/zones/${z}/services/${s}/port`, message: `${service.namespace}/${service.name} of tenant ${service.tenant} has ports ${[...ports].join(' and ')} in different zones; one service has one port here` });
    });
    (zone.clients ?? []).forEach((client, c) => {
      const path = `/zones/${z}/clients/${c}`;
      const target = callTarget(client);
      const runs = services.get(key(client.tenant, target.namespace, target.service)) ?? [];
      if (!runs.some((r) => r.port === target.port)) {
        const ports = [...new Set(runs.map((r) => r.port))];
        problems.push({
          path: `${path}/calls`,
          message: ports.length
            ? `${target.service}.${target.namespace} of tenant ${client.tenant} listens on ${ports.join(', ')}, not ${target.port}`
            : `no zone runs ${target.service}.${target.namespace} for tenant ${client.tenant}`,
        });
      }
      const own = client.port ?? DEFAULT_CLIENT_PORT;
      if (own === target.port) {
        problems.push({
          path: `${path}/port`,
          message: `${client.port === undefined ? `the default ${DEFAULT_CLIENT_PORT}` : String(own)} is the port it calls: a sidecar on a loopback workload address gets no outbound listener on its own inbound port; set another port`,
        });
      }
      if (services.has(key(client.tenant, client.namespace, client.service))) {
        problems.push({ path: `${path}/service`, message: `${client.namespace}/${client.service} of tenant ${client.tenant} also runs echo instances; a client needs a service name of its own` });
      }
    });
  });
  return problems;
}

/** Zones and tenants the manifests declare, with where. */
export interface ManifestFacts {
  zones: Map<string, { region: string; location: string; source: string }>;
  tenants: Map<string, { zones: string[]; source: string }>;
}

export function manifestFacts(docs: ManifestDocument[]): ManifestFacts {
  const facts: ManifestFacts = { zones: new Map(), tenants: new Map() };
  for (const doc of docs) {
    if (doc.kind === 'Zone') {
      const spec = doc.doc.spec as { region: string; location: string };
      facts.zones.set(doc.name, { region: spec.region, location: spec.location, source: doc.source });
    } else if (doc.kind === 'Tenant') {
      const spec = (doc.doc.spec ?? {}) as { zones?: string[] };
      facts.tenants.set(doc.name, { zones: spec.zones ?? [], source: doc.source });
    }
  }
  return facts;
}

/** Whether the topology and its manifests agree: regions, and every workload's tenant placed in its zone. Pure. */
export function placementProblems(topology: Topology, facts: ManifestFacts): Problem[] {
  const problems: Problem[] = [];
  const running = new Set(topology.zones.map((z) => z.name));
  topology.zones.forEach((zone, z) => {
    const declared = facts.zones.get(zone.name);
    if (declared && declared.region !== zone.region) {
      problems.push({ path: `/zones/${z}/region`, message: `is "${zone.region}" but ${declared.source} registers ${zone.name} in region "${declared.region}"` });
    }
    if (declared && zone.location !== undefined && declared.location !== zone.location) {
      problems.push({ path: `/zones/${z}/location`, message: `is "${zone.location}" but ${declared.source} registers ${zone.name} at "${declared.location}"` });
    }
    const workloads: Array<[string, string]> = [
      ...(zone.services ?? []).map((s, i): [string, string] => [`/zones/${z}/services/${i}/tenant`, s.tenant]),
      ...(zone.clients ?? []).map((c, i): [string, string] => [`/zones/${z}/clients/${i}/tenant`, c.tenant]),
    ];
    for (const [path, tenant] of workloads) {
      const placed = facts.tenants.get(tenant);
      if (!placed) problems.push({ path, message: `tenant "${tenant}" is not created by any manifest (list one under manifests:)` });
      else if (!placed.zones.includes(zone.name)) {
        problems.push({ path, message: `tenant "${tenant}" is not placed in ${zone.name} (${placed.source} places it in ${placed.zones.join(', ') || 'no zone'})` });
      }
    }
  });
  for (const [tenant, { zones, source }] of facts.tenants) {
    for (const zone of zones) {
      if (!running.has(zone) && !facts.zones.has(zone)) problems.push({ path: source, message: `tenant ${tenant} is placed in ${zone}, which neither the topology nor a manifest declares` });
    }
  }
  return problems;
}

/** One ConfigError for a list of problems: one line for one, a list for several. */
export function problemsError(source: string, problems: Problem[]): ConfigError {
  if (problems.length === 1) return new ConfigError(`${source}: ${problems[0]!.path}: ${problems[0]!.message}`);
  return new ConfigError([`${source}: ${problems.length} problems:`, ...problems.map((p) => `  ${p.path}: ${p.message}`)].join('\n'));
}

/** Parses and checks a topology file's text (without its manifests). Pure; throws a ConfigError naming every wrong field. */
export function parseTopology(text: string, source: string): Topology {
  const documents = parseAllDocuments(text);
  const list = Array.isArray(documents) ? documents : [documents];
  if (list.length > 1) throw new ConfigError(`${source}: one YAML document expected, found ${list.length}`);
  const yamlDoc = list[0];
  const error = yamlDoc?.errors[0];
  if (error) throw new ConfigError(`${source}: not valid YAML: ${error.message.split('\n')[0]!.replace(/:$/, '')}`);
  const value: unknown = yamlDoc?.toJS() ?? null;
  const problems = schemaProblems(value);
  if (problems.length) throw problemsError(source, problems);
  const topology = value as Topology;
  const semantic = semanticProblems(topology);
  if (semantic.length) throw problemsError(source, semantic);
  return topology;
}

export interface LoadedTopology {
  topology: Topology;
  /** The file as given, for messages. */
  source: string;
  path: string;
  /** The manifests' documents, in file order. */
  documents: ManifestDocument[];
  facts: ManifestFacts;
  /** Things worth saying that are not errors. */
  notes: string[];
}

/** Reads a topology file and the manifests it names, and checks them together. Throws a ConfigError. */
export async function loadTopology(path: string, cwd = process.cwd()): Promise<LoadedTopology> {
  const absolute = resolve(cwd, path);
  const source = displayPath(absolute, cwd);
  const text = await readText(absolute, `cannot read the topology file ${source}`);
  const topology = parseTopology(text, source);
  const documents: ManifestDocument[] = [];
  for (const [i, manifest] of (topology.manifests ?? []).entries()) {
    const file = isAbsolute(manifest) ? manifest : resolve(dirname(absolute), manifest);
    const name = displayPath(file, cwd);
    const manifestText = await readText(file, `${source}: /manifests/${i}: cannot read ${name}`);
    try {
      documents.push(...parseManifest(manifestText, name));
    } catch (error) {
      if (error instanceof CtlError) throw new ConfigError([`${source}: /manifests/${i}: ${error.message}`, ...error.lines.map((l) => `  ${l}`)].join('\n'));
      throw error;
    }
  }
  const facts = manifestFacts(documents);
  const problems = placementProblems(topology, facts);
  if (problems.length) throw problemsError(source, problems);
  const running = new Set(topology.zones.map((z) => z.name));
  const notes = [...facts.zones.keys()].filter((z) => !running.has(z)).map((z) => `zone ${z} is registered (${facts.zones.get(z)!.source}) but not run by this topology: it stays offline`);
  return { topology, source, path: absolute, documents, facts, notes };
}

function displayPath(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`${what}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}
