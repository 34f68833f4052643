import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { expect } from 'vitest';
import { snapshotPath, type ZoneSnapshot } from '../../zone-cp/sync/snapshot.js';
import type { TenantView } from '../../zone-cp/sync/tenant-view.js';
import type { RunningZoneCp, ZoneCpConfig } from '../../zone-cp/main.js';
import type { PolicyDocument } from '../../core/schemas/policies/index.js';
import type { FederatedService } from '../../global-cp/federation/services-view.js';
import type { Zone } from '../../core/schemas/zone.js';
import { api, eventually, startFederatedGlobalCp, startTestZoneCp, tempStateDir, zoneCpConfig } from '../helpers/federation.js';

/**
 * Shared pieces of the federation tests: policy bodies, a cleanup stack that
 * stops every control plane a test started, and readers for what a zone holds.
 */

export type GlobalCp = Awaited<ReturnType<typeof startFederatedGlobalCp>>;

export const retryBody = (attempts: number, labels: Record<string, string> = {}) => ({
  metadata: { labels },
  spec: { targetRef: { kind: 'Service', name: 'web', namespace: 'shop' }, attempts, retryOn: ['5xx'] },
});

export const timeoutBody = (request: string) => ({ spec: { targetRef: { kind: 'Service', name: 'web', namespace: 'shop' }, request } });

/** Things to stop after each test, last started first. Every stop runs once, even if the test stopped it already. */
export class Cleanup {
  private readonly stops: Array<() => Promise<void>> = [];

  add<T extends { stop(): Promise<unknown> }>(thing: T): T {
    let stopped: Promise<unknown> | undefined;
    const stop = thing.stop.bind(thing);
    thing.stop = () => (stopped ??= stop());
    this.stops.push(async () => void (await thing.stop()));
    return thing;
  }

  defer(fn: () => Promise<unknown>): void {
    this.stops.push(async () => void (await fn()));
  }

  async run(): Promise<void> {
    const errors: unknown[] = [];
    while (this.stops.length) {
      try {
        await this.stops.pop()!();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length) throw errors[0];
  }
}

export interface TestZone {
  name: string;
  token: string;
  stateDir: string;
  config: ZoneCpConfig;
  cp: RunningZoneCp;
}

/** Starts a zone CP (tracked for cleanup); pass the same stateDir to restart one. */
export async function startZone(
  cleanup: Cleanup,
  gcp: { url: string; federationId: string; natsUrl: string },
  name: string,
  token: string,
  options: { stateDir?: string; extra?: Partial<ZoneCpConfig> } = {},
): Promise<TestZone> {
  const stateDir = options.stateDir ?? (await tempStateDir());
  if (!options.stateDir) cleanup.defer(() => rm(stateDir, { recursive: true, force: true }));
  const config = zoneCpConfig(gcp, name, token, stateDir, options.extra);
  const cp = cleanup.add(await startTestZoneCp(config));
  return { name, token, stateDir, config, cp };
}

export async function startGlobal(cleanup: Cleanup, options: Parameters<typeof startFederatedGlobalCp>[0] = {}): Promise<GlobalCp> {
  return cleanup.add(await startFederatedGlobalCp(options));
}

/** Calls the API and checks the status, with the body in the failure message. */
export async function must<T = unknown>(url: string, method: string, path: string, status: number, body?: unknown, token?: string): Promise<T> {
  const res = await api<T>(url, method, path, body, token);
  expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBe(status);
  return res.body;
}

export async function createTenant(url: string, name: string, zones: string[]): Promise<void> {
  await must(url, 'POST', '/tenants', 201, { name, zones });
}

export async function placeTenant(url: string, name: string, zones: string[]): Promise<void> {
  await must(url, 'PATCH', `/tenants/${name}`, 200, { zones });
}

export async function putRetry(url: string, tenant: string, name: string, attempts: number, labels: Record<string, string> = {}): Promise<PolicyDocument> {
  const res = await api<PolicyDocument>(url, 'PUT', `/tenants/${tenant}/policies/Retry/${name}`, retryBody(attempts, labels));
  expect([200, 201], `PUT Retry/${name}: ${JSON.stringify(res.body)}`).toContain(res.status);
  return res.body;
}

/** What a zone must hold of a tenant: its revision and every policy document, as the global CP has them. */
export interface TenantContent {
  revision: number;
  policies: Record<string, PolicyDocument>;
}

export async function desiredContent(url: string, tenant: string): Promise<TenantContent> {
  const t = await must<{ status: { revision: number } }>(url, 'GET', `/tenants/${tenant}`, 200);
  const list = await must<{ items: PolicyDocument[] }>(url, 'GET', `/tenants/${tenant}/policies`, 200);
  return { revision: t.status.revision, policies: Object.fromEntries(list.items.map((p) => [`${p.kind}/${p.metadata.name}`, p])) };
}

export function contentOf(view: TenantView | undefined): TenantContent | undefined {
  return view && { revision: view.revision, policies: view.policies };
}

/** Waits until the zone holds exactly what the global CP holds for `tenant`. */
export async function expectConverged(zone: RunningZoneCp, url: string, tenant: string, timeoutMs = 10_000): Promise<TenantContent> {
  return eventually(async () => {
    const desired = await desiredContent(url, tenant);
    expect(contentOf(zone.tenants()[tenant])).toEqual(desired);
    return desired;
  }, timeoutMs);
}

export const tenantsOf = (zone: RunningZoneCp) => Object.keys(zone.tenants()).sort();

export async function readSnapshot(stateDir: string): Promise<ZoneSnapshot> {
  return JSON.parse(await readFile(snapshotPath(stateDir), 'utf8')) as ZoneSnapshot;
}

export async function getJson<T = unknown>(url: string): Promise<{ status: number; body: T }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as T };
}

export async function metricsText(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

/** The value of one series in a Prometheus text exposition; undefined if absent. Labels must match exactly. */
export function metricValue(text: string, name: string, labels: Record<string, string>): number | undefined {
  const wanted = Object.entries(labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}="${v}"`)
    .join(',');
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const got = (match[2] ?? '')
      .split(/,(?=[a-zA-Z_]+=")/)
      .filter(Boolean)
      .sort()
      .join(',');
    if (got === wanted) return Number(match[3]);
  }
  return undefined;
}

export async function zoneStatus(url: string, zone: string): Promise<Zone['status']> {
  return (await must<Zone>(url, 'GET', `/zones/${zone}`, 200)).status;
}

export async function servicesOf(url: string, tenant: string, token?: string): Promise<FederatedService[]> {
  return (await must<{ items: FederatedService[] }>(url, 'GET', `/tenants/${tenant}/services`, 200, undefined, token)).items;
}

export async function writeServices(path: string, yaml: string): Promise<void> {
  await writeFile(path, yaml);
}

export const servicesFilePath = (dir: string) => join(dir, 'services.yaml');

/** A NATS connection of the test's own, to look at or tamper with what the control planes wrote. */
export async function natsClient(cleanup: Cleanup, url: string): Promise<NatsConnection> {
  const nc = await connect({ servers: url, name: 'meshfed-test' });
  cleanup.defer(() => nc.close());
  return nc;
}

/**
 * Awaits a check and records its failure without stopping the test, so one
 * product bug does not hide the checks after it. The failure message is kept.
 */
export async function soft(label: string, check: Promise<unknown>): Promise<void> {
  const failure = await check.then(
    () => undefined,
    (error: unknown) => (error instanceof Error ? error.message : String(error)),
  );
  expect.soft(failure, label).toBeUndefined();
}
