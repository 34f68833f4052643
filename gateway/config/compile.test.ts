import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { decodeResource, encodeResource, RESOURCE_TYPES, TYPE_URL, type ResourceType } from '../../core/xds/protos.js';
import type { DecodedResource } from '../xds/resources.js';
import type { XdsSnapshot } from '../xds/snapshot.js';
import { compileSnapshot } from './compile.js';
import type { GatewayConfig, ListenerFilter, RequestFacts, RouteTable } from './model.js';

const TESTDATA = join(dirname(fileURLToPath(import.meta.url)), '../../zone-cp/xds/generate/testdata');
const GOLDENS = readdirSync(TESTDATA).filter((f) => f.endsWith('.yaml')).map((f) => f.replace(/\.yaml$/, ''));

type Golden = Record<ResourceType, Record<string, DecodedResource>>;
const golden = (name: string): Golden => parse(readFileSync(join(TESTDATA, `${name}.yaml`), 'utf8')) as Golden;

/**
 * Two forms of the same resources: as the goldens hold them (what the zone
 * CP generates) and as the gateway receives them, through protobuf and
 * `decodeResource` (int64 as strings, zero values dropped, oneof markers).
 */
const FORMS = {
  generated: (_type: ResourceType, resource: DecodedResource) => resource,
  decoded: (type: ResourceType, resource: DecodedResource) => decodeResource(encodeResource(TYPE_URL[type], resource)),
};
type Form = keyof typeof FORMS;

function snapshotOf(form: Form, ...names: string[]): Omit<XdsSnapshot, 'versions'> {
  const maps = Object.fromEntries(RESOURCE_TYPES.map((type) => [type, new Map<string, DecodedResource>()])) as Record<ResourceType, Map<string, DecodedResource>>;
  for (const name of names) {
    const doc = golden(name);
    for (const type of RESOURCE_TYPES) for (const [key, resource] of Object.entries(doc[type] ?? {})) maps[type].set(key, FORMS[form](type, resource));
  }
  return { listeners: maps.listener, routes: maps.route, clusters: maps.cluster, endpoints: maps.endpoint };
}

function request(authority: string, path: string, headers: Record<string, string> = {}, method = 'GET'): RequestFacts {
  return { authority, path, method, header: (name) => headers[name] };
}

const httpFilter = (filter: ListenerFilter | undefined) => (filter?.kind === 'http' ? filter : expect.fail(`not an http filter: ${filter?.kind}`));
const tcpFilter = (filter: ListenerFilter | undefined) => (filter?.kind === 'tcp' ? filter : expect.fail(`not a tcp filter: ${filter?.kind}`));
const inlineTable = (filter: ListenerFilter | undefined): RouteTable => {
  const routes = httpFilter(filter).routes;
  return 'inline' in routes ? routes.inline : expect.fail('routes are not inline');
};

describe.each(Object.keys(FORMS) as Form[])('compileSnapshot on the zone CP goldens (%s form)', (form) => {
  it.each(GOLDENS)('%s compiles without problems', (name) => {
    expect(compileSnapshot(snapshotOf(form, name)).problems).toEqual([]);
  });

  describe('acme-sidecar-outbound', () => {
    const config = compileSnapshot(snapshotOf(form, 'acme-sidecar-outbound'));
    const outbound9090 = config.routes.get('outbound:9090')!;
    const select = (path: string, headers: Record<string, string> = {}, method = 'GET') => outbound9090.select(request('payments.shop.mesh:9090', path, headers, method));

    it('compiles the four outbound listeners: TCP for 5432, RDS for the HTTP ports', () => {
      expect([...config.listeners.keys()]).toEqual(['outbound:5432', 'outbound:7070', 'outbound:8080', 'outbound:9090']);
      const tcp = config.listeners.get('outbound:5432')!;
      expect(tcp).toMatchObject({ address: '127.0.0.1', port: 5432, direction: 'outbound' });
      expect(tcpFilter(tcp.filter)).toMatchObject({ clusters: [{ name: 'db.shop.mesh:5432', weight: 1 }], idleTimeoutMs: 300_000, statPrefix: 'outbound_5432' });
      expect(httpFilter(config.listeners.get('outbound:9090')?.filter).routes).toEqual({ rds: 'outbound:9090' });
    });

    it('sends requests with x-canary to the v2 subset, with the route\'s retry policy and timeouts', () => {
      const action = select('/anything', { 'x-canary': 'yes' })!;
      expect(action.routeName).toBe('outbound:9090/payments.shop.mesh:9090/rule-0-match-0');
      expect(action.clusters).toEqual([{ name: 'payments.shop.mesh:9090|version=v2', weight: 1 }]);
      expect([...action.retry!.conditions.on].sort()).toEqual(['retriable-status-codes', 'unavailable']);
      expect([...action.retry!.conditions.statusCodes]).toEqual([503]);
      expect(action.retry).toMatchObject({ numRetries: 3, backoffBaseMs: 50, backoffMaxMs: 1000 });
      expect(action.timeouts).toEqual({ timeoutMs: 15_000 });
      expect(action.idleTimeoutMs).toBe(300_000);
    });

    it('splits POST /payments.v1.Payments/Refund 90/10; a GET of it takes the default route', () => {
      const refund = select('/payments.v1.Payments/Refund', {}, 'POST')!;
      expect(refund.routeName).toBe('outbound:9090/payments.shop.mesh:9090/rule-1-match-0');
      expect(refund.clusters).toEqual([
        { name: 'payments.shop.mesh:9090|version=v1', weight: 90 },
        { name: 'payments.shop.mesh:9090|version=v2', weight: 10 },
      ]);
      expect(select('/payments.v1.Payments/Refund')?.routeName).toBe('outbound:9090/payments.shop.mesh:9090/default');
    });

    it('rule-1-match-1: path regex, x-user regex and "x-debug is not 1", with Envoy\'s semantics', () => {
      const rule = 'outbound:9090/payments.shop.mesh:9090/rule-1-match-1';
      const fallback = 'outbound:9090/payments.shop.mesh:9090/default';
      // x-debug present and not 1: the inverted matcher holds.
      expect(select('/payments.v1.Payments/GetX', { 'x-user': 'beta-', 'x-debug': '0' })?.routeName).toBe(rule);
      expect(select('/payments.v1.Payments/ListY?page=2', { 'x-user': 'beta-', 'x-debug': 'yes' })?.clusters.map((c) => c.weight)).toEqual([90, 10]);
      // x-debug: 1 fails the inverted matcher.
      expect(select('/payments.v1.Payments/GetX', { 'x-user': 'beta-', 'x-debug': '1' })?.routeName).toBe(fallback);
      // Envoy: an absent header fails an inverted value matcher (only present_match is inverted on absence).
      expect(select('/payments.v1.Payments/GetX', { 'x-user': 'beta-' })?.routeName).toBe(fallback);
      // Envoy's regexes match the whole value: `^beta-` matches "beta-" only, not "beta-1".
      expect(select('/payments.v1.Payments/GetX', { 'x-user': 'beta-1', 'x-debug': '0' })?.routeName).toBe(fallback);
      expect(select('/payments.v1.Payments/GetX', { 'x-user': 'beta-1' })?.routeName).toBe(fallback);
      // The path regex, too, must match the whole path.
      expect(select('/x/payments.v1.Payments/GetX', { 'x-user': 'beta-', 'x-debug': '0' })?.routeName).toBe(fallback);
    });

    it('selects the virtual host by host or host:port only, case-insensitively', () => {
      expect(outbound9090.select(request('payments.shop.mesh', '/'))?.routeName).toBe('outbound:9090/payments.shop.mesh:9090/default');
      expect(outbound9090.select(request('Payments.Shop.Mesh:9090', '/'))?.clusters).toEqual([{ name: 'payments.shop.mesh:9090', weight: 1 }]);
      expect(outbound9090.select(request('payments.shop.mesh:8080', '/'))).toBeUndefined();
      expect(outbound9090.select(request('web.shop.mesh', '/'))).toBeUndefined();
    });

    it('ledger: its retry policy with per-try timeout, a 90 s deadline and no idle timeout', () => {
      const action = config.routes.get('outbound:7070')!.select(request('ledger.billing.mesh:7070', '/v1/entries'))!;
      expect([...action.retry!.conditions.on]).toEqual(['5xx', 'connect-failure', 'reset']);
      expect(action.retry).toMatchObject({ numRetries: 2, backoffBaseMs: 25, backoffMaxMs: 250 });
      expect(action.timeouts).toEqual({ timeoutMs: 90_000, perTryTimeoutMs: 2000 });
      expect(action.idleTimeoutMs).toBeUndefined();
    });
  });

  describe('acme-outbound-mtls', () => {
    const config = compileSnapshot(snapshotOf(form, 'acme-outbound-mtls'));

    it('skips the API listeners (proxyless gRPC\'s) and compiles their route configurations', () => {
      expect(config.listeners.size).toBe(0);
      expect([...config.routes.keys()]).toEqual(['db.shop.mesh:5432', 'ledger.billing.mesh:7070', 'legacy-db.ops.mesh:5432', 'payments.shop.mesh:9090', 'web.shop.mesh:8080']);
      // The proxyless tables also list *: any authority reaches the service.
      expect(config.routes.get('web.shop.mesh:8080')!.select(request('10.0.0.1:8080', '/'))?.clusters).toEqual([{ name: 'web.shop.mesh:8080', weight: 1 }]);
    });

    it('payments: EDS, HTTP/2, mTLS to payments itself, remote zones through their ingress by SNI', () => {
      const payments = config.clusters.get('payments.shop.mesh:9090')!;
      expect(payments).toMatchObject({ kind: 'eds', edsName: 'payments.shop.mesh:9090', connectTimeoutMs: 2000, http2: true });
      expect(payments.tls!.acceptsPeer('spiffe://acme.mesh/ns/shop/sa/payments')).toBe(true);
      expect(payments.tls!.acceptsPeer('spiffe://acme.mesh/ns/other/sa/x')).toBe(false);
      // The typed matcher (exact) alone counts; the wider untyped list is proxyless gRPC's.
      expect(payments.tls!.acceptsPeer('spiffe://acme.mesh/ns/shop/sa/web')).toBe(false);
      expect(payments.tls!.peerDescription).toBe('exact spiffe://acme.mesh/ns/shop/sa/payments');
      expect(payments.tls!.alpn).toEqual(['h2']);
      expect(payments.tls!.sni).toBeUndefined();
      expect(payments.remoteTls!.sni).toBe('9090.payments.shop.acme.mesh');
      expect(payments.remoteTls!.acceptsPeer('spiffe://acme.mesh/ns/shop/sa/payments')).toBe(true);
      expect(payments.remoteTls!.acceptsPeer('spiffe://acme.mesh/ns/other/sa/payments')).toBe(false);
    });

    it('payments: circuit breaker and outlier detection values', () => {
      const payments = config.clusters.get('payments.shop.mesh:9090')!;
      expect(payments.circuitBreaker).toEqual({ maxConnections: 100, maxPendingRequests: 50, maxRequests: 200, maxRetries: 5, retryBudget: { budgetPercent: 20, minRetryConcurrency: 3 } });
      expect(payments.outlierDetection).toEqual({
        consecutive5xx: 5,
        enforcingConsecutive5xx: 100,
        consecutiveGatewayFailure: 3,
        enforcingConsecutiveGatewayFailure: 100,
        splitExternalLocalOriginErrors: true,
        consecutiveLocalOriginFailure: 2,
        enforcingConsecutiveLocalOriginFailure: 100,
        intervalMs: 10_000,
        baseEjectionTimeMs: 30_000,
        maxEjectionTimeMs: 300_000,
        maxEjectionPercent: 50,
      });
    });

    it('subsets get their own SNI; ledger (no local endpoint) accepts its namespace; db has no remote socket', () => {
      expect(config.clusters.get('payments.shop.mesh:9090|version=v1')!.remoteTls!.sni).toBe('scffb0dd184cc279.9090.payments.shop.acme.mesh');
      const ledger = config.clusters.get('ledger.billing.mesh:7070')!;
      expect(ledger.tls!.acceptsPeer('spiffe://acme.mesh/ns/billing/sa/ledger')).toBe(true);
      expect(ledger.tls!.acceptsPeer('spiffe://acme.mesh/ns/shop/sa/ledger')).toBe(false);
      expect(ledger.remoteTls!.sni).toBe('7070.ledger.billing.acme.mesh');
      const db = config.clusters.get('db.shop.mesh:5432')!;
      expect(db).toMatchObject({ http2: false, circuitBreaker: { maxRetries: 4_294_967_295 } });
      expect(db.tls!.alpn).toEqual(['http/1.1']);
      expect(db.remoteTls).toBeUndefined();
      expect(db.outlierDetection).toBeUndefined();
    });
  });

  it('acme-outbound-plaintext: clusters without TLS', () => {
    const config = compileSnapshot(snapshotOf(form, 'acme-outbound-plaintext'));
    expect(config.clusters.size).toBeGreaterThan(0);
    for (const cluster of config.clusters.values()) {
      expect(cluster.tls, cluster.name).toBeUndefined();
      expect(cluster.remoteTls, cluster.name).toBeUndefined();
    }
  });

  describe('acme-sidecar-web-1-own', () => {
    const config = compileSnapshot(snapshotOf(form, 'acme-sidecar-web-1-own'));
    const inbound = config.listeners.get('inbound:8080')!;

    it('terminates mTLS on the inbound listener', () => {
      expect(inbound).toMatchObject({ address: '10.0.1.1', port: 8080, direction: 'inbound', tls: { requireClientCertificate: true, alpn: ['h2', 'http/1.1'] } });
    });

    it('lets in only the TrafficPermission\'s callers', () => {
      const access = httpFilter(inbound.filter).access!;
      expect(access.allows('spiffe://acme.mesh/ns/shop/sa/frontend')).toBe(true);
      expect(access.allows('spiffe://acme.mesh/ns/ops/sa/anyone')).toBe(true);
      expect(access.allows('spiffe://acme.mesh/ns/ops/sa/intruder')).toBe(false);
      expect(access.allows('spiffe://acme.mesh/ns/shop/sa/web')).toBe(false);
      expect(access.allows(undefined)).toBe(false);
    });

    it('routes every request to the application without a deadline, over the STATIC inbound cluster', () => {
      const action = inlineTable(inbound.filter).select(request('web.shop.mesh:8080', '/any/path'))!;
      expect(action).toMatchObject({ routeName: 'inbound:8080/inbound:8080/application', clusters: [{ name: 'inbound:8080', weight: 1 }], timeouts: { timeoutMs: 0 } });
      const cluster = config.clusters.get('inbound:8080')!;
      expect(cluster).toMatchObject({ kind: 'static', connectTimeoutMs: 5000 });
      expect(cluster.staticAssignment!.levels).toEqual([{ priority: 0, localities: [{ key: '//', weight: 1, endpoints: [{ address: '127.0.0.1', port: 18080, healthy: true }] }] }]);
    });
  });

  it('acme-sidecar-db-1-own: an mTLS TCP inbound listener without RBAC', () => {
    const config = compileSnapshot(snapshotOf(form, 'acme-sidecar-db-1-own'));
    const inbound = config.listeners.get('inbound:5432')!;
    expect(inbound.tls).toEqual({ requireClientCertificate: true, alpn: [] });
    expect(tcpFilter(inbound.filter)).toMatchObject({ clusters: [{ name: 'inbound:5432', weight: 1 }], idleTimeoutMs: 3_600_000 });
    expect(inbound.filter.access).toBeUndefined();
    expect(config.clusters.get('inbound:5432')!.staticAssignment!.levels[0]!.localities[0]!.endpoints[0]).toMatchObject({ address: '127.0.0.1', port: 5432 });
  });

  describe('acme-endpoints-eu-west-zone-a (with the clusters that use them)', () => {
    const config: GatewayConfig = compileSnapshot(snapshotOf(form, 'acme-outbound-mtls', 'acme-endpoints-eu-west-zone-a'));

    it('payments: own zone at priority 0, the rest of the region at 1, other regions at 2', () => {
      const payments = config.assignments.get('payments.shop.mesh:9090')!;
      expect(payments.overprovisioningFactor).toBe(140);
      expect(payments.levels.map((l) => [l.priority, l.localities.map((x) => `${x.key}=${x.weight}`)])).toEqual([
        [0, ['eu-west/zone-a/rack-1=2', 'eu-west/zone-a/rack-2=1']],
        [1, ['eu-west/zone-b/=3']],
        [2, ['us-east/zone-c/=4']],
      ]);
      const [rack1, rack2] = payments.levels[0]!.localities;
      expect(rack1!.endpoints.map((e) => `${e.address}:${e.port}:${e.healthy}`)).toEqual(['10.0.2.1:9090:true', '10.0.2.3:9090:true']);
      expect(rack2!.endpoints.map((e) => e.healthy)).toEqual([false]);
    });

    it('remote endpoints are the other zones\' ingresses, flagged remote for transport_socket_matches', () => {
      const payments = config.assignments.get('payments.shop.mesh:9090')!;
      const [zoneB] = payments.levels[1]!.localities[0]!.endpoints;
      expect(zoneB).toEqual({
        address: '192.0.2.20',
        port: 10001,
        healthy: true,
        metadata: { meshfed: { remote: true, zone: 'zone-b' }, 'envoy.transport_socket_match': { 'meshfed.remote': true } },
      });
      expect(payments.levels[2]!.localities[0]!.endpoints[0]).toMatchObject({ address: '2001:db8::30', metadata: { meshfed: { zone: 'zone-c' } } });
      expect(config.assignments.get('db.shop.mesh:5432')!.levels[0]!.localities[0]!.endpoints[0]!.metadata).toBeUndefined();
    });

    it('keeps each assignment\'s overprovisioning factor', () => {
      expect(config.assignments.get('web.shop.mesh:8080')!.overprovisioningFactor).toBe(125);
      expect(config.assignments.get('ledger.billing.mesh:7070')!.levels.map((l) => l.priority)).toEqual([0]);
    });
  });

  it('ingress-zone-a: the SNI listener is the ingress\'s (skipped silently); its clusters and endpoints compile', () => {
    const config = compileSnapshot(snapshotOf(form, 'ingress-zone-a'));
    expect(config.listeners.size).toBe(0);
    expect(config.clusters.get('ingress|globex|web.shop.mesh:8080')).toMatchObject({ kind: 'eds', connectTimeoutMs: 9000 });
    expect(config.assignments.get('ingress|acme|payments.shop.mesh:9090|version=v2')!.levels[0]!.localities[0]!.endpoints.map((e) => e.address)).toEqual(['10.0.2.3']);
  });
});

describe('compileSnapshot with bad resources', () => {
  const good = golden('acme-sidecar-outbound');
  const snapshot = {
    listeners: new Map<string, DecodedResource>([
      ['outbound:5432', good.listener['outbound:5432']!],
      [
        'inbound:8080',
        { name: 'inbound:8080', address: { socket_address: { address: '10.0.0.1', port_value: 8080 } }, filter_chains: [{ filters: [{ name: 'x', typed_config: { '@type': 'type.googleapis.com/x.X' } }] }] },
      ],
      // Not even shaped like a listener: still a problem, not a throw.
      [
        'weird',
        {
          get filter_chains(): unknown {
            throw new TypeError('boom');
          },
        },
      ],
    ]),
    routes: new Map<string, DecodedResource>([
      ['outbound:9090', good.route['outbound:9090']!],
      ['bad-regex', { name: 'bad-regex', virtual_hosts: [{ name: 'vh', domains: ['*'], routes: [{ name: 'r', match: { safe_regex: { regex: 'a(?=b)' } }, route: { cluster: 'c' } }] }] }],
    ]),
    clusters: new Map<string, DecodedResource>([['dns', { name: 'dns', type: 'STRICT_DNS' }]]),
    endpoints: new Map<string, DecodedResource>([['pipe', { cluster_name: 'pipe', endpoints: [{ lb_endpoints: [{ endpoint: { address: { pipe: { path: '/x' } } } }] }] }]]),
  };

  it('never throws: what cannot be compiled is a problem and left out, the rest applies', () => {
    const config = compileSnapshot(snapshot);
    expect(config.problems).toEqual([
      'listener inbound:8080: unsupported filter x',
      'listener weird: unexpected error: boom',
      'route bad-regex: virtual host vh: route r: safe_regex: invalid regex "a(?=b)": lookahead and lookbehind are not supported by RE2',
      'cluster dns: cluster type STRICT_DNS is not supported',
      'endpoint pipe: locality #0: endpoint #0: no socket address (pipes and internal addresses are not supported)',
    ]);
    expect([...config.listeners.keys()]).toEqual(['outbound:5432']);
    expect([...config.routes.keys()]).toEqual(['outbound:9090']);
    expect(config.clusters.size).toBe(0);
    expect(config.assignments.size).toBe(0);
  });
});
