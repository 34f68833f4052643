import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startTestGlobalCp, type TestGlobalCp } from '../test/helpers/global-cp.js';

/**
 * Input validation of the global CP API: every error is {error, message,
 * details:[{path, message}]} with JSON-pointer paths prefixed by location, and
 * a rejected write leaves no trace.
 */

type Method = InjectOptions['method'];

interface ErrorBody {
  error: string;
  message: string;
  details: Array<{ path: string; message: string }>;
}

interface PolicyDoc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; tenant: string; labels: Record<string, string>; resourceVersion: string; generation: number; creationTimestamp: string };
  spec: Record<string, unknown>;
}

interface TenantDoc {
  metadata: { name: string; labels: Record<string, string>; resourceVersion: string; generation: number };
  spec: { trustDomain: string; zones: string[]; quotas: { maxPolicies: number; maxTokens: number } };
  status: { revision: number; policies: number };
}

const TENANT = 'acme';
const OTHER = 'globex';
const T = `/api/v1/tenants/${TENANT}`;

let cp: TestGlobalCp;

const call = (method: Method, url: string, body?: unknown, headers?: Record<string, string>) => cp.call(method, url, ADMIN_TOKEN, body, headers);

/** Asserts the error envelope and returns it; `paths` must all appear among details. */
function expectError(res: LightMyRequestResponse, status: number, error: string, paths: string[] = []): ErrorBody {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const body = res.json<ErrorBody>();
  expect(Object.keys(body).sort()).toEqual(['details', 'error', 'message']);
  expect(body.error).toBe(error);
  expect(typeof body.message).toBe('string');
  expect(body.message.length).toBeGreaterThan(0);
  expect(Array.isArray(body.details)).toBe(true);
  for (const d of body.details) {
    expect(Object.keys(d).sort()).toEqual(['message', 'path']);
    expect(typeof d.message).toBe('string');
    expect(d.message.length).toBeGreaterThan(0);
    expect(d.path).toMatch(/^\/(body|params|querystring|headers)(\/|$)/);
  }
  const got = body.details.map((d) => d.path);
  for (const p of paths) expect(got, `details ${JSON.stringify(body.details)}`).toContain(p);
  return body;
}

async function tenantDoc(name = TENANT): Promise<TenantDoc> {
  const res = await call('GET', `/api/v1/tenants/${name}`);
  expect(res.statusCode, res.body).toBe(200);
  return res.json<TenantDoc>();
}

async function policyList(): Promise<PolicyDoc[]> {
  const res = await call('GET', `${T}/policies`);
  expect(res.statusCode).toBe(200);
  return res.json<{ items: PolicyDoc[] }>().items;
}

interface Snapshot {
  tenant: TenantDoc;
  policies: PolicyDoc[];
  tenants: unknown;
  zones: unknown;
}

async function snapshot(): Promise<Snapshot> {
  return {
    tenant: await tenantDoc(),
    policies: await policyList(),
    tenants: (await call('GET', '/api/v1/tenants')).json(),
    zones: (await call('GET', '/api/v1/zones')).json(),
  };
}

/** "No half-writes": the whole visible state is exactly what it was. */
async function expectUnchanged(before: Snapshot): Promise<void> {
  const after = await snapshot();
  expect(after.tenant.status.revision).toBe(before.tenant.status.revision);
  expect(after).toEqual(before);
}

const svc = { kind: 'Service', name: 'web', namespace: 'shop' };

/** A valid example of every policy kind. */
const VALID: Record<string, Record<string, unknown>> = {
  TrafficRoute: {
    targetRef: svc,
    rules: [
      {
        matches: [{ path: { prefix: '/api' }, method: 'GET', headers: [{ name: 'x-canary', exact: 'yes' }] }],
        split: [
          { weight: 90, tags: { version: 'v1' } },
          { weight: 10, tags: { version: 'v2' } },
        ],
      },
      { split: [{ weight: 100, tags: { version: 'v1' } }] },
    ],
  },
  Retry: {
    targetRef: svc,
    attempts: 3,
    perTryTimeout: '250ms',
    retryOn: ['5xx', 'retriable-status-codes'],
    retriableStatusCodes: [503],
    backoff: { baseInterval: '25ms', maxInterval: '250ms' },
    budget: { percent: 20, minRetryConcurrency: 3 },
  },
  Timeout: { targetRef: { kind: 'Tenant' }, connect: '1s', request: '15s', idle: '1m30s' },
  CircuitBreaker: {
    targetRef: svc,
    thresholds: { maxConnections: 100, maxPendingRequests: 50, maxRequests: 200, maxRetries: 3 },
    outlierDetection: { consecutive5xx: 5, interval: '10s', baseEjectionTime: '30s', maxEjectionTime: '5m', maxEjectionPercent: 50 },
  },
  LocalityFailover: {
    targetRef: svc,
    crossRegion: [
      { from: 'eu-west', to: ['us-east'] },
      { from: 'us-east', to: ['eu-west'] },
    ],
    spilloverThreshold: 72,
  },
  TrafficPermission: {
    targetRef: svc,
    rules: [
      { action: 'Allow', sources: [{ namespace: 'shop', serviceAccount: 'frontend' }, { spiffeId: `spiffe://${TENANT}.mesh/ns/ops/sa/admin` }] },
      { action: 'Deny', sources: [{ namespace: 'untrusted' }] },
    ],
  },
};

const KINDS = Object.keys(VALID);

/** Spec of `kind` with `patch` merged in at the top level. */
const withSpec = (kind: string, patch: Record<string, unknown>) => ({ spec: { ...VALID[kind]!, ...patch } });

beforeAll(async () => {
  cp = await startTestGlobalCp();
  for (const [name, region, location] of [
    ['zone-eu', 'eu-west', 'aws:eu-west-1'],
    ['zone-us', 'us-east', 'gcp:us-east1'],
  ] as const) {
    expect((await call('POST', '/api/v1/zones', { name, region, location, kind: 'kubernetes' })).statusCode).toBe(201);
  }
  expect((await call('POST', '/api/v1/tenants', { name: TENANT, zones: ['zone-eu'] })).statusCode).toBe(201);
  expect((await call('POST', '/api/v1/tenants', { name: OTHER, trustDomain: 'globex.example', zones: ['zone-us'] })).statusCode).toBe(201);
});

afterAll(async () => {
  await cp?.close();
});

// ---------------------------------------------------------------- request framing

describe('request framing', () => {
  it('malformed JSON is 400 and writes nothing', async () => {
    const before = await snapshot();
    const res = await call('POST', '/api/v1/tenants', '{"name": "half', { 'content-type': 'application/json' });
    expectError(res, 400, 'BadRequest');
    const put = await call('PUT', `${T}/policies/Retry/broken`, '{"spec": {', { 'content-type': 'application/json' });
    expectError(put, 400, 'BadRequest');
    await expectUnchanged(before);
  });

  it('an empty JSON body is 400', async () => {
    expectError(await call('POST', '/api/v1/zones', '', { 'content-type': 'application/json' }), 400, 'BadRequest');
  });

  it.each([['application/xml', '<tenant name="x"/>'], ['application/x-www-form-urlencoded', 'name=x'], ['text/plain', '{"name":"plain"}']])(
    'content-type %s is 415 and writes nothing',
    async (contentType, payload) => {
      const before = await snapshot();
      expectError(await call('POST', '/api/v1/tenants', payload, { 'content-type': contentType }), 415, 'UnsupportedMediaType');
      expectError(await call('PUT', `${T}/policies/Timeout/by-${contentType.split('/')[1]!.slice(0, 5)}`, payload, { 'content-type': contentType }), 415, 'UnsupportedMediaType');
      await expectUnchanged(before);
    },
  );

  it('a body over 1 MiB is 413 and writes nothing', async () => {
    const before = await snapshot();
    const huge = { metadata: { labels: { a: 'b' } }, spec: { ...VALID.Timeout!, pad: 'x'.repeat(1024 * 1024) } };
    expectError(await call('PUT', `${T}/policies/Timeout/huge`, huge), 413, 'PayloadTooLarge');
    expectError(await call('POST', '/api/v1/tenants', { name: 'huge', labels: { pad: 'x' }, junk: 'y'.repeat(1024 * 1024 + 1) }), 413, 'PayloadTooLarge');
    await expectUnchanged(before);
    expect((await call('GET', `${T}/policies/Timeout/huge`)).statusCode).toBe(404);
  });

  it('a body just under 1 MiB is parsed (then rejected by the schema, not the size limit)', async () => {
    const res = await call('PUT', `${T}/policies/Timeout/big`, { spec: { ...VALID.Timeout!, pad: 'x'.repeat(1024 * 1024 - 200) } });
    expectError(res, 400, 'ValidationError', ['/body/spec/pad']);
  });

  it('unknown routes answer with the same envelope', async () => {
    expectError(await call('GET', '/api/v1/nothing-here'), 404, 'NotFound');
  });
});

// ---------------------------------------------------------------- schema: unknown fields, types, names

describe('unknown fields', () => {
  it.each<[string, Method, string, unknown, string[]]>([
    ['top level of a tenant', 'POST', '/api/v1/tenants', { name: 'typo', zone: ['zone-eu'] }, ['/body/zone']],
    ['nested in quotas', 'POST', '/api/v1/tenants', { name: 'typo', quotas: { maxPolicy: 3 } }, ['/body/quotas/maxPolicy']],
    ['top level of a zone', 'POST', '/api/v1/zones', { name: 'zone-x', region: 'eu-west', location: 'dc:x', kind: 'universal', status: {} }, ['/body/status']],
    ['kind in a zone PATCH (fixed at registration)', 'PATCH', '/api/v1/zones/zone-eu', { kind: 'universal' }, ['/body/kind']],
    ['trustDomain in a tenant PATCH (fixed at creation)', 'PATCH', T, { trustDomain: 'new.mesh' }, ['/body/trustDomain']],
    ['top level of a policy', 'PUT', `${T}/policies/Timeout/typo`, { ...withSpec('Timeout', {}), status: {} }, ['/body/status']],
    ['in policy metadata', 'PUT', `${T}/policies/Timeout/typo`, { metadata: { namespace: 'x' }, ...withSpec('Timeout', {}) }, ['/body/metadata/namespace']],
    ['in a policy spec', 'PUT', `${T}/policies/Timeout/typo`, withSpec('Timeout', { conect: '1s' }), ['/body/spec/conect']],
    ['deep in a policy spec', 'PUT', `${T}/policies/Retry/typo`, withSpec('Retry', { backoff: { baseInterval: '1s', jitter: true } }), ['/body/spec/backoff/jitter']],
    ['in targetRef', 'PUT', `${T}/policies/Retry/typo`, withSpec('Retry', { targetRef: { ...svc, port: 80 } }), ['/body/spec/targetRef/port']],
    ['in an array element', 'PUT', `${T}/policies/TrafficRoute/typo`, withSpec('TrafficRoute', { rules: [{ split: [{ weight: 100, subset: 'v1' }] }] }), ['/body/spec/rules/0/split/0/subset']],
    ['in a token request', 'POST', `${T}/tokens`, { role: 'viewer', scopes: ['all'] }, ['/body/scopes']],
  ])('%s is 400 naming the field', async (_label, method, url, body, paths) => {
    const before = await snapshot();
    const err = expectError(await call(method, url, body), 400, 'ValidationError', paths);
    expect(err.details.find((d) => d.path === paths[0])!.message).toBe('unknown field');
    expect(err.message).toContain(paths[0]);
    await expectUnchanged(before);
    expect((await call('GET', '/api/v1/tenants/typo')).statusCode).toBe(404);
    expect((await call('GET', '/api/v1/zones/zone-x')).statusCode).toBe(404);
  });

  it('reports every unknown field, not just the first', async () => {
    const err = expectError(await call('POST', '/api/v1/tenants', { name: 'typo', foo: 1, bar: 2, quotas: { baz: 3 } }), 400, 'ValidationError');
    expect(err.details.map((d) => d.path).sort()).toEqual(['/body/bar', '/body/foo', '/body/quotas/baz']);
  });

  it('field paths are JSON pointers: "/" and "~" in a field name are escaped', async () => {
    const err = expectError(await call('POST', '/api/v1/tenants', { name: 'typo', 'a/b': 1, 'c~d': 2 }), 400, 'ValidationError');
    expect(err.details.map((d) => d.path).sort()).toEqual(['/body/a~1b', '/body/c~0d']);
  });
});

describe('labels', () => {
  it.each<[string, Method, string, unknown, string]>([
    ['a tenant label key with a space', 'POST', '/api/v1/tenants', { name: 'labelled', labels: { 'Bad Key': 'v' } }, '/body/labels/Bad Key'],
    ['a tenant label key starting with "-"', 'POST', '/api/v1/tenants', { name: 'labelled', labels: { '-team': 'v' } }, '/body/labels/-team'],
    ['a zone label key with two slashes', 'PATCH', '/api/v1/zones/zone-eu', { labels: { 'a/b/c': 'v' } }, '/body/labels/a~1b~1c'],
    ['a policy label key too long', 'PUT', `${T}/policies/Timeout/labelled`, { metadata: { labels: { ['k'.repeat(64)]: 'v' } }, ...withSpec('Timeout', {}) }, `/body/metadata/labels/${'k'.repeat(64)}`],
    ['a policy label value with a space', 'PUT', `${T}/policies/Timeout/labelled`, { metadata: { labels: { app: 'web server' } }, ...withSpec('Timeout', {}) }, '/body/metadata/labels/app'],
    ['a tenant PATCH label value too long', 'PATCH', T, { labels: { app: 'v'.repeat(64) } }, '/body/labels/app'],
  ])('%s is 400 at its path and writes nothing', async (_label, method, url, body, path) => {
    const before = await snapshot();
    const res = await call(method, url, body);
    try {
      await expectUnchanged(before);
      expect((await call('GET', '/api/v1/tenants/labelled')).statusCode).toBe(404);
      expect((await call('GET', `${T}/policies/Timeout/labelled`)).statusCode).toBe(404);
      expectError(res, 400, 'ValidationError', [path]);
    } finally {
      // Should the bad write have been accepted, undo it so later tests start clean.
      if (res.statusCode < 300) {
        await call('DELETE', '/api/v1/tenants/labelled');
        await call('DELETE', `${T}/policies/Timeout/labelled`);
        if (url === T) await call('PATCH', T, { labels: before.tenant.metadata.labels });
        if (url.startsWith('/api/v1/zones/')) await call('PATCH', url, { labels: {} });
      }
    }
  });
});

describe('wrong types and missing fields', () => {
  it.each<[string, Method, string, unknown, string]>([
    ['zone name as number', 'POST', '/api/v1/zones', { name: 5, region: 'eu-west', location: 'dc:x', kind: 'universal' }, '/body/name'],
    ['zone kind not in the enum', 'POST', '/api/v1/zones', { name: 'zone-x', region: 'eu-west', location: 'dc:x', kind: 'vm' }, '/body/kind'],
    ['zone location without provider', 'POST', '/api/v1/zones', { name: 'zone-x', region: 'eu-west', location: 'ams1', kind: 'universal' }, '/body/location'],
    ['zone region missing', 'POST', '/api/v1/zones', { name: 'zone-x', location: 'dc:x', kind: 'universal' }, '/body/region'],
    ['tenant zones as string', 'POST', '/api/v1/tenants', { name: 'typo', zones: 'zone-eu' }, '/body/zones'],
    ['tenant zones duplicated', 'POST', '/api/v1/tenants', { name: 'typo', zones: ['zone-eu', 'zone-eu'] }, '/body/zones'],
    ['quota as string (no coercion)', 'POST', '/api/v1/tenants', { name: 'typo', quotas: { maxPolicies: '10' } }, '/body/quotas/maxPolicies'],
    ['quota negative', 'POST', '/api/v1/tenants', { name: 'typo', quotas: { maxTokens: -1 } }, '/body/quotas/maxTokens'],
    ['quota fractional', 'POST', '/api/v1/tenants', { name: 'typo', quotas: { maxTokens: 1.5 } }, '/body/quotas/maxTokens'],
    ['label value not a string', 'POST', '/api/v1/tenants', { name: 'typo', labels: { team: 7 } }, '/body/labels/team'],
    ['body is an array', 'POST', '/api/v1/tenants', [{ name: 'typo' }], '/body'],
    ['token role unknown', 'POST', `${T}/tokens`, { role: 'owner' }, '/body/role'],
    ['token role missing', 'POST', `${T}/tokens`, {}, '/body/role'],
    ['token ttl not a duration', 'POST', `${T}/tokens`, { role: 'viewer', ttl: 'forever' }, '/body/ttl'],
    ['token ttl under a minute', 'POST', `${T}/tokens`, { role: 'viewer', ttl: '30s' }, '/body/ttl'],
    ['policy attempts as string', 'PUT', `${T}/policies/Retry/typed`, withSpec('Retry', { attempts: '3' }), '/body/spec/attempts'],
    ['policy spec missing', 'PUT', `${T}/policies/Retry/typed`, { metadata: {} }, '/body/spec'],
    ['policy targetRef missing', 'PUT', `${T}/policies/Timeout/typed`, { spec: { connect: '1s' } }, '/body/spec/targetRef'],
    ['policy spec null', 'PUT', `${T}/policies/Timeout/typed`, { spec: null }, '/body/spec'],
    ['policy apiVersion wrong', 'PUT', `${T}/policies/Timeout/typed`, { apiVersion: 'meshfed.io/v2', ...withSpec('Timeout', {}) }, '/body/apiVersion'],
    ['policy generation negative', 'PUT', `${T}/policies/Timeout/typed`, { metadata: { generation: -1 }, ...withSpec('Timeout', {}) }, '/body/metadata/generation'],
  ])('%s is 400 at its path', async (_label, method, url, body, path) => {
    const before = await snapshot();
    expectError(await call(method, url, body), 400, 'ValidationError', [path]);
    await expectUnchanged(before);
    expect((await call('GET', `${T}/policies/Retry/typed`)).statusCode).toBe(404);
    expect((await call('GET', `${T}/policies/Timeout/typed`)).statusCode).toBe(404);
  });
});

describe('DNS-1123 names', () => {
  const BAD_NAMES = ['Upper', 'under_score', '-leading', 'trailing-', 'dot.ted', 'a'.repeat(64), ''];

  it.each(BAD_NAMES.map((n) => [JSON.stringify(n), n]))('body name %s is rejected for zones, tenants and policy metadata', async (_label, name) => {
    const before = await snapshot();
    expectError(await call('POST', '/api/v1/zones', { name, region: 'eu-west', location: 'dc:x', kind: 'universal' }), 400, 'ValidationError', ['/body/name']);
    expectError(await call('POST', '/api/v1/tenants', { name }), 400, 'ValidationError', ['/body/name']);
    expectError(await call('PUT', `${T}/policies/Timeout/ok-name`, { metadata: { name }, ...withSpec('Timeout', {}) }), 400, 'ValidationError', ['/body/metadata/name']);
    expectError(await call('POST', '/api/v1/zones', { name: 'zone-ok', region: name, location: 'dc:x', kind: 'universal' }), 400, 'ValidationError', ['/body/region']);
    expectError(await call('PUT', `${T}/policies/Retry/ok-name`, withSpec('Retry', { targetRef: { kind: 'Service', name, namespace: 'shop' } })), 400, 'ValidationError', ['/body/spec/targetRef/name']);
    await expectUnchanged(before);
    expect((await call('GET', `${T}/policies/Timeout/ok-name`)).statusCode).toBe(404);
  });

  it('a 63-character name is fine', async () => {
    const name = `z${'a'.repeat(61)}z`;
    expect((await call('POST', '/api/v1/tenants', { name })).statusCode).toBe(201);
    expect((await call('DELETE', `/api/v1/tenants/${name}`)).statusCode).toBe(204);
  });

  it.each<[string, Method, string, unknown, string]>([
    ['zone GET', 'GET', '/api/v1/zones/Zone_EU', undefined, '/params/name'],
    ['zone PATCH', 'PATCH', '/api/v1/zones/zone.eu', { labels: {} }, '/params/name'],
    ['zone DELETE', 'DELETE', '/api/v1/zones/-zone', undefined, '/params/name'],
    ['tenant GET', 'GET', '/api/v1/tenants/ACME', undefined, '/params/name'],
    ['tenant PATCH', 'PATCH', '/api/v1/tenants/acme_', { labels: {} }, '/params/name'],
    ['tenant DELETE', 'DELETE', `/api/v1/tenants/${'a'.repeat(64)}`, undefined, '/params/name'],
    ['tokens POST', 'POST', '/api/v1/tenants/Acme/tokens', { role: 'viewer' }, '/params/tenant'],
    ['tokens GET', 'GET', '/api/v1/tenants/Acme/tokens', undefined, '/params/tenant'],
    ['policy list', 'GET', '/api/v1/tenants/Acme/policies', undefined, '/params/tenant'],
    ['policy PUT tenant', 'PUT', '/api/v1/tenants/Acme/policies/Timeout/ok', withSpec('Timeout', {}), '/params/tenant'],
    ['policy PUT name', 'PUT', `${T}/policies/Timeout/Not_OK`, withSpec('Timeout', {}), '/params/name'],
    ['policy GET name', 'GET', `${T}/policies/Timeout/a.b`, undefined, '/params/name'],
    ['policy DELETE name', 'DELETE', `${T}/policies/Timeout/UP`, undefined, '/params/name'],
  ])('URL %s with a bad name is 400 at %s', async (_label, method, url, body, path) => {
    const before = await snapshot();
    const err = expectError(await call(method, url, body), 400, 'ValidationError', [path]);
    expect(err.details.filter((d) => d.path === path).some((d) => d.message.includes('DNS-1123')), JSON.stringify(err.details)).toBe(true);
    await expectUnchanged(before);
  });

  it('a malformed token id in the URL is 400 at /params/id, with a message about token ids (not DNS-1123 names)', async () => {
    const err = expectError(await call('DELETE', `${T}/tokens/NOT-HEX`), 400, 'ValidationError', ['/params/id']);
    expect(err.details.find((d) => d.path === '/params/id')!.message).not.toMatch(/DNS-1123/);
  });
});

describe('querystring and headers', () => {
  it.each([
    ['a malformed labelSelector', '?labelSelector=app%20in%20(web', '/querystring/labelSelector'],
    ['an empty labelSelector requirement', '?labelSelector=app%3Dweb%2C%2Ctier%3Dfront', '/querystring/labelSelector'],
    ['an unknown kind', '?kind=Gateway', '/querystring/kind'],
    ['an unknown parameter', '?limit=10', '/querystring/limit'],
  ])('listing policies with %s is 400', async (_label, query, path) => {
    expectError(await call('GET', `${T}/policies${query}`), 400, 'ValidationError', [path]);
  });

  it.each<[string, Record<string, string>, string]>([
    ['If-Match that is not a resourceVersion', { 'if-match': 'abc' }, '/headers/if-match'],
    ['If-Match together with If-None-Match', { 'if-match': '"1"', 'if-none-match': '*' }, '/headers/if-match'],
    ['If-None-Match other than *', { 'if-none-match': '"3"' }, '/headers/if-none-match'],
  ])('%s is 400 at the header and writes nothing', async (_label, headers, path) => {
    const before = await snapshot();
    expectError(await call('PUT', `${T}/policies/Timeout/hdr`, withSpec('Timeout', {}), headers), 400, 'ValidationError', [path]);
    expectError(await call('PATCH', T, { labels: { hdr: 'x' } }, headers), 400, 'ValidationError', [path]);
    expectError(await call('PATCH', '/api/v1/zones/zone-eu', { labels: { hdr: 'x' } }, headers), 400, 'ValidationError', [path]);
    await expectUnchanged(before);
    expect((await call('GET', `${T}/policies/Timeout/hdr`)).statusCode).toBe(404);
  });
});

// ---------------------------------------------------------------- policy kinds

interface Case {
  label: string;
  kind: string;
  spec: Record<string, unknown>;
  paths: string[];
}

const SCHEMA_FAILURES: Case[] = [
  { label: 'weight over 100', kind: 'TrafficRoute', spec: { ...VALID.TrafficRoute, rules: [{ split: [{ weight: 101 }] }] }, paths: ['/body/spec/rules/0/split/0/weight'] },
  { label: 'no rules', kind: 'TrafficRoute', spec: { ...VALID.TrafficRoute, rules: [] }, paths: ['/body/spec/rules'] },
  { label: 'unknown HTTP method', kind: 'TrafficRoute', spec: { ...VALID.TrafficRoute, rules: [{ matches: [{ method: 'FETCH' }], split: [{ weight: 100 }] }] }, paths: ['/body/spec/rules/0/matches/0/method'] },
  { label: 'attempts over 10', kind: 'Retry', spec: { ...VALID.Retry, attempts: 11 }, paths: ['/body/spec/attempts'] },
  { label: 'attempts 0', kind: 'Retry', spec: { ...VALID.Retry, attempts: 0 }, paths: ['/body/spec/attempts'] },
  { label: 'unknown retryOn', kind: 'Retry', spec: { ...VALID.Retry, retryOn: ['5xx', 'sometimes'] }, paths: ['/body/spec/retryOn/1'] },
  { label: 'budget percent 0', kind: 'Retry', spec: { ...VALID.Retry, budget: { percent: 0 } }, paths: ['/body/spec/budget/percent'] },
  { label: 'connect not a duration', kind: 'Timeout', spec: { ...VALID.Timeout, connect: '5 seconds' }, paths: ['/body/spec/connect'] },
  { label: 'negative duration', kind: 'Timeout', spec: { ...VALID.Timeout, request: '-1s' }, paths: ['/body/spec/request'] },
  { label: 'maxConnections 0', kind: 'CircuitBreaker', spec: { ...VALID.CircuitBreaker, thresholds: { maxConnections: 0 } }, paths: ['/body/spec/thresholds/maxConnections'] },
  { label: 'maxEjectionPercent over 100', kind: 'CircuitBreaker', spec: { ...VALID.CircuitBreaker, outlierDetection: { maxEjectionPercent: 101 } }, paths: ['/body/spec/outlierDetection/maxEjectionPercent'] },
  { label: 'spilloverThreshold 0', kind: 'LocalityFailover', spec: { ...VALID.LocalityFailover, spilloverThreshold: 0 }, paths: ['/body/spec/spilloverThreshold'] },
  { label: 'empty failover list', kind: 'LocalityFailover', spec: { ...VALID.LocalityFailover, crossRegion: [{ from: 'eu-west', to: [] }] }, paths: ['/body/spec/crossRegion/0/to'] },
  { label: 'region not a DNS label', kind: 'LocalityFailover', spec: { ...VALID.LocalityFailover, crossRegion: [{ from: 'EU_West', to: ['us-east'] }] }, paths: ['/body/spec/crossRegion/0/from'] },
  { label: 'unknown action', kind: 'TrafficPermission', spec: { ...VALID.TrafficPermission, rules: [{ action: 'Maybe', sources: [{ namespace: 'a' }] }] }, paths: ['/body/spec/rules/0/action'] },
  { label: 'no sources', kind: 'TrafficPermission', spec: { ...VALID.TrafficPermission, rules: [{ action: 'Allow', sources: [] }] }, paths: ['/body/spec/rules/0/sources'] },
  { label: 'targetRef kind Pod', kind: 'Timeout', spec: { ...VALID.Timeout, targetRef: { kind: 'Pod', name: 'x' } }, paths: ['/body/spec/targetRef/kind'] },
];

const SEMANTIC_FAILURES: Case[] = [
  {
    label: 'weights summing to 90',
    kind: 'TrafficRoute',
    spec: { targetRef: svc, rules: [{ split: [{ weight: 50 }, { weight: 40 }] }] },
    paths: ['/body/spec/rules/0/split'],
  },
  {
    label: 'weights summing to 110 in the second rule',
    kind: 'TrafficRoute',
    spec: { targetRef: svc, rules: [{ split: [{ weight: 100 }] }, { split: [{ weight: 60 }, { weight: 50 }] }] },
    paths: ['/body/spec/rules/1/split'],
  },
  {
    label: 'path match with two matchers',
    kind: 'TrafficRoute',
    spec: { targetRef: svc, rules: [{ matches: [{ path: { exact: '/a', prefix: '/b' } }], split: [{ weight: 100 }] }] },
    paths: ['/body/spec/rules/0/matches/0/path'],
  },
  {
    label: 'invalid regex',
    kind: 'TrafficRoute',
    spec: { targetRef: svc, rules: [{ matches: [{ path: { regex: '(unclosed' } }], split: [{ weight: 100 }] }] },
    paths: ['/body/spec/rules/0/matches/0/path/regex'],
  },
  {
    label: 'regex with a lookahead (not RE2)',
    kind: 'TrafficRoute',
    spec: { targetRef: svc, rules: [{ matches: [{ path: { regex: '/(?=admin).*' } }], split: [{ weight: 100 }] }] },
    paths: ['/body/spec/rules/0/matches/0/path/regex'],
  },
  {
    label: 'header regex with a backreference (not RE2)',
    kind: 'TrafficRoute',
    spec: { targetRef: svc, rules: [{ matches: [{ headers: [{ name: 'x-id', regex: '(a)\\1' }] }], split: [{ weight: 100 }] }] },
    paths: ['/body/spec/rules/0/matches/0/headers/0/regex'],
  },
  { label: 'perTryTimeout "0s"', kind: 'Retry', spec: { ...VALID.Retry, perTryTimeout: '0s' }, paths: ['/body/spec/perTryTimeout'] },
  { label: 'maxInterval < baseInterval', kind: 'Retry', spec: { ...VALID.Retry, backoff: { baseInterval: '1s', maxInterval: '500ms' } }, paths: ['/body/spec/backoff/maxInterval'] },
  { label: 'baseInterval "0ms"', kind: 'Retry', spec: { ...VALID.Retry, backoff: { baseInterval: '0ms' } }, paths: ['/body/spec/backoff/baseInterval'] },
  {
    label: 'retriable-status-codes without codes',
    kind: 'Retry',
    spec: { targetRef: svc, attempts: 2, retryOn: ['retriable-status-codes'] },
    paths: ['/body/spec/retriableStatusCodes'],
  },
  { label: 'codes without retriable-status-codes', kind: 'Retry', spec: { targetRef: svc, attempts: 2, retryOn: ['5xx'], retriableStatusCodes: [503] }, paths: ['/body/spec/retriableStatusCodes'] },
  { label: 'connect "0s"', kind: 'Timeout', spec: { targetRef: svc, connect: '0s' }, paths: ['/body/spec/connect'] },
  { label: 'idle "0m0s"', kind: 'Timeout', spec: { targetRef: svc, request: '1s', idle: '0m0s' }, paths: ['/body/spec/idle'] },
  { label: 'no timeout at all', kind: 'Timeout', spec: { targetRef: svc }, paths: ['/body/spec'] },
  { label: 'neither thresholds nor outlierDetection', kind: 'CircuitBreaker', spec: { targetRef: svc }, paths: ['/body/spec'] },
  {
    label: 'maxEjectionTime < baseEjectionTime',
    kind: 'CircuitBreaker',
    spec: { targetRef: svc, outlierDetection: { baseEjectionTime: '1m', maxEjectionTime: '30s' } },
    paths: ['/body/spec/outlierDetection/maxEjectionTime'],
  },
  { label: 'interval "0s"', kind: 'CircuitBreaker', spec: { targetRef: svc, outlierDetection: { interval: '0s' } }, paths: ['/body/spec/outlierDetection/interval'] },
  {
    label: 'failover to a region no zone is in',
    kind: 'LocalityFailover',
    spec: { targetRef: svc, crossRegion: [{ from: 'eu-west', to: ['us-east', 'ap-south'] }] },
    paths: ['/body/spec/crossRegion/0/to/1'],
  },
  { label: 'failover from an unknown region', kind: 'LocalityFailover', spec: { targetRef: svc, crossRegion: [{ from: 'mars', to: ['eu-west'] }] }, paths: ['/body/spec/crossRegion/0/from'] },
  { label: 'failover to itself', kind: 'LocalityFailover', spec: { targetRef: svc, crossRegion: [{ from: 'eu-west', to: ['eu-west'] }] }, paths: ['/body/spec/crossRegion/0/to/0'] },
  {
    label: 'the same source region twice',
    kind: 'LocalityFailover',
    spec: { targetRef: svc, crossRegion: [{ from: 'eu-west', to: ['us-east'] }, { from: 'eu-west', to: ['us-east'] }] },
    paths: ['/body/spec/crossRegion/1/from'],
  },
  {
    label: 'crossRegion with allowCrossRegion false',
    kind: 'LocalityFailover',
    spec: { targetRef: svc, allowCrossRegion: false, crossRegion: [{ from: 'eu-west', to: ['us-east'] }] },
    paths: ['/body/spec/crossRegion'],
  },
  {
    label: 'spiffeId in another tenant’s trust domain',
    kind: 'TrafficPermission',
    spec: { targetRef: svc, rules: [{ action: 'Allow', sources: [{ spiffeId: 'spiffe://globex.example/ns/shop/sa/web' }] }] },
    paths: ['/body/spec/rules/0/sources/0/spiffeId'],
  },
  {
    label: 'spiffeId in a foreign trust domain',
    kind: 'TrafficPermission',
    spec: { targetRef: svc, rules: [{ action: 'Deny', sources: [{ namespace: 'a' }, { spiffeId: 'spiffe://evil.example/ns/shop/sa/web' }] }] },
    paths: ['/body/spec/rules/0/sources/1/spiffeId'],
  },
  {
    label: 'spiffeId with userinfo',
    kind: 'TrafficPermission',
    spec: { targetRef: svc, rules: [{ action: 'Allow', sources: [{ spiffeId: `spiffe://evil@${TENANT}.mesh/ns/shop/sa/web` }] }] },
    paths: ['/body/spec/rules/0/sources/0/spiffeId'],
  },
  {
    label: 'spiffeId with userinfo hiding another trust domain',
    kind: 'TrafficPermission',
    spec: { targetRef: svc, rules: [{ action: 'Allow', sources: [{ spiffeId: `spiffe://${TENANT}.mesh@globex.example/ns/shop/sa/web` }] }] },
    paths: ['/body/spec/rules/0/sources/0/spiffeId'],
  },
  {
    label: 'spiffeId with a port',
    kind: 'TrafficPermission',
    spec: { targetRef: svc, rules: [{ action: 'Allow', sources: [{ spiffeId: `spiffe://${TENANT}.mesh:8443/ns/shop/sa/web` }] }] },
    paths: ['/body/spec/rules/0/sources/0/spiffeId'],
  },
  {
    label: 'spiffeId with a query',
    kind: 'TrafficPermission',
    spec: { targetRef: svc, rules: [{ action: 'Allow', sources: [{ spiffeId: `spiffe://${TENANT}.mesh/ns/shop/sa/web?x=1` }] }] },
    paths: ['/body/spec/rules/0/sources/0/spiffeId'],
  },
  {
    label: 'not a spiffe URI',
    kind: 'TrafficPermission',
    spec: { targetRef: svc, rules: [{ action: 'Allow', sources: [{ spiffeId: `https://${TENANT}.mesh/ns/shop/sa/web` }] }] },
    paths: ['/body/spec/rules/0/sources/0/spiffeId'],
  },
  {
    label: 'both spiffeId and namespace',
    kind: 'TrafficPermission',
    spec: { targetRef: svc, rules: [{ action: 'Allow', sources: [{ spiffeId: `spiffe://${TENANT}.mesh/ns/a/sa/b`, namespace: 'a' }] }] },
    paths: ['/body/spec/rules/0/sources/0'],
  },
  {
    label: 'serviceAccount without namespace',
    kind: 'TrafficPermission',
    spec: { targetRef: svc, rules: [{ action: 'Allow', sources: [{ spiffeId: `spiffe://${TENANT}.mesh/ns/a/sa/b`, serviceAccount: 'b' }] }] },
    paths: ['/body/spec/rules/0/sources/0/serviceAccount'],
  },
  { label: 'targetRef Service without namespace', kind: 'Retry', spec: { ...VALID.Retry, targetRef: { kind: 'Service', name: 'web' } }, paths: ['/body/spec/targetRef/namespace'] },
  { label: 'targetRef Service without name', kind: 'Timeout', spec: { ...VALID.Timeout, targetRef: { kind: 'Service', namespace: 'shop' } }, paths: ['/body/spec/targetRef/name'] },
  { label: 'targetRef Tenant with a name', kind: 'CircuitBreaker', spec: { ...VALID.CircuitBreaker, targetRef: { kind: 'Tenant', name: 'web' } }, paths: ['/body/spec/targetRef/name'] },
];

describe('policy kinds', () => {
  it('every kind has at least one schema and one semantic failure case', () => {
    for (const kind of KINDS) {
      expect(SCHEMA_FAILURES.some((c) => c.kind === kind), kind).toBe(true);
      expect(SEMANTIC_FAILURES.some((c) => c.kind === kind), kind).toBe(true);
    }
  });

  describe.each([
    ['schema', SCHEMA_FAILURES],
    ['semantic', SEMANTIC_FAILURES],
  ] as const)('%s failures', (_which, cases) => {
    it.each(cases.map((c) => [c.kind, c.label, c] as const))('%s: %s → 400 at the field, nothing created', async (kind, _label, c) => {
      const before = await snapshot();
      const url = `${T}/policies/${kind}/invalid-one`;
      const err = expectError(await call('PUT', url, { spec: c.spec }), 400, 'ValidationError', c.paths);
      expect(err.message).toContain(err.details[0]!.path);
      expectError(await call('GET', url), 404, 'NotFound');
      await expectUnchanged(before);
    });

    it.each(cases.map((c) => [c.kind, c.label, c] as const))('%s: %s → 400 on update too, the stored policy untouched', async (kind, _label, c) => {
      const url = `${T}/policies/${kind}/existing-one`;
      const created = await call('PUT', url, { metadata: { labels: { keep: 'me' } }, spec: VALID[kind] });
      expect([200, 201]).toContain(created.statusCode);
      const stored = (await call('GET', url)).json<PolicyDoc>();
      const before = await snapshot();
      expectError(await call('PUT', url, { metadata: { labels: { changed: 'yes' } }, spec: c.spec }), 400, 'ValidationError', c.paths);
      expectError(await call('PUT', url, { spec: c.spec }, { 'if-match': stored.metadata.resourceVersion }), 400, 'ValidationError', c.paths);
      const after = await call('GET', url);
      expect(after.json()).toEqual(stored);
      expect(after.headers.etag).toBe(`"${stored.metadata.resourceVersion}"`);
      await expectUnchanged(before);
    });
  });

  it('a failover region becomes valid once a zone in that region is registered', async () => {
    const url = `${T}/policies/LocalityFailover/to-asia`;
    const body = { spec: { targetRef: svc, crossRegion: [{ from: 'eu-west', to: ['ap-south'] }] } };
    expectError(await call('PUT', url, body), 400, 'ValidationError', ['/body/spec/crossRegion/0/to/0']);
    expect((await call('POST', '/api/v1/zones', { name: 'zone-ap', region: 'ap-south', location: 'aws:ap-south-1', kind: 'universal' })).statusCode).toBe(201);
    expect((await call('PUT', url, body)).statusCode).toBe(201);
    expect((await call('DELETE', url)).statusCode).toBe(204);
    expect((await call('DELETE', '/api/v1/zones/zone-ap')).statusCode).toBe(204);
  });

  it('each TrafficPermission trust domain is its own tenant’s: globex may name globex.example but not acme.mesh', async () => {
    const url = `/api/v1/tenants/${OTHER}/policies/TrafficPermission/tp`;
    const own = { spec: { targetRef: svc, rules: [{ action: 'Allow', sources: [{ spiffeId: 'spiffe://globex.example/ns/a/sa/b' }] }] } };
    const foreign = { spec: { targetRef: svc, rules: [{ action: 'Allow', sources: [{ spiffeId: `spiffe://${TENANT}.mesh/ns/a/sa/b` }] }] } };
    expectError(await call('PUT', url, foreign), 400, 'ValidationError', ['/body/spec/rules/0/sources/0/spiffeId']);
    expect((await call('PUT', url, own)).statusCode).toBe(201);
    expect((await call('DELETE', url)).statusCode).toBe(204);
  });

  it.each(KINDS)('a valid %s is accepted (201) and reads back equal', async (kind) => {
    const before = await tenantDoc();
    const name = `valid-${kind.toLowerCase()}`;
    const url = `${T}/policies/${kind}/${name}`;
    const res = await call('PUT', url, { apiVersion: 'meshfed.io/v1alpha1', kind, metadata: { name, tenant: TENANT, labels: { app: 'web', 'meshfed.io/kind': kind } }, spec: VALID[kind] });
    expect(res.statusCode, res.body).toBe(201);
    const created = res.json<PolicyDoc>();
    expect(created).toMatchObject({ apiVersion: 'meshfed.io/v1alpha1', kind, metadata: { name, tenant: TENANT, labels: { app: 'web', 'meshfed.io/kind': kind }, generation: 1 } });
    expect(created.spec).toEqual(VALID[kind]);
    expect(res.headers.etag).toBe(`"${created.metadata.resourceVersion}"`);
    expect(Number(created.metadata.resourceVersion)).toBe(before.status.revision + 1);

    const read = await call('GET', url);
    expect(read.statusCode).toBe(200);
    expect(read.json()).toEqual(created);
    const listed = (await call('GET', `${T}/policies?kind=${kind}`)).json<{ items: PolicyDoc[] }>().items;
    expect(listed.find((p) => p.metadata.name === name)).toEqual(created);
    const after = await tenantDoc();
    expect(after.status.revision).toBe(before.status.revision + 1);
    expect(after.status.policies).toBe(before.status.policies + 1);
  });

  it('the body may omit apiVersion, kind and metadata', async () => {
    const url = `${T}/policies/Timeout/minimal`;
    const res = await call('PUT', url, { spec: { targetRef: { kind: 'Tenant' }, request: '2s' } });
    expect(res.statusCode).toBe(201);
    expect(res.json<PolicyDoc>()).toMatchObject({ kind: 'Timeout', metadata: { name: 'minimal', tenant: TENANT, labels: {} }, spec: { targetRef: { kind: 'Tenant' }, request: '2s' } });
  });
});

// ---------------------------------------------------------------- URL / body agreement

describe('the URL names the resource', () => {
  it.each<[string, Method, string]>([
    ['PUT', 'PUT', `${T}/policies/Gateway/x`],
    ['PUT (lowercase kind)', 'PUT', `${T}/policies/retry/x`],
    ['GET', 'GET', `${T}/policies/Gateway/x`],
    ['DELETE', 'DELETE', `${T}/policies/Gateway/x`],
  ])('an unknown policy kind in the URL (%s) is 400 at /params/kind', async (_label, method, url) => {
    const before = await snapshot();
    const err = expectError(await call(method, url, method === 'PUT' ? withSpec('Retry', {}) : undefined), 400, 'ValidationError', ['/params/kind']);
    for (const kind of KINDS) expect(err.details[0]!.message).toContain(kind);
    await expectUnchanged(before);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['kind', { kind: 'Timeout' }, '/body/kind'],
    ['metadata.name', { metadata: { name: 'something-else' } }, '/body/metadata/name'],
    ['metadata.tenant', { metadata: { tenant: OTHER } }, '/body/metadata/tenant'],
  ])('a body %s that disagrees with the URL is 400 and writes nothing', async (_label, extra, path) => {
    const before = await snapshot();
    const url = `${T}/policies/Retry/agreed`;
    expectError(await call('PUT', url, { ...withSpec('Retry', {}), ...extra }), 400, 'ValidationError', [path]);
    expectError(await call('GET', url), 404, 'NotFound');
    expectError(await call('GET', `${T}/policies/Retry/something-else`), 404, 'NotFound');
    expectError(await call('GET', `/api/v1/tenants/${OTHER}/policies/Retry/agreed`), 404, 'NotFound');
    await expectUnchanged(before);
    expect((await tenantDoc(OTHER)).status.policies).toBe(0);
  });

  it('a body that repeats the URL exactly is fine', async () => {
    const res = await call('PUT', `${T}/policies/Retry/agreed`, { kind: 'Retry', metadata: { name: 'agreed', tenant: TENANT }, spec: VALID.Retry });
    expect(res.statusCode).toBe(201);
  });
});

// ---------------------------------------------------------------- tenants and zones

describe('tenant placement and trust domains', () => {
  let tenantsBefore: unknown;
  beforeEach(async () => {
    tenantsBefore = (await call('GET', '/api/v1/tenants')).json();
  });

  it('placing a new tenant in an unknown zone is 400 at /body/zones/<i> and creates nothing', async () => {
    const err = expectError(await call('POST', '/api/v1/tenants', { name: 'placed', zones: ['zone-eu', 'zone-zz'] }), 400, 'ValidationError', ['/body/zones/1']);
    expect(err.details[0]!.message).toContain('zone-zz');
    expectError(await call('GET', '/api/v1/tenants/placed'), 404, 'NotFound');
    expect((await call('GET', '/api/v1/tenants')).json()).toEqual(tenantsBefore);
    expect(await cp.store.zoneTenants('zone-eu')).not.toContain('placed');
  });

  it('the index in /body/zones/<i> is the position in the request, not after sorting', async () => {
    const err = expectError(await call('POST', '/api/v1/tenants', { name: 'placed', zones: ['zone-us', 'aaa-missing'] }), 400, 'ValidationError');
    expectError(await call('GET', '/api/v1/tenants/placed'), 404, 'NotFound');
    expect(await cp.store.zoneTenants('zone-us')).toEqual([OTHER]);
    // zones[0] is the known zone-us; the unknown one is zones[1].
    expect(err.details).toEqual([{ path: '/body/zones/1', message: expect.stringContaining('aaa-missing') }]);
  });

  it('moving a tenant into an unknown zone with PATCH is 400 and leaves its placement and revision alone', async () => {
    const before = await snapshot();
    const err = expectError(await call('PATCH', T, { zones: ['zone-us', 'zone-eu', 'nowhere'] }), 400, 'ValidationError');
    await expectUnchanged(before);
    expect(await cp.store.zoneTenants('zone-us')).toEqual([OTHER]);
    expect(await cp.store.zoneTenants('zone-eu')).toEqual([TENANT]);
    expect(err.details).toEqual([{ path: '/body/zones/2', message: expect.stringContaining('nowhere') }]);
  });

  it('a trust domain already used by another tenant is 409 at /body/trustDomain and creates nothing', async () => {
    const err = expectError(await call('POST', '/api/v1/tenants', { name: 'copycat', trustDomain: 'globex.example' }), 409, 'Conflict', ['/body/trustDomain']);
    expect(err.message).toContain(OTHER);
    expectError(await call('GET', '/api/v1/tenants/copycat'), 404, 'NotFound');
    expect((await call('GET', '/api/v1/tenants')).json()).toEqual(tenantsBefore);
    expect((await tenantDoc(OTHER)).spec.trustDomain).toBe('globex.example');
  });

  it('a default trust domain (<name>.mesh) that another tenant claimed is 409 too', async () => {
    expect((await call('POST', '/api/v1/tenants', { name: 'squatter', trustDomain: 'victim.mesh' })).statusCode).toBe(201);
    expectError(await call('POST', '/api/v1/tenants', { name: 'victim' }), 409, 'Conflict', ['/body/trustDomain']);
    expectError(await call('GET', '/api/v1/tenants/victim'), 404, 'NotFound');
    expect((await call('DELETE', '/api/v1/tenants/squatter')).statusCode).toBe(204);
    // Deleting the owner frees the trust domain.
    expect((await call('POST', '/api/v1/tenants', { name: 'victim' })).statusCode).toBe(201);
    expect((await call('DELETE', '/api/v1/tenants/victim')).statusCode).toBe(204);
  });

  it('a duplicate tenant or zone name is 409 and the original is untouched', async () => {
    const tenant = await tenantDoc(OTHER);
    expectError(await call('POST', '/api/v1/tenants', { name: OTHER, labels: { hijack: 'yes' } }), 409, 'Conflict', ['/body/name']);
    expect(await tenantDoc(OTHER)).toEqual(tenant);
    const zone = (await call('GET', '/api/v1/zones/zone-eu')).json();
    expectError(await call('POST', '/api/v1/zones', { name: 'zone-eu', region: 'us-east', location: 'dc:x', kind: 'universal' }), 409, 'Conflict', ['/body/name']);
    expect((await call('GET', '/api/v1/zones/zone-eu')).json()).toEqual(zone);
  });

  it('a zone with tenants placed in it cannot be deleted (409) and stays', async () => {
    const err = expectError(await call('DELETE', '/api/v1/zones/zone-eu'), 409, 'Conflict', ['/params/name']);
    expect(err.message).toContain(TENANT);
    expect((await call('GET', '/api/v1/zones/zone-eu')).statusCode).toBe(200);
  });
});

describe('other error statuses use the same envelope', () => {
  it('401, 403, 404 and 412', async () => {
    expectError(await cp.call('GET', '/api/v1/zones', undefined), 401, 'Unauthorized');
    expectError(await cp.call('GET', '/api/v1/zones', 'mft_nope'), 401, 'Unauthorized');
    const zoneToken = (await call('POST', '/api/v1/zones', { name: 'zone-env', region: 'eu-west', location: 'dc:env', kind: 'universal' })).json<{ token: string }>().token;
    expectError(await cp.call('GET', '/api/v1/zones', zoneToken), 403, 'Forbidden');
    expectError(await call('GET', '/api/v1/zones/zone-missing'), 404, 'NotFound');
    expectError(await call('GET', `${T}/policies/Retry/missing`), 404, 'NotFound');
    expectError(await call('PATCH', '/api/v1/zones/zone-env', { labels: { a: 'b' } }, { 'if-match': '"999999"' }), 412, 'PreconditionFailed');
    expect((await call('DELETE', '/api/v1/zones/zone-env')).statusCode).toBe(204);
  });
});
