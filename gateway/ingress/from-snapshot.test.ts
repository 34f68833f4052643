import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { TYPE_URL, decodeResource, encodeResource, type ResourceType } from '../../core/xds/protos.js';
import type { DecodedResource } from '../xds/resources.js';
import type { XdsSnapshot } from '../xds/snapshot.js';
import { DEFAULT_CONNECT_TIMEOUT_MS } from '../config/index.js';
import { ingressConfigFromSnapshot, parseIngressClusterName, type IngressConfig } from './from-snapshot.js';
import { decideIngressRoute } from './sni-router.js';

type Golden = Record<ResourceType, Record<string, DecodedResource>>;
const GOLDEN_FILE = fileURLToPath(new URL('../../zone-cp/xds/generate/testdata/ingress-zone-a.yaml', import.meta.url));
const golden = () => parse(readFileSync(GOLDEN_FILE, 'utf8')) as Golden;

/** A snapshot of resources as generation writes them, or (wire) as the ADS client holds them after decoding. */
function snapshotOf(resources: Golden, wire = false): XdsSnapshot {
  const map = (type: ResourceType) =>
    new Map(Object.entries(resources[type] ?? {}).map(([name, resource]) => [name, wire ? decodeResource(encodeResource(TYPE_URL[type], resource)) : structuredClone(resource)]));
  return { listeners: map('listener'), routes: map('route'), clusters: map('cluster'), endpoints: map('endpoint'), versions: { listener: '1', route: '', cluster: '1', endpoint: '1' } };
}

const listenerOf = (g: Golden) => g.listener['ingress:sni'] as { filter_chains: Array<Record<string, unknown>>; default_filter_chain?: unknown };
const tcpProxyOf = (chain: Record<string, unknown>) => (chain.filters as Array<{ typed_config: Record<string, unknown> }>)[0]!.typed_config;

describe('ingressConfigFromSnapshot', () => {
  const check = (config: IngressConfig) => {
    expect(config.problems).toEqual([]);
    expect(config.listener).toEqual({ address: '0.0.0.0', port: 10001 });
    expect(config.table).toEqual({
      '5432.db.shop.acme.mesh': { tenant: 'acme', cluster: 'ingress|acme|db.shop.mesh:5432' },
      '8080.web.shop.acme.mesh': { tenant: 'acme', cluster: 'ingress|acme|web.shop.mesh:8080' },
      '8080.web.shop.globex.mesh': { tenant: 'globex', cluster: 'ingress|globex|web.shop.mesh:8080' },
      '9090.payments.shop.acme.mesh': { tenant: 'acme', cluster: 'ingress|acme|payments.shop.mesh:9090' },
      's5e9081ac34672f5.9090.payments.shop.acme.mesh': { tenant: 'acme', cluster: 'ingress|acme|payments.shop.mesh:9090|version=v2' },
      'scffb0dd184cc279.9090.payments.shop.acme.mesh': { tenant: 'acme', cluster: 'ingress|acme|payments.shop.mesh:9090|version=v1' },
    });
    expect([...config.placedTenants].sort()).toEqual(['acme', 'globex']);
    expect([...config.clusters.keys()].sort()).toEqual(Object.keys(golden().cluster).sort());
    expect(config.clusters.get('ingress|acme|payments.shop.mesh:9090')).toEqual({
      tenant: 'acme',
      connectTimeoutMs: 2000,
      // The service's CircuitBreaker policy holds at the ingress too.
      outlier: {
        baseEjectionTimeMs: 30000,
        consecutive5xx: 5,
        consecutiveGatewayFailure: 3,
        consecutiveLocalOriginFailure: 2,
        enforcingConsecutive5xx: 100,
        enforcingConsecutiveGatewayFailure: 100,
        enforcingConsecutiveLocalOriginFailure: 100,
        intervalMs: 10000,
        maxEjectionPercent: 50,
        maxEjectionTimeMs: 300000,
        splitExternalLocalOriginErrors: true,
      },
      assignment: {
        overprovisioningFactor: 140,
        levels: [
          {
            priority: 0,
            localities: [
              {
                key: 'eu-west/zone-a/rack-1',
                weight: 2,
                endpoints: [
                  { address: '10.0.2.1', port: 9090, healthy: true },
                  { address: '10.0.2.3', port: 9090, healthy: true },
                ],
              },
              { key: 'eu-west/zone-a/rack-2', weight: 1, endpoints: [{ address: '10.0.2.2', port: 9090, healthy: false }] },
            ],
          },
        ],
      },
    });
    const globex = config.clusters.get('ingress|globex|web.shop.mesh:8080')!;
    expect(globex.connectTimeoutMs).toBe(9000);
    expect(globex.tenant).toBe('globex');
    expect(globex.assignment.levels[0]!.localities[0]!.key).toBe('eu-west/zone-a/');
    expect(config.clusters.get('ingress|acme|web.shop.mesh:8080')!.assignment.overprovisioningFactor).toBe(125);
  };

  it('reads the golden ingress config as generation writes it', () => {
    check(ingressConfigFromSnapshot(snapshotOf(golden())));
  });

  it('reads it the same after a trip through protobuf (longs as strings, oneof markers, defaults dropped)', () => {
    const wire = ingressConfigFromSnapshot(snapshotOf(golden(), true));
    check(wire);
    expect(wire).toEqual(ingressConfigFromSnapshot(snapshotOf(golden())));
  });

  it('gives a table the SNI router routes by: each tenant only to its own clusters, subsets to theirs', () => {
    const config = ingressConfigFromSnapshot(snapshotOf(golden()));
    const route = (sni: string) => decideIngressRoute(sni, config.table, config.placedTenants);
    expect(route('8080.web.shop.globex.mesh')).toMatchObject({ route: 'ingress|globex|web.shop.mesh:8080', tenant: 'globex' });
    expect(route('S5E9081AC34672F5.9090.payments.shop.acme.mesh')).toMatchObject({ route: 'ingress|acme|payments.shop.mesh:9090|version=v2' });
    expect(route('5432.db.shop.globex.mesh')).toMatchObject({ reject: 'unknown-sni' }); // globex has web only
    expect(route('8080.web.shop.initech.mesh')).toMatchObject({ reject: 'tenant-not-placed' });
  });

  it('takes the tenant from the cluster: a chain sending one tenant\'s SNI to another tenant\'s cluster is refused on every connection', () => {
    const g = golden();
    const chain = listenerOf(g).filter_chains.find((c) => c.name === '8080.web.shop.globex.mesh')!;
    tcpProxyOf(chain).cluster = 'ingress|acme|web.shop.mesh:8080';
    const config = ingressConfigFromSnapshot(snapshotOf(g));
    expect(config.table['8080.web.shop.globex.mesh']).toEqual({ tenant: 'acme', cluster: 'ingress|acme|web.shop.mesh:8080' });
    expect(config.problems).toEqual([expect.stringContaining('names tenant "globex" but cluster ingress|acme|web.shop.mesh:8080 belongs to "acme"')]);
    expect([...config.placedTenants]).toEqual(['acme']);
    expect(decideIngressRoute('8080.web.shop.globex.mesh', config.table, new Set(['acme', 'globex']))).toMatchObject({ reject: 'tenant-mismatch' });
  });

  it('leaves out, and reports, chains it cannot route safely; the rest still applies', () => {
    const g = golden();
    const chains = listenerOf(g).filter_chains;
    const byName = (name: string) => chains.find((c) => c.name === name)!;
    tcpProxyOf(byName('5432.db.shop.acme.mesh')).cluster = 'ingress|acme|web.shop.mesh:8080'; // another service
    tcpProxyOf(byName('8080.web.shop.acme.mesh')).cluster = 'web.shop.mesh:8080'; // not an ingress cluster
    delete tcpProxyOf(byName('9090.payments.shop.acme.mesh')).cluster;
    tcpProxyOf(byName('9090.payments.shop.acme.mesh')).weighted_clusters = { clusters: [{ name: 'ingress|acme|payments.shop.mesh:9090', weight: { value: 1 } }] };
    (byName('scffb0dd184cc279.9090.payments.shop.acme.mesh').filter_chain_match as { server_names: string[] }).server_names = ['*.acme.mesh'];
    chains.push({ name: 'catch-all', filters: byName('8080.web.shop.globex.mesh').filters });
    chains.push({ name: 'again', filter_chain_match: { server_names: ['8080.web.shop.globex.mesh'] }, filters: [{ name: 'tcp', typed_config: { ...tcpProxyOf(byName('8080.web.shop.globex.mesh')), cluster: 'ingress|globex|web.shop.mesh:8080' } }] });
    listenerOf(g).default_filter_chain = { filters: byName('8080.web.shop.globex.mesh').filters };
    const config = ingressConfigFromSnapshot(snapshotOf(g));
    expect(Object.keys(config.table).sort()).toEqual(['8080.web.shop.globex.mesh', 's5e9081ac34672f5.9090.payments.shop.acme.mesh']);
    expect(config.problems).toHaveLength(7);
    expect(config.problems.join('\n')).toMatch(/default_filter_chain ignored/);
    expect(config.problems.join('\n')).toMatch(/5432\.db\.shop\.acme\.mesh and cluster ingress\|acme\|web\.shop\.mesh:8080 name different services/);
    expect(config.problems.join('\n')).toMatch(/"web\.shop\.mesh:8080" is not an ingress cluster/);
    expect(config.problems.join('\n')).toMatch(/weighted_clusters is not supported/);
    expect(config.problems.join('\n')).toMatch(/"\*\.acme\.mesh" is not an ingress SNI/);
    expect(config.problems.join('\n')).toMatch(/catch-all: matches no server name/);
    expect(config.problems.join('\n')).toMatch(/again: SNI 8080\.web\.shop\.globex\.mesh is already routed/);
    // Only the clusters routes name are kept.
    expect([...config.clusters.keys()].sort()).toEqual(['ingress|acme|payments.shop.mesh:9090|version=v2', 'ingress|globex|web.shop.mesh:8080']);
  });

  it('keeps a route whose cluster or assignment is missing (it gets no endpoint) and says so', () => {
    const g = golden();
    delete g.cluster['ingress|acme|db.shop.mesh:5432'];
    delete g.endpoint['ingress|acme|web.shop.mesh:8080'];
    const config = ingressConfigFromSnapshot(snapshotOf(g));
    expect(config.table['5432.db.shop.acme.mesh']).toBeDefined();
    expect(config.clusters.has('ingress|acme|db.shop.mesh:5432')).toBe(false);
    expect(config.clusters.get('ingress|acme|web.shop.mesh:8080')!.assignment).toEqual({ levels: [] });
    expect(config.problems).toEqual([
      'cluster ingress|acme|db.shop.mesh:5432: not in the snapshot; its SNIs get no endpoint',
      'cluster ingress|acme|web.shop.mesh:8080: no ClusterLoadAssignment ingress|acme|web.shop.mesh:8080; it has no endpoints until one comes',
    ]);
  });

  it('decodes outlier detection, connect timeout defaults and locality weights', () => {
    const g = golden();
    const cluster = g.cluster['ingress|acme|db.shop.mesh:5432']!;
    cluster.outlier_detection = {
      consecutive_5xx: { value: 3 },
      enforcing_consecutive_5xx: { value: 50 },
      split_external_local_origin_errors: true,
      consecutive_local_origin_failure: { value: 2 },
      interval: { seconds: 1, nanos: 500_000_000 },
      base_ejection_time: { seconds: 30 },
      max_ejection_time: { seconds: 600 },
      max_ejection_percent: { value: 50 },
      always_eject_one_host: { value: true },
    };
    delete cluster.connect_timeout;
    delete cluster.common_lb_config; // without locality-weighted balancing, a locality without weight counts 1
    delete (g.endpoint['ingress|acme|db.shop.mesh:5432'] as { endpoints: Array<Record<string, unknown>> }).endpoints[0]!.load_balancing_weight;
    const assignment = g.endpoint['ingress|acme|payments.shop.mesh:9090'] as { endpoints: Array<Record<string, unknown>> };
    delete assignment.endpoints[1]!.load_balancing_weight; // with it, a locality without weight gets no load
    for (const wire of [false, true]) {
      const config = ingressConfigFromSnapshot(snapshotOf(g, wire));
      const db = config.clusters.get('ingress|acme|db.shop.mesh:5432')!;
      expect(db.outlier).toEqual({
        consecutive5xx: 3,
        enforcingConsecutive5xx: 50,
        splitExternalLocalOriginErrors: true,
        consecutiveLocalOriginFailure: 2,
        intervalMs: 1500,
        baseEjectionTimeMs: 30_000,
        maxEjectionTimeMs: 600_000,
        maxEjectionPercent: 50,
        alwaysEjectOneHost: true,
      });
      expect(db.connectTimeoutMs).toBe(DEFAULT_CONNECT_TIMEOUT_MS);
      expect(db.assignment.levels[0]!.localities[0]!.weight).toBe(1);
      expect(config.clusters.get('ingress|acme|payments.shop.mesh:9090')!.assignment.levels[0]!.localities.map((l) => l.weight)).toEqual([2, 0]);
    }
  });

  it('leaves a cluster it cannot compile, or whose assignment it cannot, without endpoints and says so', () => {
    const g = golden();
    g.cluster['ingress|acme|db.shop.mesh:5432']!.lb_policy = 'RING_HASH';
    const lbEndpoints = (g.endpoint['ingress|acme|web.shop.mesh:8080'] as { endpoints: Array<{ lb_endpoints: Array<Record<string, unknown>> }> }).endpoints[0]!.lb_endpoints;
    lbEndpoints[0] = { endpoint_name: 'named' };
    const config = ingressConfigFromSnapshot(snapshotOf(g));
    expect(config.table['5432.db.shop.acme.mesh']).toBeDefined();
    expect(config.clusters.has('ingress|acme|db.shop.mesh:5432')).toBe(false);
    expect(config.clusters.get('ingress|acme|web.shop.mesh:8080')!.assignment).toEqual({ levels: [] });
    expect(config.problems).toEqual([
      expect.stringMatching(/^cluster ingress\|acme\|db\.shop\.mesh:5432: lb_policy RING_HASH is not supported/),
      expect.stringMatching(/^cluster ingress\|acme\|web\.shop\.mesh:8080: ClusterLoadAssignment ingress\|acme\|web\.shop\.mesh:8080: .*named endpoints are not supported/),
    ]);
  });

  it('has no listener and no routes when the zone CP sends none (no tenant here has local endpoints)', () => {
    const config = ingressConfigFromSnapshot({ listeners: new Map(), routes: new Map(), clusters: new Map(), endpoints: new Map(), versions: { listener: '', route: '', cluster: '', endpoint: '' } });
    expect(config).toEqual({ listener: undefined, table: {}, placedTenants: new Set(), clusters: new Map(), problems: [] });
  });
});

describe('parseIngressClusterName', () => {
  it('reads tenant, service, namespace, port and whether it is a subset', () => {
    expect(parseIngressClusterName('ingress|acme|payments.shop.mesh:9090|version=v1')).toEqual({ tenant: 'acme', service: 'payments', namespace: 'shop', port: 9090, subset: true });
    expect(parseIngressClusterName('ingress|acme|db.shop.mesh:5432')).toEqual({ tenant: 'acme', service: 'db', namespace: 'shop', port: 5432, subset: false });
    for (const name of ['db.shop.mesh:5432', 'ingress||db.shop.mesh:5432', 'ingress|acme|db.mesh:5432', 'ingress|acme|db.shop.mesh']) expect(parseIngressClusterName(name), name).toBeUndefined();
  });
});
