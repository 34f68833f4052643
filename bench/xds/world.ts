/**
 * The synthetic world the xDS benchmark serves: one tenant, `services`
 * services (one gRPC port each), `endpoints` local endpoints over three
 * localities (availability zones) of the zone's region, remote inventories of
 * two other zones, and policies of every kind on some services. Deterministic:
 * the same flags always build the same world.
 */
import type { Locality } from '../../core/schemas/dataplane.js';
import type { ZoneInventory } from '../../core/schemas/federation.js';
import type { PolicyDocument } from '../../core/schemas/policies/index.js';
import type { LocalEndpoint } from '../../zone-cp/discovery/model.js';
import type { TenantView } from '../../zone-cp/sync/tenant-view.js';

export const TENANT = 'acme';
export const TRUST_DOMAIN = 'acme.mesh';
export const ZONE = 'zone-a';
export const REGION = 'eu-west';
/** The three localities of this zone's endpoints and proxies (a cluster spread over three availability zones). */
export const LOCAL_LOCALITIES: readonly Locality[] = ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'].map((zone) => ({ region: REGION, zone }));
export const NAMESPACES = 10;
/** Distinct service ports (sidecars get one outbound:<port> listener per distinct port). */
export const PORTS = 20;

export const namespaceOf = (service: number) => `ns-${String(service % NAMESPACES).padStart(2, '0')}`;
export const serviceName = (service: number) => `svc-${String(service).padStart(4, '0')}`;
export const servicePort = (service: number) => 8000 + (service % PORTS);

/** Endpoint j belongs to service j % services; its instance number k = ⌊j / services⌋ picks its locality and version. */
export function makeEndpoint(j: number, services: number): LocalEndpoint {
  const s = j % services;
  const k = Math.floor(j / services);
  const name = serviceName(s);
  const n = j + 1;
  return {
    tenant: TENANT,
    namespace: namespaceOf(s),
    service: name,
    instance: `${name}-${k}`,
    address: `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`,
    ports: [{ port: servicePort(s), protocol: 'grpc' }],
    serviceAccount: name,
    // One instance in five runs the canary version: the TrafficRoute subsets below have endpoints.
    tags: { app: name, version: k % 5 === 4 ? 'v2' : 'v1' },
    locality: LOCAL_LOCALITIES[k % LOCAL_LOCALITIES.length]!,
    // A few start unhealthy, as in any real fleet.
    healthy: j % 97 !== 13,
  };
}

export function makeEndpoints(endpoints: number, services: number): LocalEndpoint[] {
  return Array.from({ length: endpoints }, (_, j) => makeEndpoint(j, services));
}

/** zone-b (same region, other zone) reports every service; zone-c (another region) every other one. */
export function makeInventories(services: number): ZoneInventory[] {
  const report = (s: number, region: string, zone: string, endpoints: number, healthy: number) => ({
    namespace: namespaceOf(s),
    name: serviceName(s),
    ports: [{ port: servicePort(s), protocol: 'grpc' as const }],
    localities: [
      { region, zone: `${zone}-1`, endpoints, healthy },
      { region, zone: `${zone}-2`, endpoints, healthy: healthy - 1 },
    ],
  });
  const all = Array.from({ length: services }, (_, s) => s);
  return [
    { zone: 'zone-b', tenant: TENANT, ingressAddress: '192.0.2.20:10001', services: all.map((s) => report(s, REGION, 'eu-west-2', 5, 5)), publishedAt: '2026-01-01T00:00:00.000Z' },
    {
      zone: 'zone-c',
      tenant: TENANT,
      ingressAddress: '[2001:db8::30]:10001',
      services: all.filter((s) => s % 2 === 0).map((s) => report(s, 'us-east', 'us-east-1', 4, 4)),
      publishedAt: '2026-01-01T00:00:00.000Z',
    },
  ];
}

function policy(kind: PolicyDocument['kind'], name: string, spec: Record<string, unknown>): PolicyDocument {
  return {
    apiVersion: 'meshfed.io/v1alpha1',
    kind,
    metadata: { name, tenant: TENANT, labels: {}, resourceVersion: '1', generation: 1, creationTimestamp: '2026-01-01T00:00:00.000Z' },
    spec,
  };
}

/**
 * Tenant-wide Retry, Timeout and LocalityFailover, and per service: a
 * TrafficRoute canary split (1 in 10), Retry (1 in 8), Timeout (1 in 5),
 * CircuitBreaker (1 in 4), LocalityFailover kept in region (1 in 6),
 * TrafficPermission (1 in 10; only sidecars' inbound reads it).
 */
export function makePolicies(services: number): PolicyDocument[] {
  const tenantRef = { kind: 'Tenant' };
  const docs: PolicyDocument[] = [
    policy('Retry', 'default-retry', { targetRef: tenantRef, attempts: 2, retryOn: ['unavailable', 'reset'], perTryTimeout: '2s', backoff: { baseInterval: '25ms' } }),
    policy('Timeout', 'default-timeouts', { targetRef: tenantRef, connect: '2s', request: '15s', idle: '5m' }),
    policy('LocalityFailover', 'default-failover', { targetRef: tenantRef, crossRegion: [{ from: REGION, to: ['us-east'] }], spilloverThreshold: 72 }),
  ];
  for (let s = 0; s < services; s++) {
    const name = serviceName(s);
    const targetRef = { kind: 'Service', name, namespace: namespaceOf(s) };
    if (s % 10 === 0) {
      docs.push(
        policy('TrafficRoute', `${name}-canary`, {
          targetRef,
          rules: [
            { matches: [{ headers: [{ name: 'x-canary', exact: '1' }] }], split: [{ weight: 100, tags: { version: 'v2' } }] },
            { split: [{ weight: 90, tags: { version: 'v1' } }, { weight: 10, tags: { version: 'v2' } }] },
          ],
        }),
      );
    }
    if (s % 8 === 3) {
      docs.push(
        policy('Retry', `${name}-retry`, {
          targetRef,
          attempts: 3,
          retryOn: ['unavailable', 'retriable-status-codes'],
          retriableStatusCodes: [503],
          backoff: { baseInterval: '50ms', maxInterval: '1s' },
          budget: { percent: 20, minRetryConcurrency: 3 },
        }),
      );
    }
    if (s % 5 === 1) docs.push(policy('Timeout', `${name}-timeouts`, { targetRef, request: '30s' }));
    if (s % 4 === 2) {
      docs.push(
        policy('CircuitBreaker', `${name}-breaker`, {
          targetRef,
          thresholds: { maxConnections: 100, maxPendingRequests: 50, maxRequests: 200, maxRetries: 5 },
          outlierDetection: { consecutive5xx: 5, consecutiveConnectFailures: 2, interval: '10s', baseEjectionTime: '30s', maxEjectionPercent: 50 },
        }),
      );
    }
    if (s % 6 === 5) docs.push(policy('LocalityFailover', `${name}-in-region`, { targetRef, allowCrossRegion: false, spilloverThreshold: 80 }));
    if (s % 10 === 5) {
      docs.push(policy('TrafficPermission', `${name}-callers`, { targetRef, rules: [{ action: 'Allow', sources: [{ namespace: namespaceOf(s) }, { namespace: 'ns-00', serviceAccount: 'frontend' }] }] }));
    }
  }
  return docs;
}

export function makeTenantView(services: number): TenantView {
  return {
    name: TENANT,
    trustDomain: TRUST_DOMAIN,
    zones: [ZONE, 'zone-b', 'zone-c'],
    revision: 1,
    sequence: 1,
    bucketCreated: '2026-01-01T00:00:00.000Z',
    policies: Object.fromEntries(makePolicies(services).map((p) => [`${p.kind}/${p.metadata.name}`, p])),
    inventories: Object.fromEntries(makeInventories(services).map((i) => [i.zone, i])),
  };
}

/** Which local endpoint a sidecar proxy fronts: one per service first, spread over the localities. */
export function sidecarEndpointIndex(proxy: number, services: number, endpoints: number): number {
  const perService = Math.max(1, Math.floor(endpoints / services));
  const j = (proxy % services) + services * ((proxy + Math.floor(proxy / services)) % Math.min(perService, LOCAL_LOCALITIES.length));
  return j % endpoints;
}
