import { describe, expect, it } from 'vitest';
import type { Locality } from '../../../core/schemas/dataplane.js';
import { renderClusterLoadAssignment, serviceEndpoints } from './endpoints.js';
import { ACME, endpoint, inventory, locality, policy } from './fixtures.js';
import type { TenantSnapshot } from './input.js';
import { buildTenantModel, parseIngressAddress } from './model.js';

const PROXY = locality('eu-west', 'zone-a', 'rack-1');

interface Rendered {
  locality: { region: string; zone: string; sub_zone?: string };
  lb_endpoints: { endpoint: { address: { socket_address: { address: string; port_value: number } } }; health_status: string; metadata?: unknown }[];
  load_balancing_weight: { value: number };
  priority: number;
}

function cla(snapshot: Partial<TenantSnapshot>, options: { service?: string; port?: number; proxy?: Locality; tags?: Record<string, string>; includeRemote?: boolean } = {}) {
  const model = buildTenantModel({ name: 'acme', trustDomain: 'acme.mesh', policies: [], localEndpoints: [], remoteInventories: [], ...snapshot });
  const service = model.byKey.get(`shop/${options.service ?? 'api'}`)!;
  const subset = options.tags ? service.subsets.find((s) => JSON.stringify(s.tags) === JSON.stringify(options.tags)) : undefined;
  if (options.tags) expect(subset).toBeDefined();
  const { resource, warnings } = renderClusterLoadAssignment(service, options.port ?? 80, subset, options.proxy ?? PROXY, { clusterName: 'c', includeRemote: options.includeRemote ?? true });
  return { endpoints: resource.endpoints as Rendered[], resource, warnings, model };
}

const api = (instance: string, address: string, more: Partial<Parameters<typeof endpoint>[0]> = {}) =>
  endpoint({ service: 'api', instance, address, ports: [{ port: 80, targetPort: 8080, protocol: 'http' }], ...more });
const addresses = (endpoints: Rendered[]) => endpoints.flatMap((l) => l.lb_endpoints.map((e) => `${e.endpoint.address.socket_address.address}:${e.endpoint.address.socket_address.port_value}`));
const remoteApi = (zone: string, ingress: string | null, localities: { region: string; zone: string; subzone?: string; endpoints: number; healthy: number }[]) =>
  inventory(zone, ingress, [{ namespace: 'shop', name: 'api', ports: [{ port: 80 }], localities }]);

describe('renderClusterLoadAssignment', () => {
  it('groups local endpoints by locality, weighted by healthy endpoints, at the mesh port (where the sidecar listens)', () => {
    const { endpoints } = cla({
      localEndpoints: [api('a-1', '10.0.0.1', { locality: PROXY }), api('a-2', '10.0.0.2', { locality: PROXY }), api('a-3', '10.0.0.3', { locality: locality('eu-west', 'zone-a', 'rack-2'), healthy: false })],
    });
    expect(endpoints).toHaveLength(2);
    expect(endpoints[0]).toMatchObject({ locality: { region: 'eu-west', zone: 'zone-a', sub_zone: 'rack-1' }, load_balancing_weight: { value: 2 }, priority: 0 });
    expect(endpoints[1]).toMatchObject({ locality: { sub_zone: 'rack-2' }, load_balancing_weight: { value: 1 }, priority: 0 });
    expect(endpoints[1]!.lb_endpoints[0]!.health_status).toBe('UNHEALTHY');
    expect(addresses(endpoints)).toEqual(['10.0.0.1:80', '10.0.0.2:80', '10.0.0.3:80']);
  });

  it('adds one endpoint per remote zone, its ingress, weighted by healthy count and marked remote', () => {
    const { endpoints } = cla({
      localEndpoints: [api('a-1', '10.0.0.1')],
      remoteInventories: [remoteApi('zone-b', '192.0.2.2:10001', [{ region: 'eu-west', zone: 'zone-b', endpoints: 5, healthy: 4 }])],
    });
    expect(endpoints[1]).toMatchObject({ locality: { region: 'eu-west', zone: 'zone-b' }, load_balancing_weight: { value: 4 }, priority: 1 });
    expect(endpoints[1]!.lb_endpoints[0]).toMatchObject({
      endpoint: { address: { socket_address: { address: '192.0.2.2', port_value: 10001 } } },
      health_status: 'HEALTHY',
      metadata: { filter_metadata: { meshfed: { fields: { remote: { boolValue: true } } }, 'envoy.transport_socket_match': { fields: { 'meshfed.remote': { boolValue: true } } } } },
    });
  });

  it('leaves out remote zones without healthy endpoints, without an ingress, or with a host-name ingress; warns about the latter', () => {
    const { endpoints, model } = cla({
      remoteInventories: [
        remoteApi('zone-b', '192.0.2.2:10001', [{ region: 'eu-west', zone: 'zone-b', endpoints: 3, healthy: 0 }]),
        remoteApi('zone-c', null, [{ region: 'eu-west', zone: 'zone-c', endpoints: 3, healthy: 3 }]),
        remoteApi('zone-d', 'ingress.zone-d.example:10001', [{ region: 'eu-west', zone: 'zone-d', endpoints: 3, healthy: 3 }]),
        remoteApi('zone-e', '10.0.0.300:1', [{ region: 'eu-west', zone: 'zone-e', endpoints: 3, healthy: 3 }]),
      ],
    });
    expect(endpoints).toEqual([]);
    expect(model.warnings.map((w) => w.code)).toEqual(['ingress-not-ip', 'ingress-not-ip']);
  });

  it('places a remote zone reporting several localities once, in its nearest, with all reachable healthy endpoints', () => {
    const { endpoints } = cla({
      remoteInventories: [
        remoteApi('zone-b', '192.0.2.2:10001', [
          { region: 'eu-west', zone: 'zone-b', subzone: 'r1', endpoints: 2, healthy: 2 },
          { region: 'eu-west', zone: 'zone-b', subzone: 'r2', endpoints: 2, healthy: 1 },
        ]),
      ],
    });
    expect(endpoints).toEqual([expect.objectContaining({ locality: { region: 'eu-west', zone: 'zone-b' }, load_balancing_weight: { value: 3 }, priority: 0 })]);
  });

  it('never names an address twice, whoever repeats it', () => {
    const { endpoints, warnings } = cla({
      localEndpoints: [api('a-1', '10.0.0.1'), api('a-2', '10.0.0.1')],
      remoteInventories: [
        remoteApi('zone-b', '192.0.2.2:10001', [{ region: 'eu-west', zone: 'zone-b', endpoints: 1, healthy: 1 }]),
        remoteApi('zone-c', '192.0.2.2:10001', [{ region: 'us-east', zone: 'zone-c', endpoints: 1, healthy: 1 }]),
      ],
    });
    expect(addresses(endpoints)).toEqual(['10.0.0.1:80', '192.0.2.2:10001']);
    expect(warnings.map((w) => w.code)).toEqual(['duplicate-endpoint-address', 'duplicate-endpoint-address']);
  });

  it('merges local and remote endpoints that share a locality into one entry', () => {
    const shared = locality('eu-west', 'zone-b');
    const { endpoints } = cla({
      localEndpoints: [api('a-1', '10.0.0.1', { locality: shared })],
      remoteInventories: [remoteApi('zone-b', '192.0.2.2:10001', [{ region: 'eu-west', zone: 'zone-b', endpoints: 2, healthy: 2 }])],
    });
    expect(endpoints).toHaveLength(1);
    expect(endpoints[0]).toMatchObject({ load_balancing_weight: { value: 3 }, priority: 0 });
    expect(endpoints[0]!.lb_endpoints).toHaveLength(2);
  });

  it('applies the service\'s LocalityFailover: order, exclusion and spill-over', () => {
    const failover = policy('LocalityFailover', 'f', { targetRef: { kind: 'Tenant' }, crossRegion: [{ from: 'eu-west', to: ['ap-south'] }], spilloverThreshold: 50 });
    const { endpoints, resource } = cla({
      policies: [failover],
      localEndpoints: [api('a-1', '10.0.0.1')],
      remoteInventories: [
        remoteApi('zone-c', '192.0.2.3:1', [{ region: 'us-east', zone: 'zone-c', endpoints: 1, healthy: 1 }]),
        remoteApi('zone-d', '192.0.2.4:1', [{ region: 'ap-south', zone: 'zone-d', endpoints: 1, healthy: 1 }]),
      ],
    });
    expect(endpoints.map((e) => [e.locality.zone, e.priority])).toEqual([['zone-a', 0], ['zone-d', 1]]);
    expect(resource.policy).toEqual({ overprovisioning_factor: { value: 200 } });
  });

  it('keeps only a subset\'s local endpoints in its assignment', () => {
    const route = policy('TrafficRoute', 'r', { targetRef: { kind: 'Service', name: 'api', namespace: 'shop' }, rules: [{ split: [{ weight: 100, tags: { version: 'v2' } }] }] });
    const { endpoints } = cla({ policies: [route], localEndpoints: [api('a-1', '10.0.0.1', { tags: { version: 'v1' } }), api('a-2', '10.0.0.2', { tags: { version: 'v2', extra: 'x' } })] }, { tags: { version: 'v2' } });
    expect(addresses(endpoints)).toEqual(['10.0.0.2:80']);
  });

  it('leaves remote zones out of the ingress\'s assignments', () => {
    const { endpoints } = cla(
      { localEndpoints: [api('a-1', '10.0.0.1')], remoteInventories: [remoteApi('zone-b', '192.0.2.2:10001', [{ region: 'eu-west', zone: 'zone-b', endpoints: 1, healthy: 1 }])] },
      { includeRemote: false },
    );
    expect(addresses(endpoints)).toEqual(['10.0.0.1:80']);
  });

  it('omits endpoints that do not serve the port', () => {
    const { endpoints } = cla({ localEndpoints: [api('a-1', '10.0.0.1'), endpoint({ service: 'api', instance: 'a-2', address: '10.0.0.2', ports: [{ port: 81 }] })] });
    expect(addresses(endpoints)).toEqual(['10.0.0.1:80']);
  });
});

describe('remote zones in subset assignments', () => {
  const canary = policy('TrafficRoute', 'r', {
    targetRef: { kind: 'Service', name: 'api', namespace: 'shop' },
    rules: [{ split: [{ weight: 90, tags: { version: 'v1' } }, { weight: 10, tags: { version: 'v2', track: 'canary' } }] }],
  });
  const zoneB = { region: 'eu-west', zone: 'zone-b' };
  const INGRESSES: Record<string, string> = { 'zone-b': '192.0.2.2:10001', 'zone-c': '192.0.2.3:10001', 'zone-d': '192.0.2.4:10001' };
  type Counted = { tags: Record<string, string>; healthy: number };
  /** zone-b's api with its subset counts; `tagSets` undefined: an older zone CP that reports none. */
  const remoteWithSubsets = (zone: string, localities: Array<{ region: string; zone: string; subzone?: string; endpoints: number; healthy: number; tagSets?: Counted[]; truncated?: boolean }>, tagKeys = ['track', 'version']) => ({
    ...remoteApi(zone, INGRESSES[zone]!, localities.map(({ tagSets: _, truncated: __, ...l }) => l)),
    subsets: {
      tagKeys,
      services: [
        {
          namespace: 'shop',
          name: 'api',
          localities: localities.filter((l) => l.tagSets).map(({ endpoints: _, healthy: __, tagSets, truncated, ...where }) => ({ ...where, tagSets: tagSets!, ...(truncated ? { truncated } : {}) })),
        },
      ],
    },
  });
  const remoteOf = (endpoints: Rendered[]) => endpoints.filter((l) => l.locality.zone !== 'zone-a').map((l) => `${l.locality.zone}${l.locality.sub_zone ? `/${l.locality.sub_zone}` : ''} weight ${l.load_balancing_weight.value}`);

  it('names a remote zone\'s ingress in a subset\'s assignment only where it has healthy endpoints of the subset, weighted by them', () => {
    const remoteInventories = [
      remoteWithSubsets('zone-b', [{ ...zoneB, endpoints: 5, healthy: 4, tagSets: [{ tags: { version: 'v1' }, healthy: 3 }, { tags: { version: 'v2' }, healthy: 1 }] }]),
      remoteWithSubsets('zone-c', [{ region: 'eu-west', zone: 'zone-c', endpoints: 3, healthy: 3, tagSets: [{ tags: { track: 'canary', version: 'v2' }, healthy: 2 }] }]),
    ];
    const snapshot = { policies: [canary], localEndpoints: [api('a-1', '10.0.0.1', { tags: { version: 'v1' } })], remoteInventories };
    expect(remoteOf(cla(snapshot, { tags: { version: 'v1' } }).endpoints)).toEqual(['zone-b weight 3']);
    // v2 alone in zone-b is not the canary subset, which needs both tags.
    expect(remoteOf(cla(snapshot, { tags: { version: 'v2', track: 'canary' } }).endpoints)).toEqual(['zone-c weight 2']);
    // The whole service still counts every healthy endpoint.
    expect(remoteOf(cla(snapshot).endpoints)).toEqual(['zone-b weight 4', 'zone-c weight 3']);
  });

  it('places a remote zone in its nearest locality that has the subset, weighted by the subset in the reachable ones', () => {
    const { endpoints } = cla(
      {
        policies: [canary],
        remoteInventories: [
          remoteWithSubsets('zone-b', [
            { ...zoneB, subzone: 'r1', endpoints: 2, healthy: 2, tagSets: [{ tags: { version: 'v1' }, healthy: 2 }] },
            { ...zoneB, subzone: 'r2', endpoints: 3, healthy: 3, tagSets: [{ tags: { version: 'v1' }, healthy: 1 }, { tags: { track: 'canary', version: 'v2' }, healthy: 2 }] },
          ]),
        ],
      },
      { tags: { version: 'v2', track: 'canary' } },
    );
    expect(remoteOf(endpoints)).toEqual(['zone-b/r2 weight 2']);
  });

  it('keeps the ingress, weighted by every healthy endpoint there, where the zone cannot tell: no subset counts (an older zone CP), a tag key it did not count by, too many tag sets', () => {
    const snapshot = {
      policies: [canary],
      remoteInventories: [
        remoteApi('zone-b', '192.0.2.2:10001', [{ ...zoneB, endpoints: 4, healthy: 4 }]),
        // Counted by version only: the canary subset's track is unknown there.
        remoteWithSubsets('zone-c', [{ region: 'eu-west', zone: 'zone-c', endpoints: 3, healthy: 3, tagSets: [{ tags: { version: 'v1' }, healthy: 3 }] }], ['version']),
        remoteWithSubsets('zone-d', [{ region: 'eu-west', zone: 'zone-d', endpoints: 99, healthy: 90, tagSets: [], truncated: true }]),
      ],
    };
    expect(remoteOf(cla(snapshot, { tags: { version: 'v2', track: 'canary' } }).endpoints)).toEqual(['zone-b weight 4', 'zone-c weight 3', 'zone-d weight 90']);
    // Counted by version, zone-c has no v2: left out of v2-only subsets, but not of the canary's.
    const v2only = policy('TrafficRoute', 'r', { targetRef: { kind: 'Service', name: 'api', namespace: 'shop' }, rules: [{ split: [{ weight: 100, tags: { version: 'v2' } }] }] });
    expect(remoteOf(cla({ ...snapshot, policies: [v2only] }, { tags: { version: 'v2' } }).endpoints)).toEqual(['zone-b weight 4', 'zone-d weight 90']);
  });

  it('leaves out a zone that counts subsets but lists nothing for the service, and never weighs a subset above the locality\'s healthy total', () => {
    const listsNothing = { ...remoteApi('zone-b', '192.0.2.2:10001', [{ ...zoneB, endpoints: 2, healthy: 2 }]), subsets: { tagKeys: ['track', 'version'], services: [] } };
    expect(remoteOf(cla({ policies: [canary], remoteInventories: [listsNothing] }, { tags: { version: 'v1' } }).endpoints)).toEqual([]);
    expect(remoteOf(cla({ policies: [canary], remoteInventories: [listsNothing] }).endpoints)).toEqual(['zone-b weight 2']);
    const overcounted = remoteWithSubsets('zone-b', [{ ...zoneB, endpoints: 2, healthy: 1, tagSets: [{ tags: { version: 'v1' }, healthy: 5 }] }]);
    expect(remoteOf(cla({ policies: [canary], remoteInventories: [overcounted] }, { tags: { version: 'v1' } }).endpoints)).toEqual(['zone-b weight 1']);
  });

  it('renders again when only a remote zone\'s subset counts change', () => {
    const counted = (healthy: number) => remoteWithSubsets('zone-b', [{ ...zoneB, endpoints: 2, healthy: 2, tagSets: [{ tags: { version: 'v1' }, healthy }] }]);
    const snapshot = (healthy: number) => ({ name: 'acme', trustDomain: 'acme.mesh', policies: [canary], localEndpoints: [], remoteInventories: [counted(healthy)] });
    const before = buildTenantModel(snapshot(2));
    const same = buildTenantModel(snapshot(2), before);
    const after = buildTenantModel(snapshot(0), before);
    expect(same.byKey.get('shop/api')).toBe(before.byKey.get('shop/api'));
    expect(after.byKey.get('shop/api')).not.toBe(before.byKey.get('shop/api'));
  });
});

describe('serviceEndpoints', () => {
  it('renders one assignment per port and subset, named like the clusters', () => {
    const model = buildTenantModel(ACME);
    const names = serviceEndpoints(model.byKey.get('shop/payments')!, PROXY, { mtls: true }).resources.map((r) => r.name);
    expect(names).toEqual(['payments.shop.mesh:9090', 'payments.shop.mesh:9090|version=v1', 'payments.shop.mesh:9090|version=v2']);
  });

  it('gives every locality a weight of at least 1 and contiguous priorities from 0', () => {
    const model = buildTenantModel(ACME);
    for (const service of model.services) {
      for (const { resource } of serviceEndpoints(service, PROXY, { mtls: true }).resources) {
        const endpoints = resource.endpoints as Rendered[];
        for (const e of endpoints) expect(e.load_balancing_weight.value).toBeGreaterThanOrEqual(1);
        const levels = [...new Set(endpoints.map((e) => e.priority))].sort((a, b) => a - b);
        expect(levels).toEqual(levels.map((_, i) => i));
      }
    }
  });
});

describe('parseIngressAddress', () => {
  it('takes IPv4 and bracketed IPv6 literals with a port, nothing else', () => {
    expect(parseIngressAddress('192.0.2.1:10001')).toEqual({ address: '192.0.2.1', port: 10001 });
    expect(parseIngressAddress('[2001:db8::1]:443')).toEqual({ address: '2001:db8::1', port: 443 });
    for (const bad of ['ingress.example:10001', '192.0.2.1', '192.0.2.1:0', '192.0.2.1:70000', '2001:db8::1:443', '[192.0.2.1]:443', '[host]:1', '']) {
      expect(parseIngressAddress(bad), bad).toBeUndefined();
    }
  });
});
