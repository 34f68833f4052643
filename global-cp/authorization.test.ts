import { randomBytes } from 'node:crypto';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startTestGlobalCp, type TestGlobalCp } from '../test/helpers/global-cp.js';
import { newUserKey } from '../core/federation/nats-auth.js';
import { createCsr } from '../core/pki/authority.js';
import { generateKeyPair } from '../core/pki/crypto.js';

/**
 * Authorization matrix over every /api/v1 route: who may do what, and that
 * another tenant's things are indistinguishable from things that do not exist.
 */

type Method = InjectOptions['method'];
type Role = 'admin' | 'editor' | 'viewer';

interface ErrorBody {
  error: string;
  message: string;
  details: Array<{ path: string; message: string }>;
}

interface TokenInfo {
  id: string;
  tenant: string;
  role: string;
  description: string;
  createdAt: string;
  expiresAt: string;
}

interface CreatedToken {
  token: string;
  info: TokenInfo;
}

const A = 'tenant-a';
const B = 'tenant-b';
const GHOST = 'ghost-tenant';
const ZONE = 'zone-main';
const OTHER_ZONE = 'zone-other';

const RETRY_BODY = { spec: { targetRef: { kind: 'Service', name: 'web', namespace: 'shop' }, attempts: 3, retryOn: ['5xx'] } };

let cp: TestGlobalCp;
let seq = 0;
const unique = (prefix: string) => `${prefix}-${++seq}`;

/** Bearer tokens of every principal, filled in beforeAll. */
const tokens: Record<string, string> = {};
/** An existing token id of each tenant (used as the target of token revocation by other tenants). */
const tokenIds: Record<string, string> = {};

async function adminCall(method: Method, url: string, body?: unknown, expected?: number): Promise<LightMyRequestResponse> {
  const res = await cp.call(method, url, ADMIN_TOKEN, body);
  if (expected !== undefined) expect(res.statusCode, `${method} ${url}: ${res.body}`).toBe(expected);
  return res;
}

async function mintToken(tenant: string, role: Role, creator = ADMIN_TOKEN, ttl?: string): Promise<CreatedToken> {
  const res = await cp.call('POST', `/api/v1/tenants/${tenant}/tokens`, creator, { role, ...(ttl ? { ttl } : {}) });
  expect(res.statusCode, res.body).toBe(201);
  return res.json<CreatedToken>();
}

async function createTenant(name: string, extra: Record<string, unknown> = {}): Promise<void> {
  await adminCall('POST', '/api/v1/tenants', { name, ...extra }, 201);
}

// ---------------------------------------------------------------- principals

type PrincipalKind = 'unauthenticated' | 'admin' | 'tenant' | 'zone';

interface PrincipalDef {
  name: string;
  kind: PrincipalKind;
  tenant?: string;
  role?: Role;
  /** The zone a zone token belongs to. */
  zone?: string;
  /** Extra headers (for the malformed Authorization header). */
  headers?: () => Record<string, string>;
  token?: () => string | undefined;
}

const PRINCIPALS: PrincipalDef[] = [
  { name: 'no Authorization header', kind: 'unauthenticated', token: () => undefined },
  { name: 'malformed Authorization header', kind: 'unauthenticated', headers: () => ({ authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}` }) },
  { name: 'unknown token', kind: 'unauthenticated', token: () => `mft_${randomBytes(32).toString('base64url')}` },
  { name: 'revoked tenant token', kind: 'unauthenticated', token: () => tokens.revoked },
  { name: 'token of a deleted tenant', kind: 'unauthenticated', token: () => tokens.orphan },
  { name: 'admin', kind: 'admin', token: () => ADMIN_TOKEN },
  { name: 'tenant A admin', kind: 'tenant', tenant: A, role: 'admin', token: () => tokens.aAdmin },
  { name: 'tenant A editor', kind: 'tenant', tenant: A, role: 'editor', token: () => tokens.aEditor },
  { name: 'tenant A viewer', kind: 'tenant', tenant: A, role: 'viewer', token: () => tokens.aViewer },
  { name: 'tenant B admin', kind: 'tenant', tenant: B, role: 'admin', token: () => tokens.bAdmin },
  { name: 'zone token', kind: 'zone', zone: ZONE, token: () => tokens.zone },
  { name: 'token of another zone', kind: 'zone', zone: OTHER_ZONE, token: () => tokens.otherZone },
];

// ---------------------------------------------------------------- routes

/** What the route needs: 'global' routes are admin-only and not tenant-scoped. */
type Op = 'global' | 'zone:sync' | 'tenant:read' | 'tenant:write' | 'tokens' | 'policies:read' | 'policies:write';

interface Req {
  method: Method;
  url: string;
  body?: unknown;
}

interface RouteDef {
  name: string;
  op: Op;
  /** Status on success. */
  ok: number;
  /** Whether the route is tenant-scoped (then it is exercised against the caller's own tenant and the other one). */
  scoped: boolean;
  /** Builds the request against `tenant`; may create fixtures with the admin token. */
  build: (tenant: string, principal: PrincipalDef) => Promise<Req>;
  /** Checks the body of a successful call. */
  verify?: (res: LightMyRequestResponse, tenant: string) => void;
}

async function freshZone(): Promise<string> {
  const name = unique('zone-tmp');
  await adminCall('POST', '/api/v1/zones', { name, region: 'eu-west', location: 'aws:eu-west-1', kind: 'universal' }, 201);
  return name;
}

async function freshTenant(): Promise<string> {
  const name = unique('tenant-ca');
  await createTenant(name);
  return name;
}

/** The serial of a tenant's signing root (any hex would do for callers that are refused first). */
async function activeSerial(tenant: string): Promise<string> {
  const res = await cp.call('GET', `/api/v1/tenants/${tenant}/roots`, ADMIN_TOKEN);
  return res.statusCode === 200 ? res.json<{ roots: Array<{ serial: string }> }>().roots[0]!.serial : '0123456789abcdef';
}

async function freshPolicy(tenant: string): Promise<string> {
  const name = unique('tmp-retry');
  await adminCall('PUT', `/api/v1/tenants/${tenant}/policies/Retry/${name}`, RETRY_BODY, 201);
  return name;
}

const ROUTES: RouteDef[] = [
  // zones
  {
    name: 'POST /zones',
    op: 'global',
    ok: 201,
    scoped: false,
    build: async () => ({ method: 'POST', url: '/api/v1/zones', body: { name: unique('zone-new'), region: 'us-east', location: 'dc:nyc1', kind: 'kubernetes' } }),
    verify: (res) => {
      expect(res.json<{ token: string }>().token).toMatch(/^mfz_/);
      expect(res.json().zone.kind).toBe('Zone');
    },
  },
  {
    name: 'GET /zones',
    op: 'global',
    ok: 200,
    scoped: false,
    build: async () => ({ method: 'GET', url: '/api/v1/zones' }),
    verify: (res) => expect(res.json<{ items: Array<{ metadata: { name: string } }> }>().items.map((z) => z.metadata.name)).toContain(ZONE),
  },
  {
    name: 'GET /zones/:name',
    op: 'global',
    ok: 200,
    scoped: false,
    build: async () => ({ method: 'GET', url: `/api/v1/zones/${ZONE}` }),
    verify: (res) => expect(res.json().metadata.name).toBe(ZONE),
  },
  {
    name: 'PATCH /zones/:name',
    op: 'global',
    ok: 200,
    scoped: false,
    build: async () => ({ method: 'PATCH', url: `/api/v1/zones/${await freshZone()}`, body: { labels: { patched: 'yes' } } }),
    verify: (res) => expect(res.json().metadata.labels).toEqual({ patched: 'yes' }),
  },
  {
    name: 'DELETE /zones/:name',
    op: 'global',
    ok: 204,
    scoped: false,
    build: async () => ({ method: 'DELETE', url: `/api/v1/zones/${await freshZone()}` }),
  },
  {
    // What a zone CP calls to prove its token: the admin, or the token of that very zone.
    name: 'GET /zones/:name/placement',
    op: 'zone:sync',
    ok: 200,
    scoped: false,
    build: async () => ({ method: 'GET', url: `/api/v1/zones/${ZONE}/placement` }),
    verify: (res) =>
      expect(res.json()).toEqual({
        zone: ZONE,
        region: 'eu-west',
        tenants: [
          { name: A, trustDomain: `${A}.mesh` },
          { name: B, trustDomain: `${B}.mesh` },
        ],
      }),
  },
  {
    // A zone CP's NATS user key is signed here. This test app runs without NATS authorization,
    // so the answer to an allowed caller is 409 NatsAuthDisabled (signing is tested in test/federation).
    name: 'POST /zones/:name/nats-credentials',
    op: 'zone:sync',
    ok: 409,
    scoped: false,
    build: async () => ({ method: 'POST', url: `/api/v1/zones/${ZONE}/nats-credentials`, body: { publicKey: newUserKey().publicKey } }),
    verify: (res) => expect(res.json().error).toBe('NatsAuthDisabled'),
  },
  {
    // What a zone CP reads when a tenant's revision changes: the roots to trust and which CA signs now.
    name: 'GET /zones/:name/trust-bundles/:tenant',
    op: 'zone:sync',
    ok: 200,
    scoped: false,
    build: async () => ({ method: 'GET', url: `/api/v1/zones/${ZONE}/trust-bundles/${A}` }),
    verify: (res) => {
      expect(res.json()).toMatchObject({ trustDomain: `${A}.mesh`, roots: [expect.stringMatching(/^-----BEGIN CERTIFICATE-----/)] });
      expect(res.json().signer.serial).toMatch(/^[0-9a-f]+$/);
    },
  },
  {
    // A zone CP's intermediate CA for a tenant placed in it, from a CSR of its own key.
    name: 'POST /zones/:name/intermediates/:tenant',
    op: 'zone:sync',
    ok: 200,
    scoped: false,
    build: async () => {
      const keys = await generateKeyPair();
      const csr = await createCsr(keys, 'CN=zone');
      return { method: 'POST', url: `/api/v1/zones/${ZONE}/intermediates/${A}`, body: { csr: csr.toString('pem') } };
    },
    verify: (res) => {
      expect(res.json().certificate).toMatch(/^-----BEGIN CERTIFICATE-----/);
      expect(res.json().trustBundle.trustDomain).toBe(`${A}.mesh`);
    },
  },
  // tenants
  {
    name: 'POST /tenants',
    op: 'global',
    ok: 201,
    scoped: false,
    build: async () => ({ method: 'POST', url: '/api/v1/tenants', body: { name: unique('tenant-new') } }),
    verify: (res) => expect(res.json().kind).toBe('Tenant'),
  },
  {
    name: 'GET /tenants',
    op: 'global',
    ok: 200,
    scoped: false,
    build: async () => ({ method: 'GET', url: '/api/v1/tenants' }),
    verify: (res) => expect(res.json<{ items: Array<{ metadata: { name: string } }> }>().items.map((t) => t.metadata.name)).toEqual(expect.arrayContaining([A, B])),
  },
  {
    name: 'GET /tenants/:name',
    op: 'tenant:read',
    ok: 200,
    scoped: true,
    build: async (tenant) => ({ method: 'GET', url: `/api/v1/tenants/${tenant}` }),
    verify: (res, tenant) => {
      expect(res.json().metadata.name).toBe(tenant);
      expect(res.json().spec.trustDomain).toBe(`${tenant}.mesh`);
    },
  },
  {
    name: 'GET /tenants/:tenant/trust-bundle',
    op: 'tenant:read',
    ok: 200,
    scoped: true,
    build: async (tenant) => ({ method: 'GET', url: `/api/v1/tenants/${tenant}/trust-bundle` }),
    verify: (res, tenant) => {
      expect(res.json().trustDomain).toBe(`${tenant}.mesh`);
      expect(res.json().roots).toEqual([expect.stringMatching(/^-----BEGIN CERTIFICATE-----/)]);
    },
  },
  // tenant CA: anyone who may read the tenant sees its roots; only the platform admin changes them
  {
    name: 'GET /tenants/:tenant/roots',
    op: 'tenant:read',
    ok: 200,
    scoped: true,
    build: async (tenant) => ({ method: 'GET', url: `/api/v1/tenants/${tenant}/roots` }),
    verify: (res, tenant) => {
      expect(res.json()).toMatchObject({ tenant, trustDomain: `${tenant}.mesh`, roots: [{ status: 'active', active: true, source: 'generated' }] });
      expect(res.body).not.toMatch(/PRIVATE KEY|sealedKey/);
    },
  },
  {
    name: 'POST /tenants/:tenant/roots',
    op: 'tenant:write',
    ok: 201,
    scoped: true,
    // The admin rotates a throw-away tenant (A and B keep one root for the other cells); everybody else is pointed at A or B.
    build: async (tenant, principal) => ({ method: 'POST', url: `/api/v1/tenants/${principal.kind === 'admin' ? await freshTenant() : tenant}/roots`, body: {} }),
    verify: (res) => {
      expect(res.json<{ roots: Array<{ status: string }> }>().roots.map((r) => r.status)).toEqual(['active', 'retiring']);
      expect(res.body).not.toMatch(/PRIVATE KEY|sealedKey/);
    },
  },
  {
    name: 'POST /tenants/:tenant/roots/:serial/activate',
    op: 'tenant:write',
    ok: 200,
    scoped: true,
    build: async (tenant, principal) => {
      if (principal.kind !== 'admin') return { method: 'POST', url: `/api/v1/tenants/${tenant}/roots/${await activeSerial(tenant)}/activate` };
      const name = await freshTenant();
      const staged = await adminCall('POST', `/api/v1/tenants/${name}/roots`, { activate: false }, 201);
      return { method: 'POST', url: `/api/v1/tenants/${name}/roots/${staged.json<{ roots: Array<{ serial: string }> }>().roots[1]!.serial}/activate` };
    },
    verify: (res) => expect(res.json<{ roots: Array<{ status: string }> }>().roots.map((r) => r.status)).toEqual(['active', 'retiring']),
  },
  {
    name: 'DELETE /tenants/:tenant/roots/:serial',
    op: 'tenant:write',
    ok: 200,
    scoped: true,
    build: async (tenant, principal) => {
      if (principal.kind !== 'admin') return { method: 'DELETE', url: `/api/v1/tenants/${tenant}/roots/${await activeSerial(tenant)}` };
      const name = await freshTenant();
      const old = await activeSerial(name);
      await adminCall('POST', `/api/v1/tenants/${name}/roots`, {}, 201);
      return { method: 'DELETE', url: `/api/v1/tenants/${name}/roots/${old}` };
    },
    verify: (res) => expect(res.json<{ roots: Array<{ status: string }> }>().roots.map((r) => r.status)).toEqual(['active']),
  },
  {
    name: 'PATCH /tenants/:name',
    op: 'tenant:write',
    ok: 200,
    scoped: true,
    build: async (tenant) => ({ method: 'PATCH', url: `/api/v1/tenants/${tenant}`, body: { labels: { patched: unique('v') } } }),
    verify: (res, tenant) => expect(res.json().metadata.name).toBe(tenant),
  },
  {
    name: 'DELETE /tenants/:name',
    op: 'tenant:write',
    ok: 204,
    scoped: true,
    // The admin deletes a throw-away tenant; everybody else is pointed at tenant A or B.
    build: async (tenant, principal) => {
      if (principal.kind !== 'admin') return { method: 'DELETE', url: `/api/v1/tenants/${tenant}` };
      const name = unique('tenant-doomed');
      await createTenant(name);
      return { method: 'DELETE', url: `/api/v1/tenants/${name}` };
    },
  },
  // tokens
  {
    name: 'POST /tenants/:tenant/tokens',
    op: 'tokens',
    ok: 201,
    scoped: true,
    build: async (tenant) => ({ method: 'POST', url: `/api/v1/tenants/${tenant}/tokens`, body: { role: 'viewer', ttl: '1h' } }),
    verify: (res, tenant) => {
      const created = res.json<CreatedToken>();
      expect(created.token).toMatch(/^mft_/);
      expect(created.info).toMatchObject({ tenant, role: 'viewer' });
    },
  },
  {
    name: 'GET /tenants/:tenant/tokens',
    op: 'tokens',
    ok: 200,
    scoped: true,
    build: async (tenant) => ({ method: 'GET', url: `/api/v1/tenants/${tenant}/tokens` }),
    verify: (res, tenant) => {
      const items = res.json<{ items: Array<TokenInfo & { token?: string }> }>().items;
      expect(items.length).toBeGreaterThan(0);
      for (const item of items) {
        expect(item.tenant).toBe(tenant);
        expect(item).not.toHaveProperty('token');
      }
    },
  },
  {
    name: 'DELETE /tenants/:tenant/tokens/:id',
    op: 'tokens',
    ok: 204,
    scoped: true,
    build: async (tenant) => ({ method: 'DELETE', url: `/api/v1/tenants/${tenant}/tokens/${(await mintToken(tenant, 'viewer')).info.id}` }),
  },
  // policies
  {
    name: 'PUT /tenants/:tenant/policies/:kind/:name',
    op: 'policies:write',
    ok: 201,
    scoped: true,
    build: async (tenant) => ({ method: 'PUT', url: `/api/v1/tenants/${tenant}/policies/Retry/${unique('new-retry')}`, body: RETRY_BODY }),
    verify: (res, tenant) => expect(res.json().metadata.tenant).toBe(tenant),
  },
  {
    name: 'GET /tenants/:tenant/policies/:kind/:name',
    op: 'policies:read',
    ok: 200,
    scoped: true,
    build: async (tenant) => ({ method: 'GET', url: `/api/v1/tenants/${tenant}/policies/Retry/base` }),
    verify: (res, tenant) => expect(res.json().metadata).toMatchObject({ name: 'base', tenant }),
  },
  {
    name: 'GET /tenants/:tenant/policies',
    op: 'policies:read',
    ok: 200,
    scoped: true,
    build: async (tenant) => ({ method: 'GET', url: `/api/v1/tenants/${tenant}/policies` }),
    verify: (res, tenant) => {
      const items = res.json<{ items: Array<{ metadata: { tenant: string; name: string } }> }>().items;
      expect(items.map((p) => p.metadata.name)).toContain('base');
      for (const p of items) expect(p.metadata.tenant).toBe(tenant);
    },
  },
  // services: read like policies; this app runs without NATS, so an allowed read answers 503
  {
    name: 'GET /tenants/:tenant/services',
    op: 'policies:read',
    ok: 503,
    scoped: true,
    build: async (tenant) => ({ method: 'GET', url: `/api/v1/tenants/${tenant}/services` }),
    verify: (res) =>
      expect(res.json()).toEqual({
        error: 'FederationDisabled',
        message: 'the global CP runs without NATS (--nats), so it has no zone inventory',
        details: [],
      }),
  },
  {
    name: 'DELETE /tenants/:tenant/policies/:kind/:name',
    op: 'policies:write',
    ok: 204,
    scoped: true,
    build: async (tenant) => ({ method: 'DELETE', url: `/api/v1/tenants/${tenant}/policies/Retry/${await freshPolicy(tenant)}` }),
  },
];

/** The status the rules give `principal` for `route` on `tenant`. */
function expectedStatus(principal: PrincipalDef, route: RouteDef, tenant: string): number {
  switch (principal.kind) {
    case 'unauthenticated':
      return 401;
    case 'admin':
      return route.ok;
    case 'zone':
      // A zone token opens its own zone's sync endpoints and nothing else.
      return route.op === 'zone:sync' && principal.zone === ZONE ? route.ok : 403;
    case 'tenant': {
      if (route.op === 'global' || route.op === 'zone:sync') return 403;
      // Another tenant's things look exactly like things that do not exist.
      if (tenant !== principal.tenant) return 404;
      switch (route.op) {
        case 'tenant:read':
        case 'policies:read':
          return route.ok;
        case 'tenant:write':
          return 403;
        case 'tokens':
          return principal.role === 'admin' ? route.ok : 403;
        case 'policies:write':
          return principal.role === 'viewer' ? 403 : route.ok;
      }
    }
  }
}

async function callAs(principal: PrincipalDef, req: Req): Promise<LightMyRequestResponse> {
  return cp.call(req.method, req.url, principal.token?.(), req.body, principal.headers?.() ?? {});
}

function expectErrorBody(res: LightMyRequestResponse, status: number, error: string): ErrorBody {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const body = res.json<ErrorBody>();
  expect(body.error).toBe(error);
  expect(typeof body.message).toBe('string');
  expect(body.message.length).toBeGreaterThan(0);
  expect(Array.isArray(body.details)).toBe(true);
  return body;
}

// ---------------------------------------------------------------- fixtures

beforeAll(async () => {
  cp = await startTestGlobalCp();
  const zone = await adminCall('POST', '/api/v1/zones', { name: ZONE, region: 'eu-west', location: 'aws:eu-west-1', kind: 'kubernetes' }, 201);
  tokens.zone = zone.json<{ token: string }>().token;
  const otherZone = await adminCall('POST', '/api/v1/zones', { name: OTHER_ZONE, region: 'us-east', location: 'dc:nyc1', kind: 'universal' }, 201);
  tokens.otherZone = otherZone.json<{ token: string }>().token;
  await createTenant(A, { zones: [ZONE] });
  await createTenant(B, { zones: [ZONE] });

  const aAdmin = await mintToken(A, 'admin');
  tokens.aAdmin = aAdmin.token;
  tokenIds[A] = aAdmin.info.id;
  tokens.aEditor = (await mintToken(A, 'editor')).token;
  tokens.aViewer = (await mintToken(A, 'viewer')).token;
  const bAdmin = await mintToken(B, 'admin');
  tokens.bAdmin = bAdmin.token;
  tokenIds[B] = bAdmin.info.id;

  const revoked = await mintToken(A, 'admin');
  await adminCall('DELETE', `/api/v1/tenants/${A}/tokens/${revoked.info.id}`, undefined, 204);
  tokens.revoked = revoked.token;

  await createTenant('tenant-doomed-orphan');
  tokens.orphan = (await mintToken('tenant-doomed-orphan', 'admin')).token;
  await adminCall('DELETE', '/api/v1/tenants/tenant-doomed-orphan', undefined, 204);

  await adminCall('PUT', `/api/v1/tenants/${A}/policies/Retry/base`, RETRY_BODY, 201);
  await adminCall('PUT', `/api/v1/tenants/${B}/policies/Retry/base`, RETRY_BODY, 201);
});

afterAll(async () => {
  await cp?.close();
});

// ---------------------------------------------------------------- the matrix

interface Cell {
  principal: PrincipalDef;
  route: RouteDef;
  target: 'own' | 'other' | '-';
}

const CELLS: Cell[] = PRINCIPALS.flatMap((principal) =>
  ROUTES.flatMap((route): Cell[] => (route.scoped ? [{ principal, route, target: 'own' }, { principal, route, target: 'other' }] : [{ principal, route, target: '-' }])),
);

/** Own tenant of a tenant principal; tenant A stands in for principals without one. */
function targetTenant(cell: Cell): string {
  const own = cell.principal.tenant ?? A;
  if (cell.target !== 'other') return own;
  return own === A ? B : A;
}

describe('authorization matrix', () => {
  it.each(CELLS.map((c) => [c.principal.name, c.route.name, c.target, c] as const))('%s → %s (%s tenant)', async (_p, _r, _t, cell) => {
    const tenant = targetTenant(cell);
    const req = await cell.route.build(tenant, cell.principal);
    const res = await callAs(cell.principal, req);
    const status = expectedStatus(cell.principal, cell.route, tenant);
    if (status === 401) {
      const body = expectErrorBody(res, 401, 'Unauthorized');
      expect(body.details).toEqual([]);
      expect(res.body).not.toContain(tenant);
    } else if (status === 403) {
      expectErrorBody(res, 403, 'Forbidden');
    } else if (status === 404) {
      const body = expectErrorBody(res, 404, 'NotFound');
      expect(body).toEqual({ error: 'NotFound', message: `tenant "${tenant}" not found`, details: [] });
    } else {
      expect(res.statusCode, res.body).toBe(status);
      cell.route.verify?.(res, tenant);
    }
  });

  it('covers every /api/v1 route of the OpenAPI document', () => {
    const doc = cp.app.swagger() as { paths: Record<string, Record<string, unknown>> };
    const kinds = ['TrafficRoute', 'Retry', 'Timeout', 'CircuitBreaker', 'LocalityFailover', 'TrafficPermission'];
    const documented = new Set<string>();
    for (const [path, ops] of Object.entries(doc.paths)) {
      if (!path.startsWith('/api/v1/')) continue;
      let route = path.slice('/api/v1'.length).replace(/\{([^}]+)\}/g, ':$1');
      for (const kind of kinds) route = route.replace(`/policies/${kind}/`, '/policies/:kind/');
      for (const method of Object.keys(ops)) documented.add(`${method.toUpperCase()} ${route}`);
    }
    expect([...documented].sort()).toEqual(ROUTES.map((r) => r.name).sort());
    // The PUT route exists once per policy kind.
    for (const kind of kinds) expect(doc.paths[`/api/v1/tenants/{tenant}/policies/${kind}/{name}`]).toHaveProperty('put');
  });
});

// ---------------------------------------------------------------- existence must not leak

/** Every way a tenant-scoped URL can be addressed, including names that do not exist in the tenant. */
function tenantScopedRequests(tenant: string): Array<[string, Req]> {
  const t = `/api/v1/tenants/${tenant}`;
  return [
    ['GET tenant', { method: 'GET', url: t }],
    ['PATCH tenant', { method: 'PATCH', url: t, body: { labels: { x: 'y' } } }],
    ['DELETE tenant', { method: 'DELETE', url: t }],
    ['POST token', { method: 'POST', url: `${t}/tokens`, body: { role: 'viewer' } }],
    ['GET tokens', { method: 'GET', url: `${t}/tokens` }],
    ['DELETE existing token id', { method: 'DELETE', url: `${t}/tokens/${tokenIds[tenant] ?? '0123456789abcdef'}` }],
    ['DELETE unknown token id', { method: 'DELETE', url: `${t}/tokens/fedcba9876543210` }],
    ['PUT policy (new name)', { method: 'PUT', url: `${t}/policies/Retry/never-there`, body: RETRY_BODY }],
    ['PUT policy (existing name)', { method: 'PUT', url: `${t}/policies/Retry/base`, body: RETRY_BODY }],
    ['PUT policy (unknown kind)', { method: 'PUT', url: `${t}/policies/NoSuchKind/base`, body: RETRY_BODY }],
    ['GET policy (existing)', { method: 'GET', url: `${t}/policies/Retry/base` }],
    ['GET policy (missing)', { method: 'GET', url: `${t}/policies/Timeout/never-there` }],
    ['GET policy (unknown kind)', { method: 'GET', url: `${t}/policies/NoSuchKind/base` }],
    ['GET policies', { method: 'GET', url: `${t}/policies` }],
    ['GET policies ?kind', { method: 'GET', url: `${t}/policies?kind=Retry` }],
    ['GET policies ?kind unknown', { method: 'GET', url: `${t}/policies?kind=NoSuchKind` }],
    ['GET policies ?labelSelector', { method: 'GET', url: `${t}/policies?labelSelector=app%3Dweb` }],
    ['GET services', { method: 'GET', url: `${t}/services` }],
    ['GET roots', { method: 'GET', url: `${t}/roots` }],
    ['POST root', { method: 'POST', url: `${t}/roots`, body: {} }],
    ['POST activate root (unknown serial)', { method: 'POST', url: `${t}/roots/0123456789abcdef/activate` }],
    ['DELETE root (unknown serial)', { method: 'DELETE', url: `${t}/roots/0123456789abcdef` }],
    ['DELETE policy (existing)', { method: 'DELETE', url: `${t}/policies/Retry/base` }],
    ['DELETE policy (missing)', { method: 'DELETE', url: `${t}/policies/Retry/never-there` }],
    ['DELETE policy (unknown kind)', { method: 'DELETE', url: `${t}/policies/NoSuchKind/base` }],
  ];
}

interface Observed {
  status: number;
  contentType: unknown;
  body: string;
}

const observe = (res: LightMyRequestResponse): Observed => ({ status: res.statusCode, contentType: res.headers['content-type'], body: res.body });
/** The same response with the addressed tenant's name blanked, to compare two different names. */
const normalized = (o: Observed, tenant: string): Observed => ({ ...o, body: o.body.split(`"${tenant}"`).join('"<tenant>"').split(`\\"${tenant}\\"`).join('\\"<tenant>\\"') });

describe('another tenant is indistinguishable from a tenant that does not exist', () => {
  const tenantPrincipals = PRINCIPALS.filter((p) => p.kind === 'tenant' && p.tenant === A);

  it.each(tenantPrincipals.map((p) => [p.name, p] as const))('%s: every request to tenant B answers 404 exactly like a nonexistent tenant', async (_name, principal) => {
    const problems: string[] = [];
    for (const [label, req] of tenantScopedRequests(B)) {
      const other = observe(await callAs(principal, req));
      const ghostReq = tenantScopedRequests(GHOST).find(([l]) => l === label)![1];
      const ghost = observe(await callAs(principal, ghostReq));
      if (other.status !== 404) problems.push(`${req.method} ${req.url}: status ${other.status} ${other.body}`);
      else if (other.body !== JSON.stringify({ error: 'NotFound', message: `tenant "${B}" not found`, details: [] })) problems.push(`${label}: body ${other.body}`);
      if (JSON.stringify(normalized(other, B)) !== JSON.stringify(normalized(ghost, GHOST))) {
        problems.push(`${label}: differs from a nonexistent tenant: ${other.status} ${other.body} vs ${ghost.status} ${ghost.body}`);
      }
    }
    expect(problems).toEqual([]);
    // Nothing of B changed meanwhile.
    const b = await adminCall('GET', `/api/v1/tenants/${B}`, undefined, 200);
    expect(b.json().metadata.labels).not.toHaveProperty('x');
    await adminCall('GET', `/api/v1/tenants/${B}/policies/Retry/base`, undefined, 200);
    await adminCall('GET', `/api/v1/tenants/${B}/policies/Retry/never-there`, undefined, 404);
    const bTokens = await adminCall('GET', `/api/v1/tenants/${B}/tokens`, undefined, 200);
    expect(bTokens.json<{ items: TokenInfo[] }>().items.map((t) => t.id)).toContain(tokenIds[B]);
    expect((await cp.call('GET', `/api/v1/tenants/${B}`, tokens.bAdmin)).statusCode).toBe(200);
  });

  it('the answer for the same URL is byte-identical before and after the other tenant is deleted', async () => {
    const name = 'tenant-vanishing';
    await createTenant(name);
    const victimToken = await mintToken(name, 'admin');
    tokenIds[name] = victimToken.info.id;
    await adminCall('PUT', `/api/v1/tenants/${name}/policies/Retry/base`, RETRY_BODY, 201);

    const before: Record<string, Observed> = {};
    for (const principal of tenantPrincipals) {
      for (const [label, req] of tenantScopedRequests(name)) before[`${principal.name}: ${label}`] = observe(await callAs(principal, req));
    }
    await adminCall('DELETE', `/api/v1/tenants/${name}`, undefined, 204);
    const problems: string[] = [];
    for (const principal of tenantPrincipals) {
      for (const [label, req] of tenantScopedRequests(name)) {
        const key = `${principal.name}: ${label}`;
        const after = observe(await callAs(principal, req));
        if (before[key]!.status !== 404) problems.push(`${key}: status ${before[key]!.status} while the tenant existed`);
        if (JSON.stringify(after) !== JSON.stringify(before[key])) problems.push(`${key}: ${JSON.stringify(before[key])} before, ${JSON.stringify(after)} after`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('a cross-tenant GET of the tenant record has the same body as the admin asking for a tenant that does not exist', async () => {
    const cross = observe(await cp.call('GET', `/api/v1/tenants/${B}`, tokens.aViewer));
    const missing = observe(await cp.call('GET', `/api/v1/tenants/${GHOST}`, ADMIN_TOKEN));
    expect(cross.status).toBe(404);
    expect(missing.status).toBe(404);
    expect(normalized(cross, B)).toEqual(normalized(missing, GHOST));
  });

  it('tenant B admin cannot revoke tenant A tokens, even by their real id', async () => {
    const res = await cp.call('DELETE', `/api/v1/tenants/${A}/tokens/${tokenIds[A]!}`, tokens.bAdmin);
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: 'NotFound', message: `tenant "${A}" not found`, details: [] });
    // Addressed through B's own URL, A's token id is simply not a token of B.
    const viaOwn = await cp.call('DELETE', `/api/v1/tenants/${B}/tokens/${tokenIds[A]!}`, tokens.bAdmin);
    expect(viaOwn.statusCode).toBe(404);
    expect((await cp.call('GET', `/api/v1/tenants/${A}`, tokens.aAdmin)).statusCode).toBe(200);
  });
});

// ---------------------------------------------------------------- authentication details

describe('authentication', () => {
  it.each([
    ['Bearer without a token', 'Bearer'],
    ['Bearer with two tokens', `Bearer ${ADMIN_TOKEN} extra`],
    ['Token scheme', `Token ${ADMIN_TOKEN}`],
    ['bare token', ADMIN_TOKEN],
    ['empty', ''],
  ])('a malformed Authorization header (%s) is 401', async (_label, header) => {
    const res = await cp.call('GET', '/api/v1/zones', undefined, undefined, { authorization: header });
    expectErrorBody(res, 401, 'Unauthorized');
  });

  it('the scheme is case-insensitive', async () => {
    const res = await cp.call('GET', '/api/v1/zones', undefined, undefined, { authorization: `bearer ${ADMIN_TOKEN}` });
    expect(res.statusCode).toBe(200);
  });

  it('unknown, revoked and orphaned tokens get the same 401 answer', async () => {
    const url = `/api/v1/tenants/${A}/policies`;
    const unknown = await cp.call('GET', url, `mft_${randomBytes(32).toString('base64url')}`);
    const revoked = await cp.call('GET', url, tokens.revoked);
    const orphan = await cp.call('GET', url, tokens.orphan);
    const unknownZone = await cp.call('GET', url, `mfz_${randomBytes(32).toString('base64url')}`);
    const wrongAdmin = await cp.call('GET', url, 'mfa_not-the-admin-token');
    expectErrorBody(unknown, 401, 'Unauthorized');
    for (const res of [revoked, orphan, unknownZone, wrongAdmin]) expect(observe(res)).toEqual(observe(unknown));
  });

  it('a revoked token stops working at once and cannot be revoked twice', async () => {
    const t = await mintToken(A, 'editor');
    expect((await cp.call('GET', `/api/v1/tenants/${A}/policies`, t.token)).statusCode).toBe(200);
    expect((await cp.call('DELETE', `/api/v1/tenants/${A}/tokens/${t.info.id}`, tokens.aAdmin)).statusCode).toBe(204);
    expectErrorBody(await cp.call('GET', `/api/v1/tenants/${A}/policies`, t.token), 401, 'Unauthorized');
    const again = await cp.call('DELETE', `/api/v1/tenants/${A}/tokens/${t.info.id}`, tokens.aAdmin);
    expectErrorBody(again, 404, 'NotFound');
    const listed = await cp.call('GET', `/api/v1/tenants/${A}/tokens`, tokens.aAdmin);
    expect(listed.json<{ items: TokenInfo[] }>().items.map((i) => i.id)).not.toContain(t.info.id);
  });

  it('a deleted zone’s token stops authenticating', async () => {
    const name = unique('zone-gone');
    const created = await adminCall('POST', '/api/v1/zones', { name, region: 'eu-west', location: 'aws:eu-west-1', kind: 'universal' }, 201);
    const zoneToken = created.json<{ token: string }>().token;
    expectErrorBody(await cp.call('GET', '/api/v1/zones', zoneToken), 403, 'Forbidden');
    await adminCall('DELETE', `/api/v1/zones/${name}`, undefined, 204);
    expectErrorBody(await cp.call('GET', '/api/v1/zones', zoneToken), 401, 'Unauthorized');
  });
});

// ---------------------------------------------------------------- zone placement

describe('zone placement (what a zone CP authenticates against)', () => {
  it('a zone token only ever sees its own zone: another zone, or a zone that does not exist, is 403 alike', async () => {
    const other = await cp.call('GET', `/api/v1/zones/${OTHER_ZONE}/placement`, tokens.zone);
    const ghost = await cp.call('GET', '/api/v1/zones/ghost-zone/placement', tokens.zone);
    expect(expectErrorBody(other, 403, 'Forbidden').message).toBe('a zone token may not zone sync');
    expect(observe(ghost)).toEqual(observe(other));
    const own = await cp.call('GET', `/api/v1/zones/${OTHER_ZONE}/placement`, tokens.otherZone);
    expect(own.statusCode, own.body).toBe(200);
    expect(own.json()).toEqual({ zone: OTHER_ZONE, region: 'us-east', tenants: [] });
  });

  it('the admin gets 404 for a zone that does not exist', async () => {
    const res = await cp.call('GET', '/api/v1/zones/ghost-zone/placement', ADMIN_TOKEN);
    expect(expectErrorBody(res, 404, 'NotFound')).toEqual({ error: 'NotFound', message: 'zone "ghost-zone" not found', details: [] });
  });

  it('a tenant token is refused even for a zone its tenant is placed in', async () => {
    const res = await cp.call('GET', `/api/v1/zones/${ZONE}/placement`, tokens.aAdmin);
    expect(expectErrorBody(res, 403, 'Forbidden').message).toBe('an admin token of tenant "tenant-a" may not zone sync');
  });
});

// ---------------------------------------------------------------- token lifetimes

describe('token minting', () => {
  const HOUR = 3_600_000;

  it('a tenant admin token cannot mint a token that outlives itself', async () => {
    const creator = await mintToken(A, 'admin', ADMIN_TOKEN, '2h');
    const creatorExpiry = Date.parse(creator.info.expiresAt);
    expect(creatorExpiry - Date.now()).toBeGreaterThan(2 * HOUR - 60_000);
    expect(creatorExpiry - Date.now()).toBeLessThanOrEqual(2 * HOUR);

    const longer = await mintToken(A, 'viewer', creator.token, '720h');
    expect(Date.parse(longer.info.expiresAt)).toBe(creatorExpiry);

    const defaulted = await mintToken(A, 'editor', creator.token);
    expect(Date.parse(defaulted.info.expiresAt)).toBe(creatorExpiry);

    const shorter = await mintToken(A, 'viewer', creator.token, '1h');
    expect(Date.parse(shorter.info.expiresAt)).toBeLessThan(creatorExpiry);
    expect(Date.parse(shorter.info.expiresAt) - Date.now()).toBeGreaterThan(HOUR - 60_000);

    // The capped token works.
    expect((await cp.call('GET', `/api/v1/tenants/${A}`, longer.token)).statusCode).toBe(200);
  });

  it('a token minted by a capped token is capped transitively', async () => {
    const creator = await mintToken(A, 'admin', ADMIN_TOKEN, '3h');
    const child = await mintToken(A, 'admin', creator.token, '8760h');
    const grandchild = await mintToken(A, 'admin', child.token, '8760h');
    expect(grandchild.info.expiresAt).toBe(creator.info.expiresAt);
  });

  it('the admin is not capped: default 720h, at most 8760h', async () => {
    const defaulted = await mintToken(A, 'viewer');
    expect(Math.abs(Date.parse(defaulted.info.expiresAt) - (Date.now() + 720 * HOUR))).toBeLessThan(60_000);
    const year = await mintToken(A, 'viewer', ADMIN_TOKEN, '8760h');
    expect(Math.abs(Date.parse(year.info.expiresAt) - (Date.now() + 8760 * HOUR))).toBeLessThan(60_000);
    const tooLong = await cp.call('POST', `/api/v1/tenants/${A}/tokens`, ADMIN_TOKEN, { role: 'viewer', ttl: '8761h' });
    const body = expectErrorBody(tooLong, 400, 'ValidationError');
    expect(body.details.map((d) => d.path)).toEqual(['/body/ttl']);
  });

  it('an editor or viewer cannot mint any token, not even a weaker one', async () => {
    for (const token of [tokens.aEditor!, tokens.aViewer!]) {
      const res = await cp.call('POST', `/api/v1/tenants/${A}/tokens`, token, { role: 'viewer', ttl: '1h' });
      expectErrorBody(res, 403, 'Forbidden');
    }
  });

  it('a minted token carries exactly the requested role', async () => {
    const viewer = await mintToken(A, 'viewer', tokens.aAdmin);
    expect(viewer.info.role).toBe('viewer');
    const write = await cp.call('PUT', `/api/v1/tenants/${A}/policies/Retry/${unique('via-viewer')}`, viewer.token, RETRY_BODY);
    expectErrorBody(write, 403, 'Forbidden');
    const editor = await mintToken(A, 'editor', tokens.aAdmin);
    expect((await cp.call('PUT', `/api/v1/tenants/${A}/policies/Retry/${unique('via-editor')}`, editor.token, RETRY_BODY)).statusCode).toBe(201);
    expectErrorBody(await cp.call('GET', `/api/v1/tenants/${A}/tokens`, editor.token), 403, 'Forbidden');
  });
});
