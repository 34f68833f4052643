import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../deploy/local/free-port.js';
import { ConfigError } from '../../core/errors.js';
import { startGlobalCp, type RunningGlobalCp } from '../../global-cp/main.js';
import { RedisStore } from '../../global-cp/store/redis-store.js';
import { eventually } from '../helpers/eventually.js';
import { ADMIN_TOKEN, TEST_MASTER_KEY } from '../helpers/global-cp.js';
import { RunningProcess, spawnEntry } from '../helpers/processes.js';
import { MASTER_NAME, startSentinelGroup, type SentinelGroup } from './sentinel-group.js';

/**
 * The global CP on a real Redis Sentinel group (primary, replica, three
 * sentinels, passwords on both): it finds the primary through the sentinels,
 * and after a failover it reads what it wrote before and writes to the new
 * primary — through the API, and on the store's blocking change-stream
 * connection too. Startup fails fast with the reason; readiness answers
 * promptly when everything is gone; passwords never show.
 */

const DB = 5;
let dir: string;
let group: SentinelGroup | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshfed-sentinel-'));
  group = await startSentinelGroup(dir);
}, 30_000);

afterAll(async () => {
  await group?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function api(cp: RunningGlobalCp, method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${cp.url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: await res.json() };
}

/** Clients subscribed to a channel, over all sentinels: here, only ioredis's failover detectors. */
async function subscribersOfSentinels(g: SentinelGroup): Promise<number> {
  const lists = await Promise.all(g.sentinelPorts.map((_, i) => g.sentinel(i).call('CLIENT', 'LIST') as Promise<string>));
  return lists.join('\n').split('\n').filter((line) => / sub=[1-9]/.test(line)).length;
}

describe('the global CP on Redis Sentinel', () => {
  it('finds the primary through the sentinels and follows it through a failover', async () => {
    const g = group!;
    const cp = await startGlobalCp({
      listen: { host: '127.0.0.1', port: 0 },
      redisUrl: g.url(DB),
      redisPrefix: 'mf:',
      adminToken: ADMIN_TOKEN,
      masterKey: TEST_MASTER_KEY,
      logLevel: 'silent',
      version: 'test',
    });
    let stopped = false;
    try {
      expect(cp.store.target.mode).toBe('sentinel');
      expect(cp.store.target.shown).not.toContain(g.password);
      expect(cp.store.target.shown).not.toContain(g.sentinelPassword);

      // Before: the write lands on the primary, in the database the URL names.
      expect((await api(cp, 'POST', '/tenants', { name: 'before' })).status).toBe(201);
      const oldPrimary = g.node(g.primaryPort, DB);
      expect(await oldPrimary.exists(cp.store.keys.tenant('before'))).toBe(1);
      const [created] = await cp.store.readChanges('0-0', 10, 100);
      expect(created).toMatchObject({ tenant: 'before' });
      // …and on the replica before it is promoted.
      expect(await oldPrimary.call('WAIT', 1, 5000)).toBe(1);

      // A change reader blocked on the old primary, as the federation publisher is most of the time.
      const pending = cp.store.readChanges(created!.id, 10, 15_000);

      expect(await g.sentinel(0).call('SENTINEL', 'failover', MASTER_NAME)).toBe('OK');
      await eventually(async () => expect(await g.mastersNamed()).toEqual(g.sentinelPorts.map(() => g.replicaPort)), 15_000, 25);
      // The old primary is still a primary here: Sentinel demotes it only seconds later. Writes must not go there.
      expect(await oldPrimary.info('replication')).toMatch(/role:master/);

      expect((await api(cp, 'GET', '/tenants/before')).status).toBe(200);
      expect((await api(cp, 'POST', '/tenants', { name: 'after' })).status).toBe(201);
      const newPrimary = g.node(g.replicaPort, DB);
      expect(await newPrimary.exists(cp.store.keys.tenant('after'))).toBe(1);
      expect(await oldPrimary.exists(cp.store.keys.tenant('after'))).toBe(0);
      expect((await api(cp, 'GET', '/tenants')).body).toMatchObject({ items: [{ metadata: { name: 'after' } }, { metadata: { name: 'before' } }] });

      // The blocked reader moved to the new primary and sees the new change.
      expect(await pending).toEqual([expect.objectContaining({ tenant: 'after' })]);
      expect(await (await fetch(`${cp.url}/readyz`)).json()).toEqual({ status: 'ready', checks: { redis: 'ok' } });

      // Stopping leaves nothing behind: the subscriptions ioredis holds on every sentinel to hear of failovers end too.
      expect(await subscribersOfSentinels(g)).toBeGreaterThan(0);
      await cp.stop();
      stopped = true;
      await eventually(async () => expect(await subscribersOfSentinels(g)).toBe(0), 5000, 50);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${await g.logs()}`, { cause: error });
    } finally {
      if (!stopped) await cp.stop();
    }
  }, 40_000);

  it('fails fast with the reason, and no password, when the master name is unknown or no sentinel answers', async () => {
    const g = group!;
    const closedPort = await freePort();
    const wrongName = g.url().replace(`/${MASTER_NAME}?`, '/nosuchmaster?');
    const noSentinel = `redis-sentinel://:${g.password}@127.0.0.1:${closedPort}/${MASTER_NAME}?sentinelPassword=${g.sentinelPassword}`;
    const started = Date.now();
    const [unknownMaster, unreachable] = await Promise.all([
      (async () => {
        const store = new RedisStore({ url: wrongName, connectTimeoutMs: 1000 });
        const error = await store.connect().then(() => undefined, (e: unknown) => e as Error);
        await store.close();
        return error;
      })(),
      startGlobalCp({
        listen: { host: '127.0.0.1', port: 0 },
        redisUrl: noSentinel,
        redisPrefix: 'mf:',
        adminToken: ADMIN_TOKEN,
        masterKey: TEST_MASTER_KEY,
        logLevel: 'silent',
        version: 'test',
      }).then(
        async (cp) => (await cp.stop(), undefined),
        (e: unknown) => e as Error,
      ),
    ]);
    expect(Date.now() - started).toBeLessThan(6000);
    expect(unknownMaster?.message).toMatch(/^no answer within 1000 ms: failed to connect to sentinel 127\.0\.0\.1:\d+ because ERR No such master with that name$/);
    expect(unreachable).toBeInstanceOf(ConfigError);
    expect(unreachable?.message).toContain(`cannot reach Redis at redis-sentinel://:***@127.0.0.1:${closedPort}/${MASTER_NAME}?sentinelPassword=***: no answer within 3000 ms: `);
    expect(unreachable?.message).toContain(`failed to connect to sentinel 127.0.0.1:${closedPort}`);
    for (const error of [unknownMaster, unreachable]) {
      expect(error?.message).not.toContain(g.password);
      expect(error?.message).not.toContain(g.sentinelPassword);
    }
  }, 20_000);

  it('meshfed global-cp takes a redis-sentinel:// URL and logs it without passwords', async () => {
    const g = group!;
    const masterKeyFile = join(dir, 'master.key');
    await writeFile(masterKeyFile, TEST_MASTER_KEY.toString('hex'), { mode: 0o600 });
    const port = await freePort();
    const env = { MESHFED_ADMIN_TOKEN: ADMIN_TOKEN, MESHFED_MASTER_KEY_FILE: masterKeyFile };
    const proc = new RunningProcess(spawnEntry('cli/meshfed.ts', ['global-cp', '--listen', `127.0.0.1:${port}`], { ...env, MESHFED_REDIS_URL: g.url(DB + 1) }));
    try {
      await proc.waitFor(/global CP serving/);
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/tenants`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      expect(res.status).toBe(200);
      const connected = proc.output.split('\n').find((line) => line.includes('connected to Redis'));
      expect(JSON.parse(connected!)).toMatchObject({ mode: 'sentinel', redis: expect.stringMatching(/^redis-sentinel:\/\/:\*\*\*@127\.0\.0\.1:\d+,.*\/mymaster\?sentinelPassword=\*\*\*&db=6$/) });
    } finally {
      expect(await proc.stop()).toBe(0);
    }
    expect(proc.output).not.toContain(g.password);
    expect(proc.output).not.toContain(g.sentinelPassword);

  }, 30_000);
});

describe('readiness on Redis Sentinel', () => {
  it('reports not ready, promptly, when the primary and every sentinel are gone', async () => {
    const g = group!;
    const store = new RedisStore({ url: g.url(), connectTimeoutMs: 1000 });
    await store.connect();
    expect(await store.ping()).toBe(true);
    await g.stop();
    const started = Date.now();
    expect(await store.ping()).toBe(false);
    expect(Date.now() - started).toBeLessThan(3000);
    await store.close();
  }, 20_000);
});
