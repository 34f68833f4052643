import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { startGlobalCp, type RunningGlobalCp } from '../../global-cp/main.js';
import { startZoneCp, type RunningZoneCp, type ZoneCpConfig } from '../../zone-cp/main.js';
import { ADMIN_TOKEN, TEST_MASTER_KEY } from './global-cp.js';

/** A global CP with federation on, with its own Redis prefix and federation id (so NATS buckets are its own too). */
export async function startFederatedGlobalCp(
  options: { natsUrl?: string; prefix?: string; federationId?: string; reconcileIntervalMs?: number; accountSeed?: string } = {},
): Promise<RunningGlobalCp & { federationId: string; natsUrl: string }> {
  const federationId = options.federationId ?? `t${randomBytes(4).toString('hex')}`;
  const natsUrl = options.natsUrl ?? inject('natsUrl');
  const running = await startGlobalCp({
    listen: { host: '127.0.0.1', port: 0 },
    redisUrl: inject('redisUrl'),
    redisPrefix: options.prefix ?? `${federationId}:`,
    adminToken: ADMIN_TOKEN,
    masterKey: TEST_MASTER_KEY,
    logLevel: 'silent',
    version: 'test',
    nats: { url: natsUrl, federationId, reconcileIntervalMs: options.reconcileIntervalMs ?? 60_000, ...(options.accountSeed ? { accountSeed: options.accountSeed } : {}) },
    offlineAfterMissed: 3,
  });
  await running.federation!.ready;
  return Object.assign(running, { federationId, natsUrl });
}

/** Calls the global CP's API as the admin. */
export async function api<T = unknown>(url: string, method: string, path: string, body?: unknown, token = ADMIN_TOKEN): Promise<{ status: number; body: T }> {
  const response = await fetch(`${url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
}

export async function registerZone(url: string, name: string, region: string): Promise<string> {
  const created = await api<{ token: string }>(url, 'POST', '/zones', { name, region, location: `dc:${name}`, kind: 'universal' });
  if (created.status !== 201) throw new Error(`zone ${name}: ${JSON.stringify(created.body)}`);
  return created.body.token;
}

export async function tempStateDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'meshfed-zone-'));
}

export function zoneCpConfig(globalCp: { url: string; federationId: string; natsUrl: string }, zone: string, token: string, stateDir: string, extra: Partial<ZoneCpConfig> = {}): ZoneCpConfig {
  return {
    zone,
    globalUrl: globalCp.url,
    token,
    natsUrl: globalCp.natsUrl,
    stateDir,
    listen: { host: '127.0.0.1', port: 0 },
    grpcListen: { host: '127.0.0.1', port: 0 },
    federationId: globalCp.federationId,
    heartbeatIntervalMs: 200,
    reauthIntervalMs: 60_000,
    version: 'test',
    logLevel: 'silent',
    ...extra,
  };
}

export async function startTestZoneCp(config: ZoneCpConfig): Promise<RunningZoneCp> {
  return startZoneCp(config);
}

export { eventually } from './eventually.js';
