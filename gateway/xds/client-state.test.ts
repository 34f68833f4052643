import { describe, expect, it } from 'vitest';
import { TYPE_URL, encodeResource, type ResourceType } from '../../core/xds/protos.js';
import { encodedSet, generatedSets } from '../../test/gateway/generated-resources.js';
import { AdsClientState, type DiscoveryResponse } from './client-state.js';
import { missingReferences, nothingMissing } from './snapshot.js';
import { validateResource } from './validate.js';

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } };

const listener = (port: number) => ({
  name: `outbound:${port}`,
  address: { socket_address: { address: '127.0.0.1', port_value: port } },
  filter_chains: [{ filters: [{ name: 'hcm', typed_config: { '@type': HCM, stat_prefix: `o${port}`, rds: { config_source: { ads: {} }, route_config_name: `outbound:${port}` }, http_filters: [ROUTER] } }] }],
});
const routeConfig = (port: number, cluster: string) => ({ name: `outbound:${port}`, virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster } }] }] });
const edsCluster = (name: string, serviceName?: string) => ({ name, type: 'EDS', eds_cluster_config: { eds_config: { ads: {} }, ...(serviceName ? { service_name: serviceName } : {}) } });
const assignment = (name: string, address = '10.0.0.1') => ({ cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address, port_value: 8080 } } } }] }] });

let nonce = 0;
const response = (type: ResourceType, resources: Record<string, unknown>[], version = `v${++nonce}`): DiscoveryResponse => ({
  type_url: TYPE_URL[type],
  version_info: version,
  nonce: `n${++nonce}`,
  resources: resources.map((r) => encodeResource(TYPE_URL[type], r)),
});

describe('AdsClientState', () => {
  it('opens with wildcard LDS and CDS, then subscribes RDS and EDS to the names they reference, ACKing each response', () => {
    const state = new AdsClientState(validateResource);
    expect(state.streamOpened()).toEqual([
      { type_url: TYPE_URL.listener, resource_names: [], version_info: '', response_nonce: '' },
      { type_url: TYPE_URL.cluster, resource_names: [], version_info: '', response_nonce: '' },
    ]);

    const lds = response('listener', [listener(8080), listener(9090)]);
    const afterLds = state.onResponse(lds);
    expect(afterLds.outcome).toEqual({ kind: 'ack', type: 'listener', version: lds.version_info, changed: true });
    expect(afterLds.requests).toEqual([
      { type_url: TYPE_URL.listener, resource_names: [], version_info: lds.version_info, response_nonce: lds.nonce },
      { type_url: TYPE_URL.route, resource_names: ['outbound:8080', 'outbound:9090'], version_info: '', response_nonce: '' },
    ]);

    const cds = response('cluster', [edsCluster('web.shop.mesh:8080'), edsCluster('api.shop.mesh:9090', 'api-eds')]);
    expect(state.onResponse(cds).requests).toEqual([
      { type_url: TYPE_URL.cluster, resource_names: [], version_info: cds.version_info, response_nonce: cds.nonce },
      { type_url: TYPE_URL.endpoint, resource_names: ['api-eds', 'web.shop.mesh:8080'], version_info: '', response_nonce: '' },
    ]);
    expect(missingReferences(state.snapshot())).toEqual({ routes: ['outbound:8080', 'outbound:9090'], clusters: [], endpoints: ['api-eds', 'web.shop.mesh:8080'] });

    const rds = response('route', [routeConfig(8080, 'web.shop.mesh:8080'), routeConfig(9090, 'api.shop.mesh:9090')]);
    expect(state.onResponse(rds).requests).toEqual([{ type_url: TYPE_URL.route, resource_names: ['outbound:8080', 'outbound:9090'], version_info: rds.version_info, response_nonce: rds.nonce }]);
    const eds = response('endpoint', [assignment('api-eds'), assignment('web.shop.mesh:8080')]);
    state.onResponse(eds);
    const snapshot = state.snapshot();
    expect(nothingMissing(missingReferences(snapshot))).toBe(true);
    expect([...snapshot.endpoints.keys()]).toEqual(['api-eds', 'web.shop.mesh:8080']);
    expect(snapshot.versions).toEqual({ listener: lds.version_info, route: rds.version_info, cluster: cds.version_info, endpoint: eds.version_info });

    // The same content again: ACKed, but nothing changed.
    expect(state.onResponse(response('endpoint', [assignment('web.shop.mesh:8080'), assignment('api-eds')])).outcome).toMatchObject({ kind: 'ack', changed: false });
  });

  it('NACKs a response with an invalid resource as a whole and keeps the previous resources and version', () => {
    const state = new AdsClientState(validateResource);
    state.streamOpened();
    state.onResponse(response('cluster', [edsCluster('web')]));
    const good = response('endpoint', [assignment('web')]);
    state.onResponse(good);
    const bad = response('endpoint', [assignment('web', 'web.example')]);
    const { outcome, requests } = state.onResponse(bad);
    expect(outcome).toEqual({ kind: 'nack', type: 'endpoint', version: bad.version_info, reason: 'endpoint web: an endpoint address "web.example" is not an IP literal' });
    expect(requests).toEqual([
      {
        type_url: TYPE_URL.endpoint,
        resource_names: ['web'],
        version_info: good.version_info,
        response_nonce: bad.nonce,
        error_detail: { code: 3, message: 'endpoint web: an endpoint address "web.example" is not an IP literal' },
      },
    ]);
    expect(state.version('endpoint')).toBe(good.version_info);
    expect(state.lastNack('endpoint')).toMatch(/not an IP literal/);
    expect(JSON.stringify(state.snapshot().endpoints.get('web'))).toContain('10.0.0.1');

    // Duplicates, a resource of another type, and bytes that do not decode are refused too.
    expect(state.onResponse(response('cluster', [edsCluster('a'), edsCluster('a')])).outcome).toMatchObject({ kind: 'nack', reason: 'cluster a appears twice' });
    const mixed = response('cluster', [edsCluster('a')]);
    mixed.resources[0]!.type_url = TYPE_URL.listener;
    expect(state.onResponse(mixed).outcome).toMatchObject({ kind: 'nack', reason: expect.stringMatching(/is a .*Listener, not a .*Cluster/) });
    const garbage = response('cluster', []);
    garbage.resources.push({ type_url: TYPE_URL.cluster, value: Buffer.from([0xff, 0xff, 0xff]) });
    expect(state.onResponse(garbage).outcome).toMatchObject({ kind: 'nack', reason: expect.stringMatching(/does not decode/) });
    expect([...state.snapshot().clusters.keys()]).toEqual(['web']);
    // A validator that throws is a NACK, not a crash.
    const throwing = new AdsClientState(() => {
      throw new Error('boom');
    });
    expect(throwing.onResponse(response('cluster', [edsCluster('a')])).outcome).toMatchObject({ kind: 'nack', reason: 'cluster a: validation failed: boom' });
  });

  it('drops route configurations and assignments no longer referenced, and unsubscribes them', () => {
    const state = new AdsClientState(validateResource);
    state.streamOpened();
    state.onResponse(response('listener', [listener(8080), listener(9090)]));
    state.onResponse(response('route', [routeConfig(8080, 'a'), routeConfig(9090, 'b')]));
    state.onResponse(response('cluster', [edsCluster('a'), edsCluster('b')]));
    const eds = response('endpoint', [assignment('a'), assignment('b')]);
    state.onResponse(eds);

    const lds = state.onResponse(response('listener', [listener(8080)]));
    expect(lds.outcome).toMatchObject({ kind: 'ack', changed: true });
    expect(lds.requests[1]).toMatchObject({ type_url: TYPE_URL.route, resource_names: ['outbound:8080'] });
    const cds = state.onResponse(response('cluster', [edsCluster('a')]));
    expect(cds.requests[1]).toEqual({ type_url: TYPE_URL.endpoint, resource_names: ['a'], version_info: eds.version_info, response_nonce: eds.nonce });
    const snapshot = state.snapshot();
    expect([...snapshot.routes.keys()]).toEqual(['outbound:8080']);
    expect([...snapshot.endpoints.keys()]).toEqual(['a']);
    // Unasked-for resources in an RDS/EDS response are ignored; a partial response keeps what it leaves out.
    state.onResponse(response('endpoint', [assignment('zzz')]));
    expect([...state.snapshot().endpoints.keys()]).toEqual(['a']);
  });

  it('resubscribes everything it holds on a new stream, with its versions and no nonces', () => {
    const state = new AdsClientState(validateResource);
    state.streamOpened();
    const lds = response('listener', [listener(8080)]);
    const cds = response('cluster', [edsCluster('a')]);
    state.onResponse(lds);
    state.onResponse(cds);
    expect(state.streamOpened()).toEqual([
      { type_url: TYPE_URL.listener, resource_names: [], version_info: lds.version_info, response_nonce: '' },
      { type_url: TYPE_URL.cluster, resource_names: [], version_info: cds.version_info, response_nonce: '' },
      { type_url: TYPE_URL.route, resource_names: ['outbound:8080'], version_info: '', response_nonce: '' },
      { type_url: TYPE_URL.endpoint, resource_names: ['a'], version_info: '', response_nonce: '' },
    ]);
  });

  it('NACKs a type it does not know', () => {
    const state = new AdsClientState(validateResource);
    const { outcome, requests } = state.onResponse({ type_url: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret', version_info: '1', nonce: 'x', resources: [] });
    expect(outcome).toBeUndefined();
    expect(requests[0]?.error_detail?.message).toMatch(/is not supported/);
  });

  it('restores what held() saved, all or nothing', () => {
    const state = new AdsClientState(validateResource);
    state.streamOpened();
    state.onResponse(response('listener', [listener(8080)]));
    state.onResponse(response('route', [routeConfig(8080, 'a')]));
    const held = state.held();
    const restored = new AdsClientState(validateResource);
    expect(restored.restore(held)).toBeUndefined();
    expect(restored.snapshot()).toEqual(state.snapshot());
    const broken = structuredClone(held);
    broken.route.resources[0]!.value = Buffer.from([0xff, 0xff]);
    const untouched = new AdsClientState(validateResource);
    expect(untouched.restore(broken)).toMatch(/does not decode/);
    expect(untouched.snapshot().listeners.size).toBe(0);
  });

  it('takes a whole generated sidecar and ingress config and finds it consistent', () => {
    const sets = generatedSets();
    for (const kind of ['sidecar', 'ingress'] as const) {
      const encoded = encodedSet(sets[kind]);
      const state = new AdsClientState(validateResource);
      state.streamOpened();
      for (const type of ['cluster', 'endpoint', 'listener', 'route'] as const) {
        const { outcome } = state.onResponse({ type_url: TYPE_URL[type], version_info: '1', nonce: type, resources: encoded[type] });
        expect(outcome?.kind, `${kind} ${type}`).toBe('ack');
      }
      expect(missingReferences(state.snapshot()), kind).toEqual({ routes: [], clusters: [], endpoints: [] });
      expect(state.snapshot().endpoints.size, kind).toBe(encoded.endpoint.length);
    }
  });
});
