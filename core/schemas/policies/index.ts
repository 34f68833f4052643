import { Type, type Static, type TObject } from '@sinclair/typebox';
import { API_VERSION, InputMetadata, StoredMetadata, Strict } from '../common.js';
import { CircuitBreakerSpec, checkCircuitBreaker } from './circuit-breaker.js';
import { checkTargetRef, type PolicyContext, type ValidationIssue } from './issues.js';
import { LocalityFailoverSpec, checkLocalityFailover } from './locality-failover.js';
import { RetrySpec, checkRetry } from './retry.js';
import { TimeoutSpec, checkTimeout } from './timeout.js';
import { TrafficPermissionSpec, checkTrafficPermission } from './traffic-permission.js';
import { TrafficRouteSpec, checkTrafficRoute } from './traffic-route.js';

export type { PolicyContext, ValidationIssue } from './issues.js';
export type { CircuitBreakerSpec, LocalityFailoverSpec, RetrySpec, TimeoutSpec, TrafficPermissionSpec, TrafficRouteSpec };

interface PolicyKindDefinition {
  spec: TObject;
  description: string;
  /** Semantic checks the schema cannot express; the spec has already passed the schema. */
  check: (spec: never, ctx: PolicyContext) => ValidationIssue[];
}

/** Every tenant-scoped policy kind: its spec schema and its semantic checks. */
export const POLICY_KINDS = {
  TrafficRoute: { spec: TrafficRouteSpec, check: checkTrafficRoute, description: 'HTTP matches and weighted splits across versions/subsets.' },
  Retry: { spec: RetrySpec, check: checkRetry, description: 'Retry attempts, per-try timeout, conditions, jittered back-off, budget.' },
  Timeout: { spec: TimeoutSpec, check: checkTimeout, description: 'Connect, request and idle timeouts.' },
  CircuitBreaker: { spec: CircuitBreakerSpec, check: checkCircuitBreaker, description: 'Bulkhead thresholds and outlier detection.' },
  LocalityFailover: { spec: LocalityFailoverSpec, check: checkLocalityFailover, description: 'Zone → region → anywhere preference and cross-region failover order.' },
  TrafficPermission: { spec: TrafficPermissionSpec, check: checkTrafficPermission, description: 'Allow/deny by source SPIFFE identity.' },
} satisfies Record<string, PolicyKindDefinition>;

export type PolicyKind = keyof typeof POLICY_KINDS;
export const POLICY_KIND_NAMES = Object.keys(POLICY_KINDS) as PolicyKind[];

export function isPolicyKind(kind: string): kind is PolicyKind {
  return Object.hasOwn(POLICY_KINDS, kind);
}

/** The request body of PUT .../policies/<kind>/<name>: a document whose kind and name may be omitted. */
export function policyInputSchema(kind: PolicyKind) {
  return Strict(
    {
      apiVersion: Type.Optional(Type.Literal(API_VERSION)),
      kind: Type.Optional(Type.Literal(kind)),
      metadata: Type.Optional(InputMetadata),
      spec: POLICY_KINDS[kind].spec,
    },
    `${kind} policy document. ${POLICY_KINDS[kind].description}`,
  );
}

export const PolicyDocument = Type.Object({
  apiVersion: Type.Literal(API_VERSION),
  kind: Type.Union(POLICY_KIND_NAMES.map((k) => Type.Literal(k))),
  metadata: StoredMetadata,
  spec: Type.Record(Type.String(), Type.Unknown()),
});
export type PolicyDocument = Static<typeof PolicyDocument>;

export function checkPolicySemantics(kind: PolicyKind, spec: unknown, ctx: PolicyContext): ValidationIssue[] {
  const check = POLICY_KINDS[kind].check as (spec: unknown, ctx: PolicyContext) => ValidationIssue[];
  const targetRef = (spec as { targetRef: Parameters<typeof checkTargetRef>[0] }).targetRef;
  return [...checkTargetRef(targetRef), ...check(spec, ctx)];
}
