/**
 * End to end, on a local federation this file starts (fixtures/resilience.yaml:
 * zone-a with acme's echo v1 and globex's echo, zone-b with acme's echo v2; a
 * client per zone for acme and one for globex, with the built-in load
 * generators): a canary split, then the loss of parts of the federation while
 * the load generators keep calling — a zone CP restarted, NATS restarted, and
 * last (it is not brought back) the global CP stopped. Traffic is judged by
 * the load generators' own numbers: zero failed requests in the windows that
 * matter, and answers only from the caller's own tenant.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../deploy/local/free-port.js';
import { loadTopology } from '../../deploy/local/topology.js';
import { startTopology, type RunningClient, type RunningTopology } from '../../deploy/local/topology-runner.js';
import type { TrafficWindow } from '../../deploy/local/traffic.js';
import type { RunningLocalZone } from '../../deploy/local/zone-runner.js';
import { eventually } from '../helpers/eventually.js';
import { ROOT } from '../helpers/processes.js';

interface ZoneState {
  natsConnected: boolean;
  authenticated: boolean;
  tenants: Record<string, { revision: number; policies: Record<string, unknown> }>;
}
interface GlobalZone {
  metadata: { name: string };
  status: { state: string; lastSeen: string | null; tenants: Array<{ name: string; revision: number; appliedRevision: number | null; upToDate: boolean }> };
}

const CANARY_WEIGHT = 20;

let running: RunningTopology;
let dataDir: string;
const lines: string[] = [];

const zone = (name: string): RunningLocalZone => running.zones.find((z) => z.plan.name === name)!;
const acmeClients = (): RunningClient[] => running.clients.filter((c) => c.tenant === 'acme');

async function json<T>(url: string, token?: string): Promise<T> {
  const response = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(3000) });
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

const zoneState = (name: string) => json<ZoneState>(`${zone(name).cp.url}/api/v1/state`);

async function putPolicy(tenant: string, kind: string, name: string, spec: unknown): Promise<void> {
  const response = await fetch(`${running.federation.globalCp.url}/api/v1/tenants/${tenant}/policies/${kind}/${name}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${running.federation.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ spec }),
  });
  expect(response.status, await response.clone().text()).toBeOneOf([200, 201]);
}

/** What every client saw in [from, to), once requests sent before `to` have had time to finish. */
async function trafficBetween(from: number, to: number): Promise<Array<{ client: string; window: TrafficWindow; failedAtS: number[] }>> {
  const settle = to + 1500 - Date.now();
  if (settle > 0) await sleep(settle);
  return running.clients.map((c) => {
    // For the failure message: at which seconds into the window requests failed.
    const failedAtS: number[] = [];
    for (let t = from; t < to; t += 1000) if (c.stats.between(t, Math.min(to, t + 1000)).failed) failedAtS.push((t - from) / 1000);
    return { client: `${c.zone} ${c.tenant} ${c.calls}`, window: c.stats.between(from, to), failedAtS };
  });
}

/** No client had a failure or a foreign answer, and each sent about what its rate says. */
function expectCleanTraffic(windows: Array<{ client: string; window: TrafficWindow; failedAtS: number[] }>, what: string): void {
  const why = `${what}:\n${JSON.stringify(windows, null, 1)}`;
  for (const { window } of windows) {
    expect(window.sent, why).toBeGreaterThan(window.seconds * 5);
    expect(window.failed, why).toBe(0);
    expect(window.foreignTenant, why).toBe(0);
  }
}

async function sidecarsConnected(z: RunningLocalZone): Promise<void> {
  const gateways = [z.ingress.url, ...z.workloads.map((w) => w.sidecar.url)];
  const statuses = await Promise.all(gateways.map((url) => json<{ zoneCpConnected: boolean }>(`${url}/status`)));
  expect(statuses.map((s) => s.zoneCpConnected)).toEqual(gateways.map(() => true));
}

/** Polls `condition` every 100 ms until stopped; `stop` says whether it was ever true. Errors count as false. */
function watch(condition: () => Promise<boolean>): { stop(): Promise<boolean> } {
  let seen = false;
  let stopped = false;
  const loop = (async () => {
    while (!stopped && !seen) {
      seen = await condition().catch(() => false);
      await sleep(100);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return seen;
    },
  };
}

beforeAll(async () => {
  const loaded = await loadTopology('test/e2e/fixtures/resilience.yaml', ROOT);
  dataDir = await mkdtemp(join(tmpdir(), 'meshfed-e2e-resilience-'));
  running = await startTopology({ loaded, dataDir, port: await freePort(), version: 'test', logLevel: 'silent', say: (l) => lines.push(l), heartbeatIntervalMs: 1000 });
}, 90_000);

afterAll(async () => {
  if (process.env.MESHFED_E2E_VERBOSE) console.warn(lines.filter((l) => l.startsWith('v2 answered')).join('\n'));
  await running?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
}, 30_000);

describe('a federation under change and partial failure', () => {
  it('starts with every client answered by its own tenant only, acme at home', async () => {
    expect(running.clients.map((c) => `${c.zone}/${c.tenant}`).sort()).toEqual(['zone-a/acme', 'zone-a/globex', 'zone-b/acme']);
    const settled = await eventually(async () => {
      const windows = running.traffic(2);
      for (const { window } of windows) {
        expect(window.sent).toBeGreaterThan(0);
        expect(window.failed).toBe(0);
      }
      return windows;
    }, 20_000, 500);
    for (const { zone: z, tenant, window } of settled) {
      expect(window.foreignTenant).toBe(0);
      // No route yet: each client's echo answers in its own zone (acme v1 in zone-a, v2 in zone-b; globex in zone-a).
      expect(Object.keys(window.byZone), `${z}/${tenant}`).toEqual([z]);
    }
  }, 30_000);

  it(`splits acme's echo ${100 - CANARY_WEIGHT}/${CANARY_WEIGHT} between v1 and v2 by TrafficRoute, within binomial bounds`, async () => {
    await putPolicy('acme', 'TrafficRoute', 'echo-canary', {
      targetRef: { kind: 'Service', name: 'echo', namespace: 'shop' },
      rules: [{ split: [{ weight: 100 - CANARY_WEIGHT, tags: { version: 'v1' } }, { weight: CANARY_WEIGHT, tags: { version: 'v2' } }] }],
    });
    for (const name of ['zone-a', 'zone-b']) {
      await eventually(async () => expect(Object.keys((await zoneState(name)).tenants.acme?.policies ?? {})).toContain('TrafficRoute/echo-canary'), 20_000, 250);
    }
    // The split is in effect once zone-a's client gets v2 (zone-b) answers and zone-b's gets v1 (zone-a) ones.
    await eventually(() => {
      for (const c of acmeClients()) {
        const other = c.zone === 'zone-a' ? 'zone-b' : 'zone-a';
        expect(c.stats.window(2).byZone[other] ?? 0, c.zone).toBeGreaterThan(0);
      }
    }, 20_000, 250);
    await sleep(1000);

    const from = Date.now();
    await sleep(10_000);
    const windows = await trafficBetween(from, Date.now());
    expectCleanTraffic(windows, 'canary window');
    let n = 0;
    let v2 = 0;
    for (const c of acmeClients()) {
      const window = c.stats.between(from, from + 10_000);
      n += window.ok;
      v2 += window.byZone['zone-b'] ?? 0;
      expect(Object.keys(window.byZone).every((z) => z === 'zone-a' || z === 'zone-b')).toBe(true);
    }
    const p = CANARY_WEIGHT / 100;
    const sd = Math.sqrt(n * p * (1 - p));
    const why = `v2 answered ${v2} of ${n} (expected ${n * p} ± 4 × ${sd.toFixed(1)})`;
    lines.push(why);
    expect(n, why).toBeGreaterThanOrEqual(300);
    expect(Math.abs(v2 - n * p), why).toBeLessThanOrEqual(4 * sd);
  }, 60_000);

  it('keeps serving while zone-a\'s CP restarts; it comes back with its config and its proxies reconnect', async () => {
    const z = zone('zone-a');
    const before = await zoneState('zone-a');
    const beforeRevision = before.tenants.acme!.revision;
    const oldUrl = z.cp.url;
    const oldGrpc = z.cp.grpcAddress;

    const from = Date.now();
    // The restart is real: the zone's sidecars lose their zone CP for a while.
    const seenDisconnected = watch(async () => !(await json<{ zoneCpConnected: boolean }>(`${z.workloads[0]!.sidecar.url}/status`)).zoneCpConnected);
    await z.restartControlPlane({ downMs: 1500 });
    expect(await seenDisconnected.stop(), 'a sidecar saw its zone CP go away').toBe(true);
    expect(z.cp.url).toBe(oldUrl);
    expect(z.cp.grpcAddress).toBe(oldGrpc);
    await eventually(() => sidecarsConnected(z), 30_000, 250);
    // The new zone CP sees every proxy of the zone on its ADS server again.
    const zoneToken = readFileSync(running.zoneTokenFile('zone-a'), 'utf8').trim();
    await eventually(async () => {
      const proxies = await json<{ items: Array<{ kind: string; instance: string | null }> }>(`${z.cp.url}/api/v1/proxies`, zoneToken);
      expect(proxies.items.length).toBe(z.workloads.length + 1);
    }, 20_000, 250);
    await sleep(2000);
    const windows = await trafficBetween(from, Date.now());
    expectCleanTraffic(windows, 'zone-a CP restart');

    const after = await zoneState('zone-a');
    expect(after.tenants.acme!.revision).toBeGreaterThanOrEqual(beforeRevision);
    expect(Object.keys(after.tenants.acme!.policies).sort()).toEqual(Object.keys(before.tenants.acme!.policies).sort());
    expect(Object.keys(after.tenants.acme!.policies)).toContain('TrafficRoute/echo-canary');
    expect(Object.keys(after.tenants)).toContain('globex');
    // …and the canary still holds for zone-a's client.
    const last = running.clients.find((c) => c.zone === 'zone-a' && c.tenant === 'acme')!.stats.window(2);
    expect(last.byZone['zone-b'] ?? 0, JSON.stringify(last)).toBeGreaterThan(0);
  }, 60_000);

  it('keeps serving while NATS restarts; afterwards a policy change reaches both zones and they are online and up to date', async () => {
    const beforeRevisions = Object.fromEntries(await Promise.all(['zone-a', 'zone-b'].map(async (n) => [n, (await zoneState(n)).tenants.acme!.revision] as const)));

    const from = Date.now();
    // The restart is real: the zone CPs lose NATS for a while.
    const seenDisconnected = watch(async () => !(await zoneState('zone-b')).natsConnected);
    await running.federation.restartNats({ downMs: 2000 });
    expect(await seenDisconnected.stop(), 'zone-b\'s CP saw NATS go away').toBe(true);
    const restartedAt = Date.now();
    for (const name of ['zone-a', 'zone-b']) await eventually(async () => expect((await zoneState(name)).natsConnected).toBe(true), 30_000, 250);

    await putPolicy('acme', 'Timeout', 'e2e-timeouts', { targetRef: { kind: 'Tenant' }, connect: '2s', request: '10s', idle: '5m' });
    for (const name of ['zone-a', 'zone-b']) {
      await eventually(async () => {
        const acme = (await zoneState(name)).tenants.acme!;
        expect(Object.keys(acme.policies), name).toContain('Timeout/e2e-timeouts');
        expect(acme.revision, name).toBeGreaterThan(beforeRevisions[name]!);
      }, 30_000, 250);
    }
    await eventually(async () => {
      const zones = await json<{ items: GlobalZone[] }>(`${running.federation.globalCp.url}/api/v1/zones`, running.federation.adminToken);
      const ours = zones.items.filter((z) => z.metadata.name === 'zone-a' || z.metadata.name === 'zone-b');
      expect(ours.length).toBe(2);
      for (const z of ours) {
        const why = JSON.stringify(z.status);
        expect(z.status.state, why).toBe('online');
        // A heartbeat since NATS came back, not one remembered from before.
        expect(Date.parse(z.status.lastSeen ?? ''), why).toBeGreaterThan(restartedAt);
        expect(z.status.tenants.every((t) => t.upToDate && t.appliedRevision === t.revision), why).toBe(true);
      }
    }, 30_000, 500);

    const windows = await trafficBetween(from, Date.now());
    expectCleanTraffic(windows, 'NATS restart');
  }, 90_000);

  // Last: the global CP is not brought back.
  it('keeps serving with the global CP stopped; the zone CPs keep their config', async () => {
    const before = Object.fromEntries(await Promise.all(['zone-a', 'zone-b'].map(async (n) => [n, (await zoneState(n)).tenants] as const)));
    await running.federation.stopGlobalCp();
    await expect(fetch(`${running.federation.globalCp.url}/healthz`, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();

    const from = Date.now();
    await sleep(6000);
    const windows = await trafficBetween(from, Date.now());
    expectCleanTraffic(windows, 'global CP stopped');
    // The canary split still applies without the global CP.
    const v2 = acmeClients().reduce((n, c) => n + (c.stats.between(from, from + 6000).byZone['zone-b'] ?? 0), 0);
    expect(v2).toBeGreaterThan(0);

    for (const name of ['zone-a', 'zone-b']) {
      const tenants = (await zoneState(name)).tenants;
      expect(Object.keys(tenants).sort(), name).toEqual(Object.keys(before[name]!).sort());
      expect(tenants.acme!.revision, name).toBe(before[name]!.acme!.revision);
      expect(Object.keys(tenants.acme!.policies).sort(), name).toEqual(Object.keys(before[name]!.acme!.policies).sort());
      expect(Object.keys(tenants.acme!.policies), name).toEqual(expect.arrayContaining(['TrafficRoute/echo-canary', 'Timeout/e2e-timeouts']));
    }
    for (const z of running.zones) {
      await sidecarsConnected(z);
      const ready = await fetch(`${z.workloads[0]!.sidecar.url}/readyz`);
      expect(ready.status).toBe(200);
    }
  }, 30_000);
});
