import type { InboundPort, Locality } from '../../../core/schemas/dataplane.js';
import type { ZoneInventory } from '../../../core/schemas/federation.js';
import type { PolicyDocument } from '../../../core/schemas/policies/index.js';
import type { LocalEndpoint } from '../../discovery/model.js';
import type { ProxyDescription, TenantSnapshot, ZoneContext } from './input.js';

/*
 * The golden-test world: tenant acme in zone-a (eu-west), with zone-b
 * (eu-west) and zone-c (us-east) reporting remotely, and policies of every
 * kind; tenant globex shares zone-a and even service names, to prove
 * isolation. Test-only.
 */

export const ZONE: ZoneContext = { zone: 'zone-a', region: 'eu-west' };

export const locality = (region: string, zone: string, subzone?: string): Locality => ({ region, zone, ...(subzone ? { subzone } : {}) });

export function endpoint(fields: Partial<LocalEndpoint> & Pick<LocalEndpoint, 'service' | 'instance' | 'address'> & { ports: InboundPort[] }): LocalEndpoint {
  return { tenant: 'acme', namespace: 'shop', serviceAccount: fields.service, tags: {}, locality: locality('eu-west', 'zone-a'), healthy: true, ...fields };
}

export function policy(kind: PolicyDocument['kind'], name: string, spec: Record<string, unknown>, tenant = 'acme'): PolicyDocument {
  return {
    apiVersion: 'meshfed.io/v1alpha1',
    kind,
    metadata: { name, tenant, labels: {}, resourceVersion: `${name}-1`, generation: 1, creationTimestamp: '2025-01-01T00:00:00.000Z' },
    spec,
  };
}

const service = (namespace: string, name: string) => ({ kind: 'Service', name, namespace });
const TENANT = { kind: 'Tenant' };

export function inventory(zone: string, ingressAddress: string | null, services: ZoneInventory['services'], tenant = 'acme'): ZoneInventory {
  return { zone, tenant, ingressAddress, services, publishedAt: '2025-01-01T00:00:00.000Z' };
}

export const ACME_ENDPOINTS: LocalEndpoint[] = [
  endpoint({ service: 'web', instance: 'web-1', address: '10.0.1.1', ports: [{ port: 8080, targetPort: 18080, protocol: 'http' }], tags: { version: 'v1' }, locality: locality('eu-west', 'zone-a', 'rack-1') }),
  endpoint({ service: 'web', instance: 'web-2', address: '10.0.1.2', ports: [{ port: 8080, targetPort: 18080, protocol: 'http' }], tags: { version: 'v1' }, locality: locality('eu-west', 'zone-a', 'rack-2') }),
  // Registered by host name: must be left out, with a warning, not crash anything.
  endpoint({ service: 'web', instance: 'web-3', address: 'web-3.internal', ports: [{ port: 8080, protocol: 'http' }] }),
  endpoint({ service: 'payments', instance: 'payments-v1-1', address: '10.0.2.1', ports: [{ port: 9090, protocol: 'grpc' }], tags: { version: 'v1' }, locality: locality('eu-west', 'zone-a', 'rack-1') }),
  endpoint({ service: 'payments', instance: 'payments-v1-2', address: '10.0.2.2', ports: [{ port: 9090, protocol: 'grpc' }], tags: { version: 'v1' }, locality: locality('eu-west', 'zone-a', 'rack-2'), healthy: false }),
  endpoint({ service: 'payments', instance: 'payments-v2-1', address: '10.0.2.3', ports: [{ port: 9090, protocol: 'grpc' }], tags: { version: 'v2' }, locality: locality('eu-west', 'zone-a', 'rack-1') }),
  endpoint({ service: 'db', instance: 'db-1', address: '10.0.3.1', ports: [{ port: 5432, protocol: 'tcp' }], locality: locality('eu-west', 'zone-a', 'rack-1') }),
];

export const ACME_INVENTORIES: ZoneInventory[] = [
  {
    ...inventory('zone-b', '192.0.2.20:10001', [
      { namespace: 'shop', name: 'web', ports: [{ port: 8080, protocol: 'http' }], localities: [{ region: 'eu-west', zone: 'zone-b', endpoints: 3, healthy: 3 }] },
      {
        namespace: 'shop',
        name: 'payments',
        ports: [{ port: 9090, protocol: 'grpc' }],
        localities: [
          { region: 'eu-west', zone: 'zone-b', subzone: 'rack-1', endpoints: 2, healthy: 2 },
          { region: 'eu-west', zone: 'zone-b', subzone: 'rack-2', endpoints: 2, healthy: 1 },
        ],
      },
      { namespace: 'ops', name: 'legacy-db', ports: [{ port: 5432, protocol: 'tcp' }], localities: [{ region: 'eu-west', zone: 'zone-b', endpoints: 1, healthy: 1 }] },
    ]),
    // zone-b runs payments v1 only: it must not appear in the v2 subset's assignment. (zone-c reports no subset
    // counts, as a zone CP before them did: it stays in every subset's.)
    subsets: {
      tagKeys: ['version'],
      services: [
        {
          namespace: 'shop',
          name: 'payments',
          localities: [
            { region: 'eu-west', zone: 'zone-b', subzone: 'rack-1', tagSets: [{ tags: { version: 'v1' }, healthy: 2 }] },
            { region: 'eu-west', zone: 'zone-b', subzone: 'rack-2', tagSets: [{ tags: { version: 'v1' }, healthy: 1 }] },
          ],
        },
        { namespace: 'shop', name: 'web', localities: [{ region: 'eu-west', zone: 'zone-b', tagSets: [{ tags: { version: 'v1' }, healthy: 3 }] }] },
      ],
    },
  },
  inventory('zone-c', '[2001:db8::30]:10001', [
    { namespace: 'shop', name: 'payments', ports: [{ port: 9090, protocol: 'grpc' }], localities: [{ region: 'us-east', zone: 'zone-c', endpoints: 4, healthy: 4 }] },
    { namespace: 'billing', name: 'ledger', ports: [{ port: 7070, protocol: 'http2' }], localities: [{ region: 'us-east', zone: 'zone-c', endpoints: 2, healthy: 2 }] },
    // No healthy endpoint there: zone-c must not appear in web's assignments.
    { namespace: 'shop', name: 'web', ports: [{ port: 8080, protocol: 'http' }], localities: [{ region: 'us-east', zone: 'zone-c', endpoints: 1, healthy: 0 }] },
  ]),
];

export const ACME_POLICIES: PolicyDocument[] = [
  policy('TrafficRoute', 'payments-canary', {
    targetRef: service('shop', 'payments'),
    rules: [
      { matches: [{ headers: [{ name: 'x-canary', present: true }] }], split: [{ weight: 100, tags: { version: 'v2' } }] },
      {
        matches: [
          { path: { prefix: '/payments.v1.Payments/Refund' }, method: 'POST' },
          { path: { regex: '^/payments\\.v1\\.Payments/(Get|List).*' }, headers: [{ name: 'x-user', regex: '^beta-' }, { name: 'x-debug', exact: '1', invert: true }] },
        ],
        split: [{ weight: 90, tags: { version: 'v1' } }, { weight: 10, tags: { version: 'v2' } }],
      },
    ],
  }),
  policy('Retry', 'default-retry', { targetRef: TENANT, attempts: 2, retryOn: ['5xx', 'connect-failure', 'reset'], perTryTimeout: '2s', backoff: { baseInterval: '25ms' } }),
  policy('Retry', 'payments-retry', {
    targetRef: service('shop', 'payments'),
    attempts: 3,
    retryOn: ['unavailable', 'retriable-status-codes'],
    retriableStatusCodes: [503],
    backoff: { baseInterval: '50ms', maxInterval: '1s' },
    budget: { percent: 20, minRetryConcurrency: 3 },
  }),
  policy('Timeout', 'default-timeouts', { targetRef: TENANT, connect: '2s', request: '15s', idle: '5m' }),
  policy('Timeout', 'ledger-timeouts', { targetRef: service('billing', 'ledger'), request: '1m30s' }),
  policy('CircuitBreaker', 'payments-breaker', {
    targetRef: service('shop', 'payments'),
    thresholds: { maxConnections: 100, maxPendingRequests: 50, maxRequests: 200, maxRetries: 5 },
    outlierDetection: { consecutive5xx: 5, consecutiveGatewayErrors: 3, consecutiveConnectFailures: 2, interval: '10s', baseEjectionTime: '30s', maxEjectionTime: '5m', maxEjectionPercent: 50 },
  }),
  policy('LocalityFailover', 'failover', { targetRef: TENANT, crossRegion: [{ from: 'eu-west', to: ['us-east'] }], spilloverThreshold: 72 }),
  policy('LocalityFailover', 'web-stays-in-region', { targetRef: service('shop', 'web'), allowCrossRegion: false, spilloverThreshold: 80 }),
  policy('TrafficPermission', 'web-callers', {
    targetRef: service('shop', 'web'),
    rules: [
      { action: 'Allow', sources: [{ namespace: 'shop', serviceAccount: 'frontend' }, { namespace: 'ops' }] },
      { action: 'Deny', sources: [{ spiffeId: 'spiffe://acme.mesh/ns/ops/sa/intruder' }] },
    ],
  }),
  policy('TrafficPermission', 'payments-callers', { targetRef: service('shop', 'payments'), rules: [{ action: 'Allow', sources: [{ namespace: 'shop', serviceAccount: 'web' }] }] }),
];

export const ACME: TenantSnapshot = { name: 'acme', trustDomain: 'acme.mesh', policies: ACME_POLICIES, localEndpoints: ACME_ENDPOINTS, remoteInventories: ACME_INVENTORIES };

/** Same namespace and service names as acme, different tenant: nothing of it may reach acme's proxies. */
export const GLOBEX: TenantSnapshot = {
  name: 'globex',
  trustDomain: 'globex.mesh',
  policies: [policy('Timeout', 'globex-timeouts', { targetRef: TENANT, connect: '9s' }, 'globex')],
  localEndpoints: [endpoint({ tenant: 'globex', service: 'web', instance: 'globex-web-1', address: '10.9.0.1', ports: [{ port: 8080, protocol: 'http' }] })],
  remoteInventories: [inventory('zone-b', '192.0.2.99:10001', [{ namespace: 'shop', name: 'secret', ports: [{ port: 443 }], localities: [{ region: 'eu-west', zone: 'zone-b', endpoints: 1, healthy: 1 }] }], 'globex')],
};

export const WEB_SIDECAR: ProxyDescription = {
  id: 'acme/web-1',
  kind: 'sidecar',
  tenant: 'acme',
  namespace: 'shop',
  serviceAccount: 'web',
  service: 'web',
  inbound: [{ port: 8080, targetPort: 18080, protocol: 'http' }],
  address: '10.0.1.1',
  locality: locality('eu-west', 'zone-a', 'rack-1'),
  mtls: true,
};

export const DB_SIDECAR: ProxyDescription = {
  id: 'acme/db-1',
  kind: 'sidecar',
  tenant: 'acme',
  namespace: 'shop',
  serviceAccount: 'db',
  service: 'db',
  inbound: [{ port: 5432 }],
  address: '10.0.3.1',
  locality: locality('eu-west', 'zone-a', 'rack-1'),
  mtls: true,
};

export const PROXYLESS_CLIENT: ProxyDescription = {
  id: 'acme/checkout-7f9c',
  kind: 'proxyless',
  tenant: 'acme',
  namespace: 'shop',
  serviceAccount: 'checkout',
  inbound: [],
  locality: locality('eu-west', 'zone-a', 'rack-2'),
  mtls: true,
};

export const INGRESS: ProxyDescription = {
  id: 'acme/ingress-zone-a',
  kind: 'ingress',
  tenant: 'acme',
  namespace: 'meshfed-system',
  serviceAccount: 'ingress',
  inbound: [{ port: 10001 }],
  locality: locality('eu-west', 'zone-a'),
  mtls: true,
};
