import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../core/log.js';
import { KubernetesDiscovery } from '../../zone-cp/discovery/kubernetes.js';
import type { LocalEndpoint } from '../../zone-cp/discovery/model.js';
import { eventually } from '../helpers/eventually.js';
import { kubeConfigFor, startFakeApiServer, type FakeApiServer, type FakeKind } from './fake-apiserver.js';
import { namespace, pod, podEndpoint, service, slice } from './fixtures.js';

const KINDS: FakeKind[] = ['Namespace', 'Service', 'EndpointSlice', 'Pod'];

/** One line per endpoint, sorted: what the assertions compare. */
const summary = (endpoints: LocalEndpoint[] | undefined) =>
  (endpoints ?? []).map((e) => `${e.tenant}/${e.namespace}/${e.service}/${e.instance} ${e.address} ${e.healthy ? 'healthy' : 'unhealthy'}`).sort();

describe('KubernetesDiscovery against a fake apiserver', () => {
  let server: FakeApiServer;
  let discovery: KubernetesDiscovery | undefined;
  let deliveries: LocalEndpoint[][];
  const latest = () => summary(deliveries.at(-1));

  beforeEach(async () => {
    server = await startFakeApiServer({ bookmarkIntervalMs: 100 });
    deliveries = [];
    server.put(namespace('shop', 'acme'));
    server.put(namespace('kube-system'));
    server.put(service('shop', 'web'));
    server.put(service('kube-system', 'dns'));
    server.put(pod('shop', 'web-1', { serviceAccount: 'web' }));
    server.put(pod('kube-system', 'dns-1'));
    server.put(slice('shop', 'web-a', 'web', [podEndpoint('shop', 'web-1', '10.0.0.1')]));
    server.put(slice('kube-system', 'dns-a', 'dns', [podEndpoint('kube-system', 'dns-1', '10.0.9.1')]));
  });

  afterEach(async () => {
    await discovery?.stop();
    discovery = undefined;
    await server.close();
  });

  async function startDiscovery(): Promise<KubernetesDiscovery> {
    discovery = new KubernetesDiscovery({
      kubeConfig: kubeConfigFor(server),
      defaultLocality: { region: 'eu-west', zone: 'eu-west-1a' },
      log: createLogger('kubernetes-discovery-test', 'silent'),
      backoff: { initialMs: 20, maxMs: 200 },
    });
    await discovery.start((endpoints) => deliveries.push(endpoints));
    return discovery;
  }

  const allWatching = () => eventually(() => KINDS.forEach((k) => expect(server.openWatches(k), k).toBe(1)));

  it('delivers the initial listing once, then follows adds, readiness and deletes', async () => {
    const d = await startDiscovery();
    expect(d.ready()).toBe(true);
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]).toMatchObject([{ tenant: 'acme', serviceAccount: 'web', ports: [{ port: 80, targetPort: 8080, protocol: 'http' }] }]);
    expect(latest()).toEqual(['acme/shop/web/web-1 10.0.0.1 healthy']);

    server.put(pod('shop', 'web-2'));
    server.put(slice('shop', 'web-b', 'web', [podEndpoint('shop', 'web-2', '10.0.0.2')]));
    await eventually(() => expect(latest()).toEqual(['acme/shop/web/web-1 10.0.0.1 healthy', 'acme/shop/web/web-2 10.0.0.2 healthy']));

    server.put(slice('shop', 'web-b', 'web', [podEndpoint('shop', 'web-2', '10.0.0.2', { conditions: { ready: false } })]));
    await eventually(() => expect(latest()).toEqual(['acme/shop/web/web-1 10.0.0.1 healthy', 'acme/shop/web/web-2 10.0.0.2 unhealthy']));

    server.delete('EndpointSlice', 'shop', 'web-b');
    server.delete('Pod', 'shop', 'web-2');
    await eventually(() => expect(latest()).toEqual(['acme/shop/web/web-1 10.0.0.1 healthy']));
  });

  it('watches with the resourceVersion it listed at, a server-side timeout and bookmarks', async () => {
    await startDiscovery();
    await allWatching();
    const watches = server.requests.filter((u) => u.searchParams.get('watch') === 'true');
    expect(watches.map((u) => u.pathname).sort()).toEqual(['/api/v1/namespaces', '/api/v1/pods', '/api/v1/services', '/apis/discovery.k8s.io/v1/endpointslices']);
    for (const u of watches) {
      expect(Object.fromEntries(u.searchParams)).toEqual({ watch: 'true', resourceVersion: server.resourceVersion, timeoutSeconds: '300', allowWatchBookmarks: 'true' });
    }
  });

  it.each([{ graceful: false }, { graceful: true }])('re-watches after the watches are dropped (%o) and keeps following', async (how) => {
    await startDiscovery();
    await allWatching();
    expect(server.dropWatches(how)).toBe(4);
    await allWatching();
    server.put(pod('shop', 'web-3'));
    server.put(slice('shop', 'web-c', 'web', [podEndpoint('shop', 'web-3', '10.0.0.3')]));
    await eventually(() => expect(latest()).toEqual(['acme/shop/web/web-1 10.0.0.1 healthy', 'acme/shop/web/web-3 10.0.0.3 healthy']));
  });

  it.each([{ graceful: false }, { graceful: true }])('relists after 410 Gone and sees what changed while the watch was down (%o), deletions included', async (how) => {
    await startDiscovery();
    await allWatching();
    const lists = () => server.requests.filter((u) => u.searchParams.get('watch') !== 'true').length;
    const listsBefore = lists();
    // All in one tick: no informer can re-watch before the history they would need is compacted away.
    server.dropWatches(how);
    server.delete('EndpointSlice', 'shop', 'web-a');
    server.delete('Pod', 'shop', 'web-1');
    server.put(pod('shop', 'web-4'));
    server.put(slice('shop', 'web-d', 'web', [podEndpoint('shop', 'web-4', '10.0.0.4')]));
    server.compact();
    await eventually(() => expect(latest()).toEqual(['acme/shop/web/web-4 10.0.0.4 healthy']));
    // Every informer's resourceVersion was compacted away: each had to list again.
    expect(lists() - listsBefore).toBeGreaterThanOrEqual(4);
    await allWatching();
    server.put(slice('shop', 'web-d', 'web', [podEndpoint('shop', 'web-4', '10.0.0.4', { conditions: { ready: false } })]));
    await eventually(() => expect(latest()).toEqual(['acme/shop/web/web-4 10.0.0.4 unhealthy']));
  });

  it('keeps retrying lists that fail at start, and is ready only after all succeeded', async () => {
    server.failLists(5);
    const d = new KubernetesDiscovery({
      kubeConfig: kubeConfigFor(server),
      defaultLocality: { region: 'eu-west', zone: 'eu-west-1a' },
      log: createLogger('kubernetes-discovery-test', 'silent'),
      backoff: { initialMs: 20, maxMs: 100 },
    });
    discovery = d;
    const started = d.start((endpoints) => deliveries.push(endpoints));
    expect(d.ready()).toBe(false);
    await started;
    expect(d.ready()).toBe(true);
    expect(deliveries.map(summary)).toEqual([['acme/shop/web/web-1 10.0.0.1 healthy']]);
  });

  it('delivers nothing after stop() and closes its watches', async () => {
    const d = await startDiscovery();
    await allWatching();
    await d.stop();
    await eventually(() => expect(server.openWatches()).toBe(0));
    const count = deliveries.length;
    server.put(pod('shop', 'web-5'));
    server.put(slice('shop', 'web-e', 'web', [podEndpoint('shop', 'web-5', '10.0.0.5')]));
    // A negative can only be observed by waiting: several debounce periods and retry back-offs.
    await new Promise((r) => setTimeout(r, 300));
    expect(deliveries).toHaveLength(count);
    expect(server.openWatches()).toBe(0);
  });
});
