import { isIP } from 'node:net';
import type { InventoryService, InventorySubsetLocality } from '../../../core/schemas/federation.js';
import { workloadSpiffeId } from '../../../core/spiffe.js';
import { subsetKey } from '../../../core/xds/names.js';
import type { LocalEndpoint } from '../../discovery/model.js';
import type { TenantSnapshot } from './input.js';
import { subsetSniLabel } from './names.js';
import type { GenerationWarning } from './output.js';
import { buildPolicyIndex, policiesFor, type PolicyIndex, type ServicePolicies } from './policy-match.js';
import { catalogueKey, compare, serviceCatalogue, type CatalogService } from './services.js';

/** A TrafficRoute subset of a service: endpoints carrying all these tags. */
export interface Subset {
  tags: Record<string, string>;
  /** subsetKey(tags): canonical `k=v,...`. */
  key: string;
  /** The `<subset>.` label of the ingress SNI. */
  sniLabel: string;
}

/** What a remote zone reports of one service, with its ingress resolved. */
export interface RemoteService {
  zone: string;
  /** The zone's ingress; absent when it reports none or not an IP literal (the service is then unreachable there). */
  ingress?: { address: string; port: number };
  ports: number[];
  localities: InventoryService['localities'];
  /**
   * Its healthy endpoints by subset tags (localities it does not list have
   * none); absent when the zone reports no subset counts (a zone CP that
   * predates them, a services file).
   */
  subsets?: { tagKeys: readonly string[]; localities: readonly InventorySubsetLocality[] };
}

/**
 * Everything generation reads about one destination service, resolved once.
 * Immutable: buildTenantModel hands back the previous object when nothing of
 * the service changed, so callers may cache per service by object identity.
 */
export interface ServiceModel extends CatalogService {
  key: string;
  /** This zone's endpoints of the service, by instance; IP literals only. */
  local: readonly LocalEndpoint[];
  /** By zone. */
  remote: readonly RemoteService[];
  policies: ServicePolicies;
  /** Subsets the TrafficRoute splits to, by key. */
  subsets: readonly Subset[];
  /** SPIFFE IDs of the local endpoints' service accounts, sorted: what upstream TLS accepts from local endpoints. */
  localIdentities: readonly string[];
}

export interface TenantModel {
  name: string;
  trustDomain: string;
  /** Sorted by namespace/name. */
  services: readonly ServiceModel[];
  byKey: ReadonlyMap<string, ServiceModel>;
  policies: PolicyIndex;
  warnings: readonly GenerationWarning[];
}

/**
 * Resolves a tenant snapshot into per-service models. With `previous`, every
 * service whose inputs are unchanged keeps its previous model object, so a
 * change to one service's endpoints invalidates only that service's
 * resources in any identity-keyed cache.
 */
export function buildTenantModel(input: TenantSnapshot, previous?: TenantModel): TenantModel {
  const snapshot = ownDataOnly(input);
  const warnings: GenerationWarning[] = [];
  const catalogue = serviceCatalogue(snapshot);
  warnings.push(...catalogue.warnings);
  const policies = buildPolicyIndex(snapshot.policies);
  const localByService = groupLocalEndpoints(snapshot, warnings);
  const remoteByService = groupRemoteServices(snapshot, warnings);
  const reusable = previous && previous.trustDomain === snapshot.trustDomain && previous.name === snapshot.name ? previous.byKey : undefined;

  const services = catalogue.services.map((service): ServiceModel => {
    const key = catalogueKey(service);
    const local = localByService.get(key) ?? [];
    const remote = remoteByService.get(key) ?? [];
    const servicePolicies = policiesFor(policies, service);
    const before = reusable?.get(key);
    if (before && sameInputs(before, service.ports, local, remote, servicePolicies)) return before;
    return {
      ...service,
      key,
      local,
      remote,
      policies: servicePolicies,
      subsets: subsetsOf(servicePolicies),
      localIdentities: [...new Set(local.map((e) => e.serviceAccount))].map((sa) => workloadSpiffeId(snapshot.trustDomain, service.namespace, sa)).sort(compare),
    };
  });
  return { name: snapshot.name, trustDomain: snapshot.trustDomain, services, byKey: new Map(services.map((s) => [s.key, s])), policies, warnings };
}

/**
 * A caller's slip must not leak another tenant's services into this one's
 * catalogue, so everything is filtered once, here. Endpoints are sorted here
 * too, so the later sorts run over sorted input (linear).
 */
function ownDataOnly(snapshot: TenantSnapshot): TenantSnapshot {
  return {
    ...snapshot,
    localEndpoints: snapshot.localEndpoints.filter((e) => e.tenant === snapshot.name).sort((a, b) => compare(a.instance, b.instance)),
    remoteInventories: snapshot.remoteInventories.filter((i) => i.tenant === snapshot.name),
  };
}

function groupLocalEndpoints(snapshot: TenantSnapshot, warnings: GenerationWarning[]): Map<string, LocalEndpoint[]> {
  const grouped = new Map<string, LocalEndpoint[]>();
  for (const endpoint of snapshot.localEndpoints) {
    if (!isIP(endpoint.address)) {
      warnings.push({ code: 'endpoint-not-ip', message: `endpoint ${endpoint.namespace}/${endpoint.service}/${endpoint.instance}: address "${endpoint.address}" is not an IP literal; left out` });
      continue;
    }
    const key = catalogueKey({ namespace: endpoint.namespace, name: endpoint.service });
    const group = grouped.get(key);
    if (group) group.push(endpoint);
    else grouped.set(key, [endpoint]);
  }
  return grouped;
}

function groupRemoteServices(snapshot: TenantSnapshot, warnings: GenerationWarning[]): Map<string, RemoteService[]> {
  const grouped = new Map<string, RemoteService[]>();
  const inventories = [...snapshot.remoteInventories].sort((a, b) => compare(a.zone, b.zone));
  for (const inventory of inventories) {
    const ingress = inventory.ingressAddress === null ? undefined : parseIngressAddress(inventory.ingressAddress);
    if (inventory.ingressAddress !== null && !ingress) {
      warnings.push({ code: 'ingress-not-ip', message: `zone ${inventory.zone}: ingress address "${inventory.ingressAddress}" is not an IP literal with a port; its endpoints are left out` });
    }
    const subsetLocalities = new Map((inventory.subsets?.services ?? []).map((s) => [catalogueKey(s), s.localities]));
    for (const service of inventory.services) {
      const key = catalogueKey(service);
      const subsets = inventory.subsets && { tagKeys: inventory.subsets.tagKeys, localities: subsetLocalities.get(key) ?? [] };
      const remote: RemoteService = { zone: inventory.zone, ...(ingress ? { ingress } : {}), ports: service.ports.map((p) => p.port), localities: service.localities, ...(subsets ? { subsets } : {}) };
      const group = grouped.get(key);
      if (group) group.push(remote);
      else grouped.set(key, [remote]);
    }
  }
  return grouped;
}

/**
 * Whether a service's inputs are those of its previous model. Runs for every
 * service on every change, so it compares by identity first (discovery and
 * the tenant view keep unchanged objects) and by content only when that
 * fails; policies compare by resourceVersion, which every write changes.
 */
function sameInputs(before: ServiceModel, ports: ServiceModel['ports'], local: readonly LocalEndpoint[], remote: readonly RemoteService[], policies: ServicePolicies): boolean {
  const samePorts = before.ports.length === ports.length && before.ports.every((p, i) => p.port === ports[i]!.port && p.protocol === ports[i]!.protocol && p.name === ports[i]!.name);
  const sameLocal = before.local.length === local.length && before.local.every((e, i) => e === local[i] || endpointFingerprint(e) === endpointFingerprint(local[i]!));
  const sameRemote = before.remote.length === remote.length && before.remote.every((r, i) => sameRemoteService(r, remote[i]!));
  const kinds = Object.keys(policies) as (keyof ServicePolicies)[];
  const samePolicies = kinds.length === Object.keys(before.policies).length && kinds.every((k) => before.policies[k]?.name === policies[k]!.name && before.policies[k]?.resourceVersion === policies[k]!.resourceVersion);
  return samePorts && sameLocal && sameRemote && samePolicies;
}

function sameRemoteService(a: RemoteService, b: RemoteService): boolean {
  return (
    a.zone === b.zone &&
    a.ingress?.address === b.ingress?.address &&
    a.ingress?.port === b.ingress?.port &&
    a.ports.join() === b.ports.join() &&
    (a.localities === b.localities || JSON.stringify(a.localities) === JSON.stringify(b.localities)) &&
    (a.subsets === b.subsets || JSON.stringify(a.subsets) === JSON.stringify(b.subsets))
  );
}

// Discovery sources that keep unchanged endpoint objects across updates make this O(changes).
const endpointFingerprints = new WeakMap<LocalEndpoint, string>();

function endpointFingerprint(e: LocalEndpoint): string {
  let text = endpointFingerprints.get(e);
  if (text === undefined) {
    const tags = Object.keys(e.tags).sort().map((k) => `${k}=${e.tags[k]}`).join(',');
    const ports = e.ports.map((p) => `${p.port}/${p.targetPort ?? ''}/${p.protocol ?? ''}/${p.name ?? ''}`).join(',');
    text = `${e.instance} ${e.address} ${e.serviceAccount} ${e.healthy} ${e.locality.region}/${e.locality.zone}/${e.locality.subzone ?? ''} ${ports} ${tags}`;
    endpointFingerprints.set(e, text);
  }
  return text;
}

/** `1.2.3.4:443` or `[2001:db8::1]:443`; anything else (host names included) is undefined: proxies only take IP literals. */
export function parseIngressAddress(text: string): { address: string; port: number } | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):([0-9]{1,5})$/.exec(text);
  if (!match) return undefined;
  const address = match[1] ?? match[2]!;
  const port = Number(match[3]);
  if (port < 1 || port > 65535) return undefined;
  if (match[1] !== undefined ? isIP(address) !== 6 : isIP(address) !== 4) return undefined;
  return { address, port };
}

function subsetsOf(policies: ServicePolicies): Subset[] {
  const found = new Map<string, Subset>();
  for (const rule of policies.TrafficRoute?.spec.rules ?? []) {
    for (const entry of rule.split) {
      const key = entry.tags ? subsetKey(entry.tags) : '';
      if (entry.weight > 0 && key && !found.has(key)) found.set(key, { tags: entry.tags!, key, sniLabel: subsetSniLabel(entry.tags!) });
    }
  }
  return [...found.values()].sort((a, b) => compare(a.key, b.key));
}

/** Whether tags carry every tag of a subset. */
export const tagsMatch = (tags: Record<string, string>, subset: Subset) => Object.entries(subset.tags).every(([k, v]) => Object.hasOwn(tags, k) && tags[k] === v);

/** Whether an endpoint belongs to a subset (no subset: the whole service). */
export const inSubset = (endpoint: LocalEndpoint, subset?: Subset) => !subset || tagsMatch(endpoint.tags, subset);
