import { describe, expect, it } from 'vitest';
import type { TokenRole } from '../core/schemas/tenant.js';
import { authorize, describePrincipal, type Action, type Decision, type Principal } from './authorization.js';

const OWN = 'acme';
const OTHER = 'globex';
const tenant = (role: TokenRole, name = OWN): Principal => ({ kind: 'tenant', tenant: name, role, tokenId: 'abcd0123abcd0123', expiresAt: '2030-01-01T00:00:00.000Z' });

const GLOBAL_OPS = ['zones:read', 'zones:write', 'tenants:list', 'tenants:create'] as const;
const TENANT_OPS = ['tenant:read', 'tenant:write', 'policies:read', 'policies:write', 'tokens:manage'] as const;
type TenantOp = (typeof TENANT_OPS)[number];

/** What each role may do on its own tenant. */
const OWN_TENANT: Record<TokenRole, Record<TenantOp, Decision>> = {
  viewer: { 'tenant:read': 'allow', 'tenant:write': 'forbidden', 'policies:read': 'allow', 'policies:write': 'forbidden', 'tokens:manage': 'forbidden' },
  editor: { 'tenant:read': 'allow', 'tenant:write': 'forbidden', 'policies:read': 'allow', 'policies:write': 'allow', 'tokens:manage': 'forbidden' },
  admin: { 'tenant:read': 'allow', 'tenant:write': 'forbidden', 'policies:read': 'allow', 'policies:write': 'allow', 'tokens:manage': 'allow' },
};
const ROLES = ['viewer', 'editor', 'admin'] as const;

describe('authorize', () => {
  describe('the admin', () => {
    it.each(GLOBAL_OPS)('may %s', (op) => {
      expect(authorize({ kind: 'admin' }, { op })).toBe('allow');
    });
    it.each(TENANT_OPS)('may %s on any tenant', (op) => {
      expect(authorize({ kind: 'admin' }, { op, tenant: OWN })).toBe('allow');
      expect(authorize({ kind: 'admin' }, { op, tenant: OTHER })).toBe('allow');
    });
  });

  describe('a zone', () => {
    const zone: Principal = { kind: 'zone', zone: 'eu-west-1a' };
    it.each(GLOBAL_OPS)('may not %s', (op) => {
      expect(authorize(zone, { op })).toBe('forbidden');
    });
    it.each(TENANT_OPS)('may not %s on a tenant', (op) => {
      expect(authorize(zone, { op, tenant: OWN })).toBe('forbidden');
    });
  });

  describe.each(ROLES)('a tenant %s token', (role) => {
    it.each(GLOBAL_OPS)('is forbidden to %s', (op) => {
      expect(authorize(tenant(role), { op })).toBe('forbidden');
    });

    it.each(TENANT_OPS)(`on its own tenant: %s follows the role table`, (op) => {
      expect(authorize(tenant(role), { op, tenant: OWN })).toBe(OWN_TENANT[role][op]);
    });

    it.each(TENANT_OPS)('on another tenant: %s is hidden', (op) => {
      expect(authorize(tenant(role), { op, tenant: OTHER })).toBe('hidden');
    });
  });

  it('gives the full decision table', () => {
    const principals: Array<[string, Principal]> = [
      ['admin', { kind: 'admin' }],
      ['zone', { kind: 'zone', zone: 'z' }],
      ['viewer', tenant('viewer')],
      ['editor', tenant('editor')],
      ['tadmin', tenant('admin')],
    ];
    const actions: Array<[string, Action]> = [
      ...GLOBAL_OPS.map((op): [string, Action] => [op, { op }]),
      ...TENANT_OPS.map((op): [string, Action] => [`${op}@own`, { op, tenant: OWN }]),
      ...TENANT_OPS.map((op): [string, Action] => [`${op}@other`, { op, tenant: OTHER }]),
    ];
    const table = Object.fromEntries(principals.map(([p, principal]) => [p, actions.map(([, action]) => authorize(principal, action)[0]).join('')]));
    // a = allow, f = forbidden, h = hidden; columns: 4 global ops, then on own tenant and on another:
    // tenant:read, tenant:write (platform admin only), policies:read, policies:write, tokens:manage.
    expect(table).toEqual({
      admin: 'aaaa' + 'aaaaa' + 'aaaaa',
      zone: 'ffff' + 'fffff' + 'fffff',
      viewer: 'ffff' + 'afaff' + 'hhhhh',
      editor: 'ffff' + 'afaaf' + 'hhhhh',
      tadmin: 'ffff' + 'afaaa' + 'hhhhh',
    });
  });

  it('compares tenant names exactly', () => {
    expect(authorize(tenant('admin'), { op: 'tenant:read', tenant: 'ACME' })).toBe('hidden');
    expect(authorize(tenant('admin'), { op: 'tenant:read', tenant: 'acme ' })).toBe('hidden');
    expect(authorize(tenant('admin'), { op: 'tenant:read', tenant: 'acm' })).toBe('hidden');
  });
});

describe('describePrincipal', () => {
  it('names each kind of principal', () => {
    expect(describePrincipal({ kind: 'admin' })).toBe('admin');
    expect(describePrincipal(tenant('editor'))).toBe('tenant acme editor (token abcd0123abcd0123)');
    expect(describePrincipal({ kind: 'zone', zone: 'z1' })).toBe('zone z1');
  });
});
