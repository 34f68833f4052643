import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ZoneInventory } from '../../core/schemas/federation.js';
import { api, eventually, registerZone } from '../helpers/federation.js';
import { Cleanup, createTenant, startGlobal, startZone, type GlobalCp, type TestZone } from '../federation/fixtures.js';
import { startEchoServersOnOnePort, startTcpRelay, type EchoServer, type TcpRelay } from './echo-server.js';
import { ProxylessClient, proxylessBootstrap, type BatchResult } from './proxyless-driver.js';

/**
 * A real proxyless gRPC client (@grpc/grpc-js-xds, bootstrapped from a file,
 * in its own process) calls `xds:///echo.demo.mesh:<port>` through zone-a's
 * plaintext ADS port. Three zones: zone-a and zone-b in eu-west, zone-c in
 * us-east. Remote zones are reached through their "ingress": here a plain TCP
 * relay in front of their one echo backend (the real ingress is TLS-only;
 * proxyless here is plaintext).
 *
 * Every check is on where calls actually went (each backend answers its own
 * name), after waiting for the control planes and the client to converge.
 */

const TENANT = 'acme';
const NAMESPACE = 'demo';
const SERVICE = 'echo';
const NODE_ID = 'client-1';
const PROXY_ID = `${TENANT}/${NODE_ID}`;

/** Backend name → loopback address; all listen on one port (the service port). */
const BACKEND_HOSTS = { a1: '127.0.0.11', b1: '127.0.0.12', c1: '127.0.0.13', a2: '127.0.0.14' } as const;
type BackendName = keyof typeof BACKEND_HOSTS;
/** Backend → the zone it is registered in, and its version tag. */
const PLACEMENT: Record<BackendName, { zone: 'a' | 'b' | 'c'; version: string }> = {
  a1: { zone: 'a', version: 'v1' },
  b1: { zone: 'b', version: 'v1' },
  c1: { zone: 'c', version: 'v1' },
  a2: { zone: 'a', version: 'v2' },
};

const targetRef = { kind: 'Service', name: SERVICE, namespace: NAMESPACE };
const PROBE = { calls: 10, deadlineMs: 2000, concurrency: 10 } as const;
/** Every policy a check writes, [kind, name]: removed before each check. */
const POLICIES = [['TrafficRoute', 'canary'], ['Timeout', 'fast-fail'], ['Retry', 'unavailable']] as const;

describe('proxyless gRPC (grpc-js-xds) through the zone CP', () => {
  const cleanup = new Cleanup();
  let workDir: string;
  let gcp: GlobalCp;
  const zones = {} as Record<'a' | 'b' | 'c', TestZone>;
  let backends: Record<string, EchoServer>;
  const relays = {} as Record<'b' | 'c', TcpRelay>;
  const backendTokens = {} as Record<'a' | 'b' | 'c', string>;
  let client: ProxylessClient;
  let port: number;
  /** `echo.demo.mesh:<port>`: the listener, route configuration and cluster name. */
  let authority: string;
  /** What the client dials: `xds:///<authority>`. */
  let target: string;

  // ---- helpers that read the fixture ----

  async function register(name: BackendName, healthy = true): Promise<void> {
    const { zone, version } = PLACEMENT[name];
    const response = await fetch(`${zones[zone].cp.url}/api/v1/dataplanes`, {
      method: 'POST',
      headers: { authorization: `Bearer ${backendTokens[zone]}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        tenant: TENANT,
        namespace: NAMESPACE,
        service: SERVICE,
        instance: name,
        address: BACKEND_HOSTS[name],
        ports: [{ port, protocol: 'grpc' }],
        tags: { version },
        healthy,
      }),
    });
    expect(response.status, `register ${name} (healthy ${healthy}) in zone-${zone}: ${await response.text()}`).toBe(200);
  }

  async function deregister(name: BackendName): Promise<void> {
    const { zone } = PLACEMENT[name];
    const response = await fetch(`${zones[zone].cp.url}/api/v1/dataplanes/${SERVICE}/${name}`, { method: 'DELETE', headers: { authorization: `Bearer ${backendTokens[zone]}` } });
    expect([204, 404], `deregister ${name}`).toContain(response.status);
  }

  async function putPolicy(kind: string, name: string, spec: Record<string, unknown>): Promise<void> {
    const res = await api(gcp.url, 'PUT', `/tenants/${TENANT}/policies/${kind}/${name}`, { apiVersion: 'meshfed.io/v1alpha1', kind, metadata: { name }, spec });
    expect([200, 201], `PUT ${kind}/${name}: ${JSON.stringify(res.body)}`).toContain(res.status);
  }

  async function deletePolicy(kind: string, name: string): Promise<void> {
    const res = await api(gcp.url, 'DELETE', `/tenants/${TENANT}/policies/${kind}/${name}`);
    expect([200, 204, 404], `DELETE ${kind}/${name}: ${JSON.stringify(res.body)}`).toContain(res.status);
  }

  async function zoneGet<T>(zone: TestZone, path: string): Promise<{ status: number; body: T }> {
    const res = await fetch(`${zone.cp.url}/api/v1${path}`, { headers: { authorization: `Bearer ${zone.token}` } });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  }

  type ProxyStatus = { id: string; types: Record<string, { sentVersion: string | null; ackedVersion: string | null; lastNack: string | null }> };
  type ConfigDump = { config: Record<string, Array<{ name: string; resource: Record<string, unknown> }>> };

  /** The client's entry in zone-a's /api/v1/proxies, and the decoded config zone-a is sending it. */
  async function proxyState(): Promise<{ status: ProxyStatus | undefined; config: ConfigDump | undefined }> {
    const proxies = await zoneGet<{ items: ProxyStatus[] }>(zones.a, '/proxies');
    const status = proxies.body?.items?.find((p) => p.id === PROXY_ID);
    const config = status ? (await zoneGet<ConfigDump>(zones.a, `/proxies/${PROXY_ID}/config`)).body : undefined;
    return { status, config };
  }

  /** Waits until zone-a sends the client a config that passes `check`, and the client has ACKed every type of it. */
  async function configApplied(what: string, check: (config: ConfigDump) => void, timeoutMs = 20_000): Promise<void> {
    await diagnosed(what, () =>
      eventually(async () => {
        const { status, config } = await proxyState();
        expect(status, `${PROXY_ID} is connected to zone-a`).toBeDefined();
        check(config!);
        for (const [type, s] of Object.entries(status!.types)) {
          expect(s.lastNack, `${type} NACKed`).toBeNull();
          expect(s.ackedVersion, `${type} ACKed the version sent`).toBe(s.sentVersion);
        }
      }, timeoutMs, 100),
    );
  }

  const routeOf = (config: ConfigDump) => JSON.stringify(config.config.RouteConfiguration?.find((r) => r.name === authority)?.resource ?? null);

  /** The service's main assignment in zone-a's config for the client: `p<priority> <zone> <address> <health>` per endpoint. */
  function endpointSummary(config: ConfigDump | undefined, cluster = authority): string[] {
    const cla = config?.config.ClusterLoadAssignment?.find((r) => r.name === cluster)?.resource as
      | { endpoints?: Array<{ priority?: number; locality?: { zone?: string }; lb_endpoints?: Array<{ health_status?: string; endpoint?: { address?: { socket_address?: { address?: string; port_value?: number } } } }> }> }
      | undefined;
    return (cla?.endpoints ?? []).flatMap((l) =>
      (l.lb_endpoints ?? []).map((e) => `p${l.priority ?? 0} ${l.locality?.zone ?? '?'} ${e.endpoint?.address?.socket_address?.address}:${e.endpoint?.address?.socket_address?.port_value} ${e.health_status ?? 'UNKNOWN'}`),
    );
  }

  /** Everything useful when a check fails: proxies and their ACK/NACK state in every zone, the client's config, what zone-a holds, the client's log. */
  async function diagnostics(): Promise<string> {
    const report: Record<string, unknown> = {};
    for (const [key, zone] of Object.entries(zones)) report[`zone-${key} proxies`] = (await zoneGet(zone, '/proxies').catch((e: Error) => ({ body: e.message }))).body;
    const { config } = await proxyState().catch(() => ({ config: undefined }));
    report['client endpoints (main cluster)'] = endpointSummary(config);
    report['client config'] = config;
    const view = zones.a?.cp.tenants()[TENANT];
    report['zone-a view'] = view && { revision: view.revision, policies: Object.keys(view.policies), inventories: Object.values(view.inventories).map(inventorySummary) };
    report['zone-a dataplanes'] = (await zoneGet(zones.a, '/dataplanes').catch((e: Error) => ({ body: e.message }))).body;
    report['served'] = Object.fromEntries(Object.values(backends ?? {}).map((b) => [b.name, b.served]));
    report['relay connections'] = Object.fromEntries(Object.entries(relays).map(([k, r]) => [k, r.connections]));
    const full = JSON.stringify(report, null, 2);
    // Outside workDir, which afterAll removes: a failure's evidence must outlive the run.
    const file = join(tmpdir(), `meshfed-proxyless-diagnostics-${process.pid}-${Date.now()}.json`);
    await writeFile(file, `${full}\n\nclient log:\n${client?.log ?? ''}`).catch(() => undefined);
    return `diagnostics (full: ${file}):\n${full.slice(0, 12_000)}\nclient log (tail):\n${(client?.log ?? '').slice(-3000)}`;
  }

  /** Runs `fn`; a failure gets the diagnostics appended. */
  async function diagnosed<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(`${what}: ${message}\n${await diagnostics()}`, { cause: error });
    }
  }

  /** Probes until every call of a probe batch succeeds on `expected` (a set of backends), then returns. */
  async function convergeTo(expected: string[], timeoutMs = 20_000): Promise<void> {
    await diagnosed(`calls never converged to ${expected.join('+')}`, () =>
      eventually(async () => {
        const probe = await client.run(target, PROBE.calls, PROBE);
        expect(probe.errors, JSON.stringify(probe)).toEqual({});
        expect(Object.keys(probe.byBackend).sort(), JSON.stringify(probe)).toEqual([...expected].sort());
      }, timeoutMs, 100),
    );
  }

  /** A measured batch, checked with the diagnostics attached. */
  async function measure(calls: number, check: (result: BatchResult) => void, options: Parameters<ProxylessClient['run']>[2] = {}): Promise<BatchResult> {
    const result = await client.run(target, calls, options);
    await diagnosed(`batch of ${calls} calls: ${JSON.stringify(result)}`, async () => check(result));
    return result;
  }

  // ---- the fixture ----

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'meshfed-proxyless-'));
    cleanup.defer(() => rm(workDir, { recursive: true, force: true }));

    backends = await startEchoServersOnOnePort(BACKEND_HOSTS);
    for (const backend of Object.values(backends)) cleanup.add(backend);
    port = backends.a1!.port;
    authority = `${SERVICE}.${NAMESPACE}.mesh:${port}`;
    target = `xds:///${authority}`;
    relays.b = cleanup.add(await startTcpRelay('127.0.0.1', { host: BACKEND_HOSTS.b1, port }));
    relays.c = cleanup.add(await startTcpRelay('127.0.0.1', { host: BACKEND_HOSTS.c1, port }));

    gcp = await startGlobal(cleanup);
    const tokens = {
      a: await registerZone(gcp.url, 'zone-a', 'eu-west'),
      b: await registerZone(gcp.url, 'zone-b', 'eu-west'),
      c: await registerZone(gcp.url, 'zone-c', 'us-east'),
    };
    await createTenant(gcp.url, TENANT, ['zone-a', 'zone-b', 'zone-c']);
    // Dataplanes register once: keep them healthy for the whole file without reporting again.
    const common = { xdsDebounceMs: 20, dataplaneLiveness: { unhealthyAfterMs: 600_000, removeAfterMs: 1_200_000 } };
    [zones.a, zones.b, zones.c] = await Promise.all([
      startZone(cleanup, gcp, 'zone-a', tokens.a, { extra: { ...common, plaintextXdsListen: { host: '127.0.0.1', port: 0 } } }),
      startZone(cleanup, gcp, 'zone-b', tokens.b, { extra: { ...common, ingressAddress: relays.b.address } }),
      startZone(cleanup, gcp, 'zone-c', tokens.c, { extra: { ...common, ingressAddress: relays.c.address } }),
    ]);
    for (const [key, zone] of Object.entries(zones) as Array<['a' | 'b' | 'c', TestZone]>) {
      await zone.cp.synced();
      await eventually(() => expect(zone.cp.tenants()[TENANT], `${TENANT} placed in zone-${key}`).toBeDefined(), 15_000);
      backendTokens[key] = zone.cp.issueDataplaneToken({ tenant: TENANT, namespace: NAMESPACE, serviceAccount: 'echo' });
    }
    await register('a1');
    await register('b1');
    await register('c1');
    // zone-a must know both remote zones' echo before the client can fail over to them.
    await eventually(() => {
      const inventories = zones.a.cp.tenants()[TENANT]!.inventories;
      for (const zone of ['zone-b', 'zone-c']) {
        expect(inventories[zone]?.ingressAddress, `${zone} ingress in zone-a`).toBeTruthy();
        expect(healthyOf(inventories[zone], SERVICE), `${zone} echo healthy in zone-a's view`).toBe(1);
      }
    }, 15_000);

    expect(zones.a.cp.plaintextXdsAddress).toBeTruthy();
    const clientToken = zones.a.cp.issueDataplaneToken({ tenant: TENANT, namespace: NAMESPACE, serviceAccount: 'client' });
    client = cleanup.add(
      await ProxylessClient.start(
        workDir,
        proxylessBootstrap({
          serverUri: zones.a.cp.plaintextXdsAddress!,
          nodeId: NODE_ID,
          locality: { region: 'eu-west', zone: 'zone-a' },
          metadata: { 'meshfed.io/token': clientToken, 'meshfed.io/kind': 'proxyless' },
        }),
        process.env.MESHFED_TEST_GRPC_TRACE ? { trace: process.env.MESHFED_TEST_GRPC_TRACE } : {},
      ),
    );
    // grpc-js-xds subscribes only once a channel resolves: one call (its result does not matter) starts the ADS stream.
    await client.run(target, 1, { deadlineMs: 500 });
    await diagnosed('the client never connected to zone-a', () => eventually(async () => expect((await proxyState()).status).toBeDefined(), 15_000, 100));
  }, 60_000);

  afterAll(() => cleanup.run(), 30_000);

  /**
   * Every check starts from the same state, whatever the one before it left
   * behind when it failed: a1, b1, c1 healthy, no a2, no policies, and the
   * client calling a1 only.
   */
  beforeEach(async () => {
    await register('a1');
    await register('b1');
    await register('c1');
    await deregister('a2');
    for (const [kind, name] of POLICIES) await deletePolicy(kind, name);
    await configApplied('the plain route', (config) => {
      const route = routeOf(config);
      expect(route).toContain('"cluster"');
      for (const field of ['weighted_clusters', 'max_stream_duration']) expect(route).not.toContain(field);
      // Without a Retry policy, the default one (two retries, not the policy's three).
      expect(route).toContain('"num_retries":{"value":2}');
    });
    await convergeTo(['a1']);
  }, 45_000);

  // ---- the checks ----

  it('calls go to the local zone\'s backend, and only there', async () => {
    await measure(50, (r) => {
      expect(r.errors).toEqual({});
      expect(r.byBackend).toEqual({ a1: 50 });
    });
  }, 30_000);

  it('fails over to the same region\'s other zone, then to the other region, and comes back as health returns', async () => {
    // The failover levels behind the local one: zone-b (same region) through its ingress, then zone-c (other region).
    await configApplied('remote zones in the client\'s assignment', (config) => {
      expect(endpointSummary(config)).toEqual([`p0 zone-a ${BACKEND_HOSTS.a1}:${port} HEALTHY`, `p1 zone-b ${relays.b.address} HEALTHY`, `p2 zone-c ${relays.c.address} HEALTHY`]);
    });
    await register('a1', false);
    await convergeTo(['b1']);
    await measure(30, (r) => expect(r).toMatchObject({ byBackend: { b1: 30 }, errors: {} }));
    expect(relays.b.connections, 'zone-b was reached through its ingress').toBeGreaterThan(0);

    await register('b1', false);
    await convergeTo(['c1']);
    await measure(30, (r) => expect(r).toMatchObject({ byBackend: { c1: 30 }, errors: {} }));
    expect(relays.c.connections, 'zone-c was reached through its ingress').toBeGreaterThan(0);

    await register('b1', true);
    await convergeTo(['b1']);
    await measure(30, (r) => expect(r).toMatchObject({ byBackend: { b1: 30 }, errors: {} }));

    await register('a1', true);
    await convergeTo(['a1']);
    await measure(30, (r) => expect(r).toMatchObject({ byBackend: { a1: 30 }, errors: {} }));
  }, 60_000);

  it('honours a TrafficRoute 80/20 split by version within binomial 99.9 % bounds', async () => {
    await register('a2');
    await putPolicy('TrafficRoute', 'canary', { targetRef, rules: [{ split: [{ weight: 80, tags: { version: 'v1' } }, { weight: 20, tags: { version: 'v2' } }] }] });
    await configApplied('weighted route', (config) => expect(routeOf(config)).toContain('weighted_clusters'));
    // zone-b and zone-c run v1 only, and say so in their inventories' subset counts: their ingresses back up v1, never v2.
    await configApplied('subset assignments naming only zones that run the subset', (config) => {
      expect(endpointSummary(config, `${authority}|version=v1`)).toEqual([`p0 zone-a ${BACKEND_HOSTS.a1}:${port} HEALTHY`, `p1 zone-b ${relays.b.address} HEALTHY`, `p2 zone-c ${relays.c.address} HEALTHY`]);
      expect(endpointSummary(config, `${authority}|version=v2`)).toEqual([`p0 zone-a ${BACKEND_HOSTS.a2}:${port} HEALTHY`]);
    });
    await convergeTo(['a1', 'a2']);
    const n = 400;
    const p = 0.8;
    const z = 3.29; // two-sided 99.9 %
    const half = z * Math.sqrt(n * p * (1 - p));
    const [low, high] = [Math.floor(n * p - half), Math.ceil(n * p + half)];
    await measure(
      n,
      (r) => {
        expect(r.errors).toEqual({});
        expect(Object.keys(r.byBackend).sort(), 'only the local v1 and v2 backends').toEqual(['a1', 'a2']);
        expect(r.byBackend.a1, `v1 share out of ${n}, bounds [${low}, ${high}]`).toBeGreaterThanOrEqual(low);
        expect(r.byBackend.a1, `v1 share out of ${n}, bounds [${low}, ${high}]`).toBeLessThanOrEqual(high);
      },
      { concurrency: 8 },
    );
  }, 40_000);

  it('applies a Timeout policy\'s request timeout: DEADLINE_EXCEEDED well before the slow backend answers', async () => {
    // Without the policy, a slow call simply takes its time.
    await measure(1, (r) => {
      expect(r.byBackend).toEqual({ a1: 1 });
      expect(r.minMs).toBeGreaterThanOrEqual(1400);
    }, { request: { delay_ms: 1500 }, deadlineMs: 10_000 });
    await putPolicy('Timeout', 'fast-fail', { targetRef, request: '300ms' });
    await configApplied('route with max_stream_duration', (config) => expect(routeOf(config)).toContain('max_stream_duration'));
    await measure(5, (r) => {
      expect(r.byBackend).toEqual({});
      expect(r.errors).toEqual({ DEADLINE_EXCEEDED: 5 });
      expect(r.minMs, 'not before the policy\'s 300ms').toBeGreaterThanOrEqual(250);
      expect(r.maxErrorMs, 'well under the backend\'s 3 s (and the client\'s own 10 s deadline)').toBeLessThan(1500);
    }, { request: { delay_ms: 3000 }, deadlineMs: 10_000, concurrency: 5 });
  }, 40_000);

  it('applies a Retry policy: a backend failing every other call with UNAVAILABLE is invisible to the client', async () => {
    const flaky = { request: { fail_every: 2 }, deadlineMs: 5000 };
    // meshfed's default retry covers UNAVAILABLE: a policy that retries only CANCELLED replaces it, and every other call fails.
    await putPolicy('Retry', 'unavailable', { targetRef, attempts: 1, retryOn: ['cancelled'] });
    await configApplied('route with the cancelled-only retry_policy', (config) => expect(routeOf(config)).toContain('"retry_on":"cancelled"'));
    await measure(20, (r) => {
      expect(r.errors.UNAVAILABLE ?? 0, 'failures without retries').toBeGreaterThan(0);
      expect(Object.keys(r.errors)).toEqual(['UNAVAILABLE']);
      expect(r.byBackend.a1 ?? 0, 'successes without retries').toBeGreaterThan(0);
    }, flaky);
    await putPolicy('Retry', 'unavailable', { targetRef, attempts: 3, retryOn: ['unavailable'] });
    await configApplied('route with the policy\'s retry_policy', (config) => expect(routeOf(config)).toContain('"num_retries":{"value":3}'));
    const servedBefore = backends.a1!.served;
    await measure(40, (r) => {
      expect(r.errors).toEqual({});
      expect(r.byBackend).toEqual({ a1: 40 });
    }, flaky);
    // The backend really did fail and the client retried: about one extra try per two calls.
    expect(backends.a1!.served - servedBefore, 'tries the backend saw for 40 calls').toBeGreaterThanOrEqual(55);
  }, 40_000);
});

function healthyOf(inventory: ZoneInventory | undefined, service: string): number {
  const found = inventory?.services.find((s) => s.name === service && s.namespace === NAMESPACE);
  return (found?.localities ?? []).reduce((total, l) => total + l.healthy, 0);
}

function inventorySummary(inventory: ZoneInventory): Record<string, unknown> {
  return { zone: inventory.zone, ingress: inventory.ingressAddress, services: inventory.services.map((s) => ({ service: `${s.namespace}/${s.name}`, ports: s.ports.map((p) => p.port), localities: s.localities })) };
}
