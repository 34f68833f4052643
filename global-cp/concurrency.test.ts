import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ADMIN_TOKEN, startTestGlobalCp, type TestGlobalCp } from '../test/helpers/global-cp.js';
import { isolatedStore } from '../test/helpers/store.js';
import { RedisStore } from './store/redis-store.js';

/**
 * Optimistic concurrency (resourceVersion, If-Match, If-None-Match), revision
 * and generation bookkeeping, quotas under concurrent load, several replicas
 * on one store, and restarts.
 */

type Method = InjectOptions['method'];

interface ErrorBody {
  error: string;
  message: string;
  details: Array<{ path: string; message: string }>;
}

interface Meta {
  name: string;
  labels: Record<string, string>;
  resourceVersion: string;
  generation: number;
  creationTimestamp: string;
}

interface PolicyDoc {
  kind: string;
  metadata: Meta & { tenant: string };
  spec: Record<string, unknown>;
}

interface TenantDoc {
  metadata: Meta;
  spec: { trustDomain: string; zones: string[]; quotas: { maxPolicies: number; maxTokens: number } };
  status: { revision: number; policies: number };
}

interface ZoneDoc {
  metadata: Meta;
  spec: { region: string; location: string; kind: string };
}

interface CreatedToken {
  token: string;
  info: { id: string; tenant: string; role: string; expiresAt: string };
}

const ZONE = 'zone-one';
const target = { kind: 'Service', name: 'web', namespace: 'shop' };
const timeout = (request: string) => ({ spec: { targetRef: target, request } });

let cp: TestGlobalCp;
let seq = 0;
const unique = (prefix: string) => `${prefix}-${++seq}`;

function api(app: TestGlobalCp) {
  const call = (method: Method, url: string, body?: unknown, headers?: Record<string, string>) => app.call(method, url, ADMIN_TOKEN, body, headers);
  return {
    call,
    async ok<T>(method: Method, url: string, status: number, body?: unknown, headers?: Record<string, string>): Promise<T> {
      const res = await call(method, url, body, headers);
      expect(res.statusCode, `${method} ${url}: ${res.body}`).toBe(status);
      return res.json<T>();
    },
    async tenant(name: string): Promise<TenantDoc> {
      const res = await call('GET', `/api/v1/tenants/${name}`);
      expect(res.statusCode, res.body).toBe(200);
      return res.json<TenantDoc>();
    },
    async policy(tenant: string, kind: string, name: string): Promise<PolicyDoc> {
      const res = await call('GET', `/api/v1/tenants/${tenant}/policies/${kind}/${name}`);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.headers.etag).toBe(`"${res.json<PolicyDoc>().metadata.resourceVersion}"`);
      return res.json<PolicyDoc>();
    },
    async newTenant(extra: Record<string, unknown> = {}): Promise<string> {
      const name = unique('tenant');
      const res = await call('POST', '/api/v1/tenants', { name, zones: [ZONE], ...extra });
      expect(res.statusCode, res.body).toBe(201);
      return name;
    },
  };
}

let a: ReturnType<typeof api>;

function expectError(res: LightMyRequestResponse, status: number, error: string): ErrorBody {
  expect(res.statusCode, res.body).toBe(status);
  const body = res.json<ErrorBody>();
  expect(body.error).toBe(error);
  expect(typeof body.message).toBe('string');
  expect(Array.isArray(body.details)).toBe(true);
  return body;
}

const statuses = (responses: LightMyRequestResponse[]) => responses.map((r) => r.statusCode).sort((x, y) => x - y);
const pUrl = (tenant: string, kind: string, name: string) => `/api/v1/tenants/${tenant}/policies/${kind}/${name}`;

beforeAll(async () => {
  cp = await startTestGlobalCp();
  a = api(cp);
  await a.ok('POST', '/api/v1/zones', 201, { name: ZONE, region: 'eu-west', location: 'aws:eu-west-1', kind: 'kubernetes' });
});

afterAll(async () => {
  await cp?.close();
});

// ---------------------------------------------------------------- If-Match

describe('If-Match', () => {
  it('an update with a stale If-Match is 412 and changes nothing', async () => {
    const t = await a.newTenant();
    const url = pUrl(t, 'Timeout', 'p');
    const v1 = await a.ok<PolicyDoc>('PUT', url, 201, timeout('1s'));
    const v2 = await a.ok<PolicyDoc>('PUT', url, 200, timeout('2s'), { 'if-match': v1.metadata.resourceVersion });
    expect(Number(v2.metadata.resourceVersion)).toBe(Number(v1.metadata.resourceVersion) + 1);
    const revision = (await a.tenant(t)).status.revision;

    const stale = await a.call('PUT', url, timeout('3s'), { 'if-match': v1.metadata.resourceVersion });
    const body = expectError(stale, 412, 'PreconditionFailed');
    expect(body.message).toContain(v2.metadata.resourceVersion);
    expect(await a.policy(t, 'Timeout', 'p')).toEqual(v2);
    expect((await a.tenant(t)).status.revision).toBe(revision);

    // ETag forms of the current version are accepted.
    const v3 = await a.ok<PolicyDoc>('PUT', url, 200, timeout('3s'), { 'if-match': `"${v2.metadata.resourceVersion}"` });
    const v4 = await a.ok<PolicyDoc>('PUT', url, 200, timeout('4s'), { 'if-match': `W/"${v3.metadata.resourceVersion}"` });
    expect(v4.spec.request).toBe('4s');
    // If-Match: * means "must exist".
    await a.ok('PUT', url, 200, timeout('5s'), { 'if-match': '*' });
    expectError(await a.call('PUT', pUrl(t, 'Timeout', 'absent'), timeout('1s'), { 'if-match': '*' }), 412, 'PreconditionFailed');
    expectError(await a.call('GET', pUrl(t, 'Timeout', 'absent')), 404, 'NotFound');
  });

  it('If-Match on a policy that does not exist is 412 and creates nothing', async () => {
    const t = await a.newTenant();
    const revision = (await a.tenant(t)).status.revision;
    expectError(await a.call('PUT', pUrl(t, 'Retry', 'ghost'), { spec: { targetRef: target, attempts: 2, retryOn: ['5xx'] } }, { 'if-match': '1' }), 412, 'PreconditionFailed');
    expectError(await a.call('GET', pUrl(t, 'Retry', 'ghost')), 404, 'NotFound');
    expect((await a.tenant(t)).status.revision).toBe(revision);
  });

  it('a stale If-Match on DELETE is 412 and the policy stays', async () => {
    const t = await a.newTenant();
    const url = pUrl(t, 'Timeout', 'p');
    const v1 = await a.ok<PolicyDoc>('PUT', url, 201, timeout('1s'));
    const v2 = await a.ok<PolicyDoc>('PUT', url, 200, timeout('2s'));
    expectError(await a.call('DELETE', url, undefined, { 'if-match': v1.metadata.resourceVersion }), 412, 'PreconditionFailed');
    expect(await a.policy(t, 'Timeout', 'p')).toEqual(v2);
    const res = await a.call('DELETE', url, undefined, { 'if-match': v2.metadata.resourceVersion });
    expect(res.statusCode).toBe(204);
    expectError(await a.call('GET', url), 404, 'NotFound');
  });

  it('a stale If-Match on tenant and zone PATCH/DELETE is 412 and changes nothing', async () => {
    const t = await a.newTenant();
    const v1 = await a.tenant(t);
    const v2 = await a.ok<TenantDoc>('PATCH', `/api/v1/tenants/${t}`, 200, { labels: { step: '2' } }, { 'if-match': v1.metadata.resourceVersion });
    expectError(await a.call('PATCH', `/api/v1/tenants/${t}`, { labels: { step: '3' } }, { 'if-match': v1.metadata.resourceVersion }), 412, 'PreconditionFailed');
    expectError(await a.call('DELETE', `/api/v1/tenants/${t}`, undefined, { 'if-match': v1.metadata.resourceVersion }), 412, 'PreconditionFailed');
    expect(await a.tenant(t)).toEqual(v2);

    const zone = unique('zone');
    const z1 = (await a.ok<{ zone: ZoneDoc }>('POST', '/api/v1/zones', 201, { name: zone, region: 'eu-west', location: 'dc:z', kind: 'universal' })).zone;
    const z2 = await a.ok<ZoneDoc>('PATCH', `/api/v1/zones/${zone}`, 200, { labels: { step: '2' } }, { 'if-match': z1.metadata.resourceVersion });
    expectError(await a.call('PATCH', `/api/v1/zones/${zone}`, { labels: { step: '3' } }, { 'if-match': z1.metadata.resourceVersion }), 412, 'PreconditionFailed');
    expectError(await a.call('DELETE', `/api/v1/zones/${zone}`, undefined, { 'if-match': z1.metadata.resourceVersion }), 412, 'PreconditionFailed');
    expect(await a.ok<ZoneDoc>('GET', `/api/v1/zones/${zone}`, 200)).toEqual(z2);
    expect((await a.call('DELETE', `/api/v1/zones/${zone}`, undefined, { 'if-match': z2.metadata.resourceVersion })).statusCode).toBe(204);
  });

  it('two concurrent PUTs with the same If-Match: exactly one 200 and one 412, 20 rounds', async () => {
    const t = await a.newTenant();
    const url = pUrl(t, 'Timeout', 'contended');
    await a.ok('PUT', url, 201, timeout('1s'));
    for (let round = 0; round < 20; round++) {
      const before = await a.policy(t, 'Timeout', 'contended');
      const revision = (await a.tenant(t)).status.revision;
      const specs = [timeout(`${round + 10}s`), timeout(`${round + 100}ms`)];
      const responses = await Promise.all(specs.map((s) => a.call('PUT', url, s, { 'if-match': before.metadata.resourceVersion })));
      expect(statuses(responses), `round ${round}`).toEqual([200, 412]);
      const winner = responses.find((r) => r.statusCode === 200)!.json<PolicyDoc>();
      expectError(responses.find((r) => r.statusCode === 412)!, 412, 'PreconditionFailed');
      const after = await a.policy(t, 'Timeout', 'contended');
      expect(after).toEqual(winner);
      expect(Number(after.metadata.resourceVersion)).toBe(Number(before.metadata.resourceVersion) + 1);
      expect(after.metadata.generation).toBe(before.metadata.generation + 1);
      expect((await a.tenant(t)).status.revision).toBe(revision + 1);
    }
  });

  it('two concurrent PUTs with the same resourceVersion in the body: exactly one wins, 20 rounds', async () => {
    const t = await a.newTenant();
    const url = pUrl(t, 'Timeout', 'contended');
    await a.ok('PUT', url, 201, timeout('1s'));
    for (let round = 0; round < 20; round++) {
      const before = await a.policy(t, 'Timeout', 'contended');
      const bodies = [`${round + 10}s`, `${round + 100}ms`].map((r) => ({ metadata: { resourceVersion: before.metadata.resourceVersion }, ...timeout(r) }));
      const responses = await Promise.all(bodies.map((b) => a.call('PUT', url, b)));
      expect(statuses(responses), `round ${round}`).toEqual([200, 412]);
      expect(await a.policy(t, 'Timeout', 'contended')).toEqual(responses.find((r) => r.statusCode === 200)!.json());
    }
  });

  it('concurrent tenant PATCHes with the same If-Match: exactly one wins, 20 rounds', async () => {
    const t = await a.newTenant();
    for (let round = 0; round < 20; round++) {
      const before = await a.tenant(t);
      const responses = await Promise.all(
        ['x', 'y'].map((who) => a.call('PATCH', `/api/v1/tenants/${t}`, { labels: { round: String(round), who } }, { 'if-match': before.metadata.resourceVersion })),
      );
      expect(statuses(responses), `round ${round}`).toEqual([200, 412]);
      const after = await a.tenant(t);
      expect(after.metadata.labels).toEqual(responses.find((r) => r.statusCode === 200)!.json<TenantDoc>().metadata.labels);
      expect(after.status.revision).toBe(before.status.revision + 1);
    }
  });

  it('a concurrent DELETE and PUT with the same If-Match: exactly one wins', async () => {
    const t = await a.newTenant();
    const url = pUrl(t, 'Timeout', 'racy');
    for (let round = 0; round < 10; round++) {
      const current = await a.ok<PolicyDoc>('PUT', url, 201, timeout(`${round + 1}s`));
      const [del, put] = await Promise.all([
        a.call('DELETE', url, undefined, { 'if-match': current.metadata.resourceVersion }),
        a.call('PUT', url, timeout(`${round + 50}s`), { 'if-match': current.metadata.resourceVersion }),
      ]);
      const outcome = [del.statusCode, put.statusCode];
      expect([[204, 412], [412, 200]], `round ${round}: ${JSON.stringify(outcome)}`).toContainEqual(outcome);
      if (del.statusCode === 204) expectError(await a.call('GET', url), 404, 'NotFound');
      else {
        expect((await a.policy(t, 'Timeout', 'racy')).spec.request).toBe(`${round + 50}s`);
        expect((await a.call('DELETE', url)).statusCode).toBe(204);
      }
    }
  });

  it('concurrent tenant PATCHes without If-Match all commit, one revision each', async () => {
    const t = await a.newTenant();
    const before = await a.tenant(t);
    const responses = await Promise.all([1, 2, 3, 4, 5].map((n) => a.call('PATCH', `/api/v1/tenants/${t}`, { labels: { n: String(n) } })));
    expect(statuses(responses)).toEqual([200, 200, 200, 200, 200]);
    const after = await a.tenant(t);
    expect(after.status.revision).toBe(before.status.revision + 5);
    expect(['1', '2', '3', '4', '5']).toContain(after.metadata.labels.n);
  });
});

// ---------------------------------------------------------------- If-None-Match

describe('If-None-Match: *', () => {
  it('creates only: 201 when absent, 412 when it exists (nothing changed)', async () => {
    const t = await a.newTenant();
    const url = pUrl(t, 'Timeout', 'once');
    const created = await a.ok<PolicyDoc>('PUT', url, 201, timeout('1s'), { 'if-none-match': '*' });
    const revision = (await a.tenant(t)).status.revision;
    expectError(await a.call('PUT', url, timeout('2s'), { 'if-none-match': '*' }), 412, 'PreconditionFailed');
    // Even an identical body is refused: the resource exists.
    expectError(await a.call('PUT', url, timeout('1s'), { 'if-none-match': '*' }), 412, 'PreconditionFailed');
    expect(await a.policy(t, 'Timeout', 'once')).toEqual(created);
    expect((await a.tenant(t)).status.revision).toBe(revision);
  });

  it('10 concurrent creates with If-None-Match: * → exactly one 201', async () => {
    const t = await a.newTenant();
    const url = pUrl(t, 'Timeout', 'first-wins');
    const responses = await Promise.all(Array.from({ length: 10 }, (_, i) => a.call('PUT', url, timeout(`${i + 1}s`), { 'if-none-match': '*' })));
    expect(statuses(responses)).toEqual([201, ...Array<number>(9).fill(412)]);
    const winner = responses.find((r) => r.statusCode === 201)!.json<PolicyDoc>();
    expect(await a.policy(t, 'Timeout', 'first-wins')).toEqual(winner);
    const tenant = await a.tenant(t);
    expect(tenant.status.policies).toBe(1);
    expect(tenant.status.revision).toBe(2);
  });

  it('on a PATCH of an existing tenant is 412 (it can only create), and changes nothing', async () => {
    const t = await a.newTenant();
    const before = await a.tenant(t);
    expectError(await a.call('PATCH', `/api/v1/tenants/${t}`, { labels: { x: 'y' } }, { 'if-none-match': '*' }), 412, 'PreconditionFailed');
    expect(await a.tenant(t)).toEqual(before);
  });

  it('on a PATCH of an existing zone is 412, and changes nothing', async () => {
    const before = await a.ok<ZoneDoc>('GET', `/api/v1/zones/${ZONE}`, 200);
    expectError(await a.call('PATCH', `/api/v1/zones/${ZONE}`, { labels: { x: 'y' } }, { 'if-none-match': '*' }), 412, 'PreconditionFailed');
    expect(await a.ok<ZoneDoc>('GET', `/api/v1/zones/${ZONE}`, 200)).toEqual(before);
  });

  it('on a DELETE of an existing policy, tenant or zone is 412, and deletes nothing', async () => {
    const t = await a.newTenant();
    const url = pUrl(t, 'Timeout', 'keep');
    const policy = await a.ok<PolicyDoc>('PUT', url, 201, timeout('1s'));
    const tenant = await a.tenant(t);
    const zone = unique('zone');
    await a.ok('POST', '/api/v1/zones', 201, { name: zone, region: 'eu-west', location: 'dc:z', kind: 'universal' });

    const problems: string[] = [];
    for (const [what, u] of [
      ['policy', url],
      ['tenant', `/api/v1/tenants/${t}`],
      ['zone', `/api/v1/zones/${zone}`],
    ] as const) {
      const res = await a.call('DELETE', u, undefined, { 'if-none-match': '*' });
      if (res.statusCode !== 412) problems.push(`DELETE ${what} with If-None-Match: * → ${res.statusCode} ${res.body}`);
    }
    expect(await a.policy(t, 'Timeout', 'keep')).toEqual(policy);
    expect(await a.tenant(t)).toEqual(tenant);
    expect((await a.call('GET', `/api/v1/zones/${zone}`)).statusCode).toBe(200);
    expect(problems).toEqual([]);
  });
});

// ---------------------------------------------------------------- resourceVersion in the body

describe('metadata.resourceVersion in the body', () => {
  it('acts as a precondition like If-Match', async () => {
    const t = await a.newTenant();
    const url = pUrl(t, 'Timeout', 'body-rv');
    const v1 = await a.ok<PolicyDoc>('PUT', url, 201, timeout('1s'));
    const v2 = await a.ok<PolicyDoc>('PUT', url, 200, { metadata: { resourceVersion: v1.metadata.resourceVersion }, ...timeout('2s') });
    const revision = (await a.tenant(t)).status.revision;
    expectError(await a.call('PUT', url, { metadata: { resourceVersion: v1.metadata.resourceVersion }, ...timeout('3s') }), 412, 'PreconditionFailed');
    expect(await a.policy(t, 'Timeout', 'body-rv')).toEqual(v2);
    expect((await a.tenant(t)).status.revision).toBe(revision);
    // Round-tripping a document read from the API works as an update.
    const read = await a.policy(t, 'Timeout', 'body-rv');
    const v3 = await a.ok<PolicyDoc>('PUT', url, 200, { ...read, spec: { ...read.spec, request: '3s' } });
    expect(v3.metadata.generation).toBe(read.metadata.generation + 1);
    // …and round-tripping the now-stale document fails.
    expectError(await a.call('PUT', url, { ...read, spec: { ...read.spec, request: '4s' } }), 412, 'PreconditionFailed');
  });

  it('on a policy that does not exist is 412 and creates nothing', async () => {
    const t = await a.newTenant();
    expectError(await a.call('PUT', pUrl(t, 'Timeout', 'nope'), { metadata: { resourceVersion: '5' }, ...timeout('1s') }), 412, 'PreconditionFailed');
    expectError(await a.call('GET', pUrl(t, 'Timeout', 'nope')), 404, 'NotFound');
    expect((await a.tenant(t)).status.policies).toBe(0);
  });
});

// ---------------------------------------------------------------- no-op writes, generation

describe('no-op writes and generation', () => {
  it('an identical re-PUT is 200 and bumps neither the resourceVersion nor the tenant revision', async () => {
    const t = await a.newTenant();
    const url = pUrl(t, 'Retry', 'same');
    const body = { metadata: { labels: { app: 'web' } }, spec: { targetRef: target, attempts: 3, retryOn: ['5xx', 'reset'], backoff: { baseInterval: '25ms', maxInterval: '250ms' } } };
    const created = await a.ok<PolicyDoc>('PUT', url, 201, body);
    const revision = (await a.tenant(t)).status.revision;
    for (let i = 0; i < 3; i++) {
      const res = await a.call('PUT', url, body);
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual(created);
      expect(res.headers.etag).toBe(`"${created.metadata.resourceVersion}"`);
    }
    // Same content with keys in another order is the same document.
    const reordered = { spec: { backoff: { maxInterval: '250ms', baseInterval: '25ms' }, retryOn: ['5xx', 'reset'], attempts: 3, targetRef: { namespace: 'shop', name: 'web', kind: 'Service' } }, metadata: { labels: { app: 'web' } } };
    expect((await a.call('PUT', url, reordered)).json()).toEqual(created);
    // With a matching If-Match too.
    expect((await a.call('PUT', url, body, { 'if-match': created.metadata.resourceVersion })).statusCode).toBe(200);
    expect((await a.tenant(t)).status.revision).toBe(revision);
    expect(await a.policy(t, 'Retry', 'same')).toEqual(created);
  });

  it('identical tenant and zone PATCHes change nothing', async () => {
    const t = await a.newTenant({ labels: { team: 'a' } });
    const before = await a.tenant(t);
    const res = await a.ok<TenantDoc>('PATCH', `/api/v1/tenants/${t}`, 200, { labels: { team: 'a' }, zones: [ZONE] });
    expect(res).toEqual(before);
    expect(await a.tenant(t)).toEqual(before);

    const zone = await a.ok<ZoneDoc>('GET', `/api/v1/zones/${ZONE}`, 200);
    expect(await a.ok<ZoneDoc>('PATCH', `/api/v1/zones/${ZONE}`, 200, { region: zone.spec.region, labels: zone.metadata.labels })).toEqual(zone);
  });

  it('generation bumps only when the spec changes', async () => {
    const t = await a.newTenant();
    const url = pUrl(t, 'Timeout', 'gen');
    const v1 = await a.ok<PolicyDoc>('PUT', url, 201, { metadata: { labels: { a: '1' } }, ...timeout('1s') });
    expect(v1.metadata.generation).toBe(1);
    const labelOnly = await a.ok<PolicyDoc>('PUT', url, 200, { metadata: { labels: { a: '2' } }, ...timeout('1s') });
    expect(labelOnly.metadata.generation).toBe(1);
    expect(Number(labelOnly.metadata.resourceVersion)).toBe(Number(v1.metadata.resourceVersion) + 1);
    const specChange = await a.ok<PolicyDoc>('PUT', url, 200, { metadata: { labels: { a: '2' } }, ...timeout('2s') });
    expect(specChange.metadata.generation).toBe(2);
    const back = await a.ok<PolicyDoc>('PUT', url, 200, { metadata: { labels: { a: '2' } }, ...timeout('1s') });
    expect(back.metadata.generation).toBe(3);
    expect(back.metadata.creationTimestamp).toBe(v1.metadata.creationTimestamp);
    // A client-sent generation is ignored.
    const ignored = await a.ok<PolicyDoc>('PUT', url, 200, { metadata: { labels: { a: '3' }, generation: 42 }, ...timeout('1s') });
    expect(ignored.metadata.generation).toBe(3);

    const t1 = await a.tenant(t);
    const tLabels = await a.ok<TenantDoc>('PATCH', `/api/v1/tenants/${t}`, 200, { labels: { env: 'prod' } });
    expect(tLabels.metadata.generation).toBe(t1.metadata.generation);
    const tQuota = await a.ok<TenantDoc>('PATCH', `/api/v1/tenants/${t}`, 200, { quotas: { maxPolicies: 50 } });
    expect(tQuota.metadata.generation).toBe(t1.metadata.generation + 1);
    expect(tQuota.spec.quotas).toEqual({ maxPolicies: 50, maxTokens: t1.spec.quotas.maxTokens });

    const zone = unique('zone');
    const z1 = (await a.ok<{ zone: ZoneDoc }>('POST', '/api/v1/zones', 201, { name: zone, region: 'eu-west', location: 'dc:g', kind: 'universal' })).zone;
    const zLabels = await a.ok<ZoneDoc>('PATCH', `/api/v1/zones/${zone}`, 200, { labels: { x: 'y' } });
    expect(zLabels.metadata.generation).toBe(z1.metadata.generation);
    const zRegion = await a.ok<ZoneDoc>('PATCH', `/api/v1/zones/${zone}`, 200, { region: 'eu-central' });
    expect(zRegion.metadata.generation).toBe(z1.metadata.generation + 1);
    expect(zRegion.metadata.labels).toEqual({ x: 'y' });
  });
});

// ---------------------------------------------------------------- per-tenant revision

describe('per-tenant revision', () => {
  it('increments by exactly one per committed write, and the write carries it as resourceVersion', async () => {
    const t = await a.newTenant();
    const other = await a.newTenant();
    let expected = 1;
    const check = async (doc?: { metadata: { resourceVersion: string } }) => {
      const tenant = await a.tenant(t);
      expect(tenant.status.revision).toBe(expected);
      if (doc) expect(doc.metadata.resourceVersion).toBe(String(expected));
    };
    await check(await a.tenant(t));

    const p1 = await a.ok<PolicyDoc>('PUT', pUrl(t, 'Timeout', 'p1'), 201, timeout('1s'));
    expected++;
    await check(p1);
    const p2 = await a.ok<PolicyDoc>('PUT', pUrl(t, 'Retry', 'p2'), 201, { spec: { targetRef: target, attempts: 2, retryOn: ['5xx'] } });
    expected++;
    await check(p2);
    const p1b = await a.ok<PolicyDoc>('PUT', pUrl(t, 'Timeout', 'p1'), 200, timeout('2s'));
    expected++;
    await check(p1b);
    const p1c = await a.ok<PolicyDoc>('PUT', pUrl(t, 'Timeout', 'p1'), 200, { metadata: { labels: { l: 'v' } }, ...timeout('2s') });
    expected++;
    await check(p1c);
    const patched = await a.ok<TenantDoc>('PATCH', `/api/v1/tenants/${t}`, 200, { labels: { rev: 'x' } });
    expected++;
    await check(patched);

    // Writes that do not commit leave it alone.
    expectError(await a.call('PUT', pUrl(t, 'Timeout', 'p1'), timeout('0s')), 400, 'ValidationError');
    expectError(await a.call('PUT', pUrl(t, 'Timeout', 'p1'), timeout('3s'), { 'if-match': p1.metadata.resourceVersion }), 412, 'PreconditionFailed');
    expectError(await a.call('DELETE', pUrl(t, 'Timeout', 'absent')), 404, 'NotFound');
    expect((await a.call('PUT', pUrl(t, 'Timeout', 'p1'), { metadata: { labels: { l: 'v' } }, ...timeout('2s') })).statusCode).toBe(200);
    expect((await a.call('PATCH', `/api/v1/tenants/${t}`, { labels: { rev: 'x' } })).statusCode).toBe(200);
    await check();

    // Another tenant's writes are not counted here.
    await a.ok('PUT', pUrl(other, 'Timeout', 'p1'), 201, timeout('1s'));
    await a.ok('PATCH', `/api/v1/tenants/${other}`, 200, { labels: { a: 'b' } });
    await check();

    expect((await a.call('DELETE', pUrl(t, 'Retry', 'p2'))).statusCode).toBe(204);
    expected++;
    await check();
    const p3 = await a.ok<PolicyDoc>('PUT', pUrl(t, 'Retry', 'p2'), 201, { spec: { targetRef: target, attempts: 4, retryOn: ['5xx'] } });
    expected++;
    await check(p3);
    expect(p3.metadata.generation).toBe(1);
  });

  it('N concurrent writes to distinct policies add exactly N', async () => {
    const t = await a.newTenant();
    const before = (await a.tenant(t)).status.revision;
    const responses = await Promise.all(Array.from({ length: 25 }, (_, i) => a.call('PUT', pUrl(t, 'Timeout', `c${i}`), timeout(`${i + 1}s`))));
    expect(statuses(responses)).toEqual(Array<number>(25).fill(201));
    const versions = responses.map((r) => Number(r.json<PolicyDoc>().metadata.resourceVersion)).sort((x, y) => x - y);
    expect(versions).toEqual(Array.from({ length: 25 }, (_, i) => before + 1 + i));
    expect((await a.tenant(t)).status.revision).toBe(before + 25);
  });
});

// ---------------------------------------------------------------- quotas

describe('quotas', () => {
  it('maxPolicies N under 3N concurrent creates: exactly N succeed, the rest are 403 QuotaExceeded', async () => {
    const N = 5;
    const t = await a.newTenant({ quotas: { maxPolicies: N } });
    const kinds = ['Timeout', 'Retry'];
    const bodyFor = (kind: string, i: number) => (kind === 'Timeout' ? timeout(`${i + 1}s`) : { spec: { targetRef: target, attempts: 1 + (i % 10), retryOn: ['5xx'] } });
    const requests = Array.from({ length: 3 * N }, (_, i) => {
      const kind = kinds[i % 2]!;
      return { kind, name: `q${i}`, body: bodyFor(kind, i) };
    });
    const responses = await Promise.all(requests.map((r) => a.call('PUT', pUrl(t, r.kind, r.name), r.body)));
    expect(statuses(responses)).toEqual([...Array<number>(N).fill(201), ...Array<number>(2 * N).fill(403)]);
    for (const r of responses.filter((x) => x.statusCode === 403)) expect(expectError(r, 403, 'QuotaExceeded').message).toContain(String(N));

    const winners = requests.filter((_, i) => responses[i]!.statusCode === 201);
    const listed = (await a.ok<{ items: PolicyDoc[] }>('GET', `/api/v1/tenants/${t}/policies`, 200)).items;
    expect(listed.map((p) => `${p.kind}/${p.metadata.name}`).sort()).toEqual(winners.map((w) => `${w.kind}/${w.name}`).sort());
    const losers = requests.filter((_, i) => responses[i]!.statusCode === 403);
    for (const l of losers) expect((await a.call('GET', pUrl(t, l.kind, l.name))).statusCode).toBe(404);
    const tenant = await a.tenant(t);
    expect(tenant.status.policies).toBe(N);
    expect(tenant.status.revision).toBe(1 + N);

    // At the quota, updates (and no-op re-PUTs) of existing policies still work.
    const w = winners[0]!;
    expect((await a.call('PUT', pUrl(t, w.kind, w.name), w.body)).statusCode).toBe(200);
    const updated = await a.call('PUT', pUrl(t, w.kind, w.name), bodyFor(w.kind, 1000));
    expect(updated.statusCode, updated.body).toBe(200);
    expect((await a.tenant(t)).status.revision).toBe(2 + N);
    // A new one is still refused, even with If-None-Match.
    expectError(await a.call('PUT', pUrl(t, 'Timeout', 'one-more'), timeout('1s'), { 'if-none-match': '*' }), 403, 'QuotaExceeded');
    // Freeing a slot lets exactly one more in.
    expect((await a.call('DELETE', pUrl(t, w.kind, w.name))).statusCode).toBe(204);
    const refill = await Promise.all(['r1', 'r2', 'r3'].map((n) => a.call('PUT', pUrl(t, 'Timeout', n), timeout('1s'))));
    expect(statuses(refill)).toEqual([201, 403, 403]);
    // Raising the quota lets more in.
    await a.ok('PATCH', `/api/v1/tenants/${t}`, 200, { quotas: { maxPolicies: N + 1 } });
    expect((await a.call('PUT', pUrl(t, 'Timeout', 'after-raise'), timeout('1s'))).statusCode).toBe(201);
    expect((await a.tenant(t)).status.policies).toBe(N + 1);
  });

  it('maxPolicies 0 refuses every create', async () => {
    const t = await a.newTenant({ quotas: { maxPolicies: 0 } });
    expectError(await a.call('PUT', pUrl(t, 'Timeout', 'x'), timeout('1s')), 403, 'QuotaExceeded');
    expect((await a.tenant(t)).status).toEqual({ revision: 1, policies: 0 });
  });

  it('maxTokens N under 3N concurrent mints: exactly N succeed, the rest are 403 QuotaExceeded', async () => {
    const N = 3;
    const t = await a.newTenant({ quotas: { maxTokens: N } });
    const responses = await Promise.all(Array.from({ length: 3 * N }, () => a.call('POST', `/api/v1/tenants/${t}/tokens`, { role: 'viewer', ttl: '1h' })));
    expect(statuses(responses)).toEqual([...Array<number>(N).fill(201), ...Array<number>(2 * N).fill(403)]);
    for (const r of responses.filter((x) => x.statusCode === 403)) expectError(r, 403, 'QuotaExceeded');
    const minted = responses.filter((r) => r.statusCode === 201).map((r) => r.json<CreatedToken>());
    const listed = (await a.ok<{ items: Array<{ id: string }> }>('GET', `/api/v1/tenants/${t}/tokens`, 200)).items;
    expect(listed.map((x) => x.id).sort()).toEqual(minted.map((m) => m.info.id).sort());
    for (const m of minted) expect((await cp.call('GET', `/api/v1/tenants/${t}`, m.token)).statusCode).toBe(200);

    // Revoking one frees exactly one slot.
    expect((await a.call('DELETE', `/api/v1/tenants/${t}/tokens/${minted[0]!.info.id}`)).statusCode).toBe(204);
    const again = await Promise.all([1, 2].map(() => a.call('POST', `/api/v1/tenants/${t}/tokens`, { role: 'viewer', ttl: '1h' })));
    expect(statuses(again)).toEqual([201, 403]);
  });
});

// ---------------------------------------------------------------- replicas

describe('two replicas on one store', () => {
  let store: Awaited<ReturnType<typeof isolatedStore>>;
  let r1: TestGlobalCp;
  let r2: TestGlobalCp;
  let one: ReturnType<typeof api>;
  let two: ReturnType<typeof api>;

  beforeAll(async () => {
    store = await isolatedStore();
    r1 = await startTestGlobalCp(store);
    r2 = await startTestGlobalCp(store);
    one = api(r1);
    two = api(r2);
    await one.ok('POST', '/api/v1/zones', 201, { name: ZONE, region: 'eu-west', location: 'aws:eu-west-1', kind: 'kubernetes' });
  });

  afterAll(async () => {
    await r1?.close();
    await r2?.close();
    await store?.close();
  });

  it('see each other’s writes', async () => {
    const t = await one.newTenant();
    expect(await two.tenant(t)).toEqual(await one.tenant(t));
    const created = await two.ok<PolicyDoc>('PUT', pUrl(t, 'Timeout', 'shared'), 201, timeout('1s'));
    expect(await one.policy(t, 'Timeout', 'shared')).toEqual(created);
    const token = await one.ok<CreatedToken>('POST', `/api/v1/tenants/${t}/tokens`, 201, { role: 'editor', ttl: '1h' });
    expect((await r2.call('GET', `/api/v1/tenants/${t}/policies`, token.token)).statusCode).toBe(200);
    expect((await r2.call('DELETE', `/api/v1/tenants/${t}/tokens/${token.info.id}`, ADMIN_TOKEN)).statusCode).toBe(204);
    expect((await r1.call('GET', `/api/v1/tenants/${t}/policies`, token.token)).statusCode).toBe(401);
  });

  it('racing updates with the same If-Match give exactly one winner, 20 rounds', async () => {
    const t = await one.newTenant();
    const url = pUrl(t, 'Timeout', 'raced');
    await one.ok('PUT', url, 201, timeout('1s'));
    for (let round = 0; round < 20; round++) {
      const before = await one.policy(t, 'Timeout', 'raced');
      const [x, y] = await Promise.all([
        one.call('PUT', url, timeout(`${round + 10}s`), { 'if-match': before.metadata.resourceVersion }),
        two.call('PUT', url, timeout(`${round + 100}ms`), { 'if-match': before.metadata.resourceVersion }),
      ]);
      expect(statuses([x, y]), `round ${round}`).toEqual([200, 412]);
      const winner = (x.statusCode === 200 ? x : y).json<PolicyDoc>();
      expect(await two.policy(t, 'Timeout', 'raced')).toEqual(winner);
      expect(Number(winner.metadata.resourceVersion)).toBe(Number(before.metadata.resourceVersion) + 1);
    }
  });

  it('racing tenant PATCHes with the same If-Match give exactly one winner, 20 rounds', async () => {
    const t = await one.newTenant();
    for (let round = 0; round < 20; round++) {
      const before = await one.tenant(t);
      const [x, y] = await Promise.all([
        one.call('PATCH', `/api/v1/tenants/${t}`, { labels: { by: 'one', round: String(round) } }, { 'if-match': before.metadata.resourceVersion }),
        two.call('PATCH', `/api/v1/tenants/${t}`, { labels: { by: 'two', round: String(round) } }, { 'if-match': before.metadata.resourceVersion }),
      ]);
      expect(statuses([x, y]), `round ${round}`).toEqual([200, 412]);
      expect((await two.tenant(t)).status.revision).toBe(before.status.revision + 1);
    }
  });

  it('creates with If-None-Match: * across replicas give exactly one winner', async () => {
    const t = await one.newTenant();
    const responses = await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 ? one : two).call('PUT', pUrl(t, 'Timeout', 'only-one'), timeout(`${i + 1}s`), { 'if-none-match': '*' })),
    );
    expect(statuses(responses)).toEqual([201, ...Array<number>(9).fill(412)]);
  });

  it('the policy quota holds across replicas', async () => {
    const N = 4;
    const t = await one.newTenant({ quotas: { maxPolicies: N } });
    const responses = await Promise.all(Array.from({ length: 3 * N }, (_, i) => (i % 2 ? one : two).call('PUT', pUrl(t, 'Timeout', `q${i}`), timeout('1s'))));
    expect(statuses(responses)).toEqual([...Array<number>(N).fill(201), ...Array<number>(2 * N).fill(403)]);
    expect((await two.tenant(t)).status.policies).toBe(N);
  });

  it('the token quota holds across replicas', async () => {
    const N = 2;
    const t = await one.newTenant({ quotas: { maxTokens: N } });
    const responses = await Promise.all(Array.from({ length: 3 * N }, (_, i) => (i % 2 ? one : two).call('POST', `/api/v1/tenants/${t}/tokens`, { role: 'viewer', ttl: '1h' })));
    expect(statuses(responses)).toEqual([...Array<number>(N).fill(201), ...Array<number>(2 * N).fill(403)]);
  });
});

// ---------------------------------------------------------------- restart

describe('restart on the same store', () => {
  it('keeps zones, tenants, policies and tokens; old tokens keep working; revisions keep counting', async () => {
    const first = await startTestGlobalCp();
    const prefix = first.store.keys.prefix;
    const f = api(first);
    const zoneToken = (await f.ok<{ token: string }>('POST', '/api/v1/zones', 201, { name: ZONE, region: 'eu-west', location: 'aws:eu-west-1', kind: 'kubernetes' })).token;
    await f.ok('POST', '/api/v1/zones', 201, { name: 'zone-two', region: 'us-east', location: 'gcp:us-east1', kind: 'universal', labels: { tier: 'b' } });
    const t = await f.newTenant({ labels: { team: 'core' }, quotas: { maxPolicies: 10, maxTokens: 5 } });
    await f.ok('PUT', pUrl(t, 'Timeout', 'to'), 201, timeout('1s'));
    await f.ok('PUT', pUrl(t, 'Retry', 're'), 201, { metadata: { labels: { app: 'web' } }, spec: { targetRef: target, attempts: 2, retryOn: ['5xx'] } });
    await f.ok('PUT', pUrl(t, 'LocalityFailover', 'lf'), 201, { spec: { targetRef: target, crossRegion: [{ from: 'eu-west', to: ['us-east'] }] } });
    await f.ok('PUT', pUrl(t, 'Timeout', 'to'), 200, timeout('2s'));
    const editor = await f.ok<CreatedToken>('POST', `/api/v1/tenants/${t}/tokens`, 201, { role: 'editor', ttl: '2h' });
    const revoked = await f.ok<CreatedToken>('POST', `/api/v1/tenants/${t}/tokens`, 201, { role: 'admin', ttl: '2h' });
    expect((await f.call('DELETE', `/api/v1/tenants/${t}/tokens/${revoked.info.id}`)).statusCode).toBe(204);

    const zonesBefore = await f.ok('GET', '/api/v1/zones', 200);
    const tenantsBefore = await f.ok('GET', '/api/v1/tenants', 200);
    const tenantBefore = await f.tenant(t);
    const policiesBefore = await f.ok('GET', `/api/v1/tenants/${t}/policies`, 200);
    const tokensBefore = await f.ok('GET', `/api/v1/tenants/${t}/tokens`, 200);
    await first.close();

    const store = new RedisStore({ url: inject('redisUrl'), prefix });
    await store.connect();
    const second = await startTestGlobalCp(store);
    try {
      const s = api(second);
      expect(await s.ok('GET', '/api/v1/zones', 200)).toEqual(zonesBefore);
      expect(await s.ok('GET', '/api/v1/tenants', 200)).toEqual(tenantsBefore);
      expect(await s.tenant(t)).toEqual(tenantBefore);
      expect(await s.ok('GET', `/api/v1/tenants/${t}/policies`, 200)).toEqual(policiesBefore);
      expect(await s.ok('GET', `/api/v1/tenants/${t}/tokens`, 200)).toEqual(tokensBefore);

      // The old tenant token still authenticates with its role; the revoked one still does not.
      expect((await second.call('GET', `/api/v1/tenants/${t}`, editor.token)).statusCode).toBe(200);
      const write = await second.call('PUT', pUrl(t, 'Timeout', 'after-restart'), editor.token, timeout('1s'));
      expect(write.statusCode, write.body).toBe(201);
      expect(Number(write.json<PolicyDoc>().metadata.resourceVersion)).toBe(tenantBefore.status.revision + 1);
      expect((await second.call('GET', `/api/v1/tenants/${t}/tokens`, editor.token)).statusCode).toBe(403);
      expect((await second.call('GET', `/api/v1/tenants/${t}`, revoked.token)).statusCode).toBe(401);
      // The zone token is still known (authenticated, then forbidden), not unknown (401).
      expect((await second.call('GET', '/api/v1/zones', zoneToken)).statusCode).toBe(403);
      // Names are still taken.
      expect((await s.call('POST', '/api/v1/zones', { name: ZONE, region: 'eu-west', location: 'dc:x', kind: 'universal' })).statusCode).toBe(409);
      expect((await s.call('POST', '/api/v1/tenants', { name: t })).statusCode).toBe(409);
      expect((await s.call('POST', '/api/v1/tenants', { name: unique('copy'), trustDomain: tenantBefore.spec.trustDomain })).statusCode).toBe(409);
      // The zone still has the tenant placed.
      expect((await s.call('DELETE', `/api/v1/zones/${ZONE}`)).statusCode).toBe(409);
      // Zone resourceVersions keep counting too.
      const zoneTwo = await s.ok<ZoneDoc>('PATCH', '/api/v1/zones/zone-two', 200, { labels: { tier: 'c' } });
      const maxZoneRv = Math.max(...(zonesBefore as { items: ZoneDoc[] }).items.map((z) => Number(z.metadata.resourceVersion)));
      expect(Number(zoneTwo.metadata.resourceVersion)).toBe(maxZoneRv + 1);
    } finally {
      await second.close();
      await store.close();
    }
  });
});

// ---------------------------------------------------------------- tenant deletion

describe('deleting a tenant', () => {
  it('removes its policies and tokens; re-creating it starts empty with a revision that never goes back', async () => {
    const t = await a.newTenant({ trustDomain: `${unique('td')}.example` });
    const trustDomain = (await a.tenant(t)).spec.trustDomain;
    await a.ok('PUT', pUrl(t, 'Timeout', 'p1'), 201, timeout('1s'));
    const p2 = await a.ok<PolicyDoc>('PUT', pUrl(t, 'TrafficPermission', 'p2'), 201, {
      spec: { targetRef: target, rules: [{ action: 'Allow', sources: [{ spiffeId: `spiffe://${trustDomain}/ns/a/sa/b` }] }] },
    });
    const admin = await a.ok<CreatedToken>('POST', `/api/v1/tenants/${t}/tokens`, 201, { role: 'admin', ttl: '1h' });
    const viewer = await a.ok<CreatedToken>('POST', `/api/v1/tenants/${t}/tokens`, 201, { role: 'viewer', ttl: '1h' });
    const stale = await a.tenant(t);
    const before = await a.ok<TenantDoc>('PATCH', `/api/v1/tenants/${t}`, 200, { labels: { doomed: 'yes' } });
    expect(before.status.policies).toBe(2);

    // A stale If-Match protects the tenant.
    expectError(await a.call('DELETE', `/api/v1/tenants/${t}`, undefined, { 'if-match': stale.metadata.resourceVersion }), 412, 'PreconditionFailed');
    expect((await cp.call('GET', `/api/v1/tenants/${t}`, viewer.token)).statusCode).toBe(200);

    expect((await a.call('DELETE', `/api/v1/tenants/${t}`, undefined, { 'if-match': before.metadata.resourceVersion })).statusCode).toBe(204);
    expectError(await a.call('GET', `/api/v1/tenants/${t}`), 404, 'NotFound');
    expectError(await a.call('GET', `/api/v1/tenants/${t}/policies`), 404, 'NotFound');
    expectError(await a.call('GET', pUrl(t, 'Timeout', 'p1')), 404, 'NotFound');
    expectError(await a.call('GET', `/api/v1/tenants/${t}/tokens`), 404, 'NotFound');
    expectError(await a.call('DELETE', `/api/v1/tenants/${t}`), 404, 'NotFound');
    for (const tok of [admin, viewer]) expectError(await cp.call('GET', `/api/v1/tenants/${t}`, tok.token), 401, 'Unauthorized');
    expect(await cp.store.listPolicies(t)).toEqual([]);
    expect(await cp.store.listTokens(t)).toEqual([]);
    expect(await cp.store.zoneTenants(ZONE)).not.toContain(t);
    // Writes into the deleted tenant do not resurrect anything.
    expectError(await a.call('PUT', pUrl(t, 'Timeout', 'p1'), timeout('1s')), 404, 'NotFound');
    expectError(await a.call('POST', `/api/v1/tenants/${t}/tokens`, { role: 'viewer' }), 404, 'NotFound');

    // Re-created under the same name (and trust domain): empty, and the revision moved on.
    const again = await a.ok<TenantDoc>('POST', '/api/v1/tenants', 201, { name: t, zones: [ZONE], trustDomain });
    expect(again.status.policies).toBe(0);
    expect(again.status.revision).toBeGreaterThan(before.status.revision);
    expect(Number(again.metadata.resourceVersion)).toBeGreaterThan(before.status.revision);
    expect(again.metadata.generation).toBe(1);
    expect((await a.ok<{ items: unknown[] }>('GET', `/api/v1/tenants/${t}/policies`, 200)).items).toEqual([]);
    expect((await a.ok<{ items: unknown[] }>('GET', `/api/v1/tenants/${t}/tokens`, 200)).items).toEqual([]);
    for (const tok of [admin, viewer]) expectError(await cp.call('GET', `/api/v1/tenants/${t}`, tok.token), 401, 'Unauthorized');
    expectError(await a.call('GET', pUrl(t, 'TrafficPermission', 'p2')), 404, 'NotFound');

    const reborn = await a.ok<PolicyDoc>('PUT', pUrl(t, 'TrafficPermission', 'p2'), 201, { spec: p2.spec });
    expect(reborn.metadata.generation).toBe(1);
    expect(Number(reborn.metadata.resourceVersion)).toBe(again.status.revision + 1);
    expect(Number(reborn.metadata.resourceVersion)).toBeGreaterThan(Number(p2.metadata.resourceVersion));
    expect(await cp.store.zoneTenants(ZONE)).toContain(t);
  });
});
