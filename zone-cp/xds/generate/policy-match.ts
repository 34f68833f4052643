import type {
  CircuitBreakerSpec,
  LocalityFailoverSpec,
  PolicyDocument,
  PolicyKind,
  RetrySpec,
  TimeoutSpec,
  TrafficPermissionSpec,
  TrafficRouteSpec,
} from '../../../core/schemas/policies/index.js';
import { POLICY_KIND_NAMES } from '../../../core/schemas/policies/index.js';

export interface PolicySpecs {
  TrafficRoute: TrafficRouteSpec;
  Retry: RetrySpec;
  Timeout: TimeoutSpec;
  CircuitBreaker: CircuitBreakerSpec;
  LocalityFailover: LocalityFailoverSpec;
  TrafficPermission: TrafficPermissionSpec;
}

/** A policy document with its spec typed by kind. */
export interface MatchedPolicy<K extends PolicyKind> {
  name: string;
  kind: K;
  /** Changes whenever the document does: a cheap identity for caches. */
  resourceVersion: string;
  spec: PolicySpecs[K];
}

/** The policy of every kind that applies to one destination service; absent kinds have none. */
export type ServicePolicies = { [K in PolicyKind]?: MatchedPolicy<K> };

export interface ServiceRef {
  name: string;
  namespace: string;
}

interface KindIndex {
  tenantWide?: PolicyDocument;
  byService: Map<string, PolicyDocument>;
}

/** Policies indexed for O(1) lookups per service: 1,000 services × 1,000 policies must not be a scan per service. */
export type PolicyIndex = ReadonlyMap<PolicyKind, KindIndex>;

const serviceKey = (namespace: string, name: string) => `${namespace}/${name}`;

/**
 * Indexes a tenant's policies. Per kind, a Service targetRef beats a
 * tenant-wide one; among policies targeting the same thing, the first by
 * name wins, so the outcome never depends on the order documents arrived in.
 */
export function buildPolicyIndex(policies: readonly PolicyDocument[]): PolicyIndex {
  const index = new Map<PolicyKind, KindIndex>(POLICY_KIND_NAMES.map((k) => [k, { byService: new Map() }]));
  const sorted = [...policies].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0));
  for (const policy of sorted) {
    const kindIndex = index.get(policy.kind);
    const targetRef = (policy.spec as { targetRef?: { kind?: string; name?: string; namespace?: string } }).targetRef;
    if (!kindIndex || !targetRef) continue;
    if (targetRef.kind === 'Tenant') kindIndex.tenantWide ??= policy;
    else if (targetRef.kind === 'Service' && targetRef.name && targetRef.namespace) {
      const key = serviceKey(targetRef.namespace, targetRef.name);
      if (!kindIndex.byService.has(key)) kindIndex.byService.set(key, policy);
    }
  }
  return index;
}

/** The policy of `kind` that applies to `service`, if any. */
export function matchPolicy<K extends PolicyKind>(index: PolicyIndex, kind: K, service: ServiceRef): MatchedPolicy<K> | undefined {
  const kindIndex = index.get(kind);
  const document = kindIndex?.byService.get(serviceKey(service.namespace, service.name)) ?? kindIndex?.tenantWide;
  if (!document) return undefined;
  return { name: document.metadata.name, kind, resourceVersion: document.metadata.resourceVersion, spec: document.spec as unknown as PolicySpecs[K] };
}

/** Every kind's applicable policy for one service. */
export function policiesFor(index: PolicyIndex, service: ServiceRef): ServicePolicies {
  const result: Record<string, MatchedPolicy<PolicyKind>> = {};
  for (const kind of POLICY_KIND_NAMES) {
    const matched = matchPolicy(index, kind, service);
    if (matched) result[kind] = matched;
  }
  return result;
}
