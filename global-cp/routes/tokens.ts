import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { badRequest, notFound, quotaExceeded } from '../../core/errors.js';
import { parseDurationMs } from '../../core/duration.js';
import { CreateTokenBody, CreatedToken, TokenInfo } from '../../core/schemas/tenant.js';
import { Dns1123Label, ErrorBody } from '../../core/schemas/common.js';
import { DEFAULT_TOKEN_TTL_MS, MAX_TOKEN_TTL_MS, generateToken, generateTokenId, hashToken } from '../../tenants/tokens.js';
import type { Principal } from '../../tenants/authorization.js';
import { requireAllowed } from '../plugins/authentication.js';
import { renderToken } from '../resources/render.js';
import type { RedisStore } from '../store/redis-store.js';
import { TenantParams, errorResponses, tenantNotFound } from './common.js';

const tags = ['tokens'];

/**
 * The expiry of a new token: the requested lifetime, capped so that a tenant
 * token can never mint one that outlives itself.
 */
export function tokenExpiry(nowMs: number, ttl: string | undefined, creator: Principal): { expiresAtMs: number } | { error: string } {
  const ttlMs = ttl === undefined ? DEFAULT_TOKEN_TTL_MS : parseDurationMs(ttl);
  if (ttlMs === undefined || ttlMs < 60_000) return { error: 'must be a duration of at least 1m, e.g. 24h' };
  if (ttlMs > MAX_TOKEN_TTL_MS) return { error: 'must be at most 8760h (one year)' };
  let expiresAtMs = nowMs + ttlMs;
  if (creator.kind === 'tenant') expiresAtMs = Math.min(expiresAtMs, Date.parse(creator.expiresAt));
  return { expiresAtMs };
}

/** Tenant-scoped API tokens, managed by the admin or the tenant's own admin tokens. */
export const tokenRoutes: FastifyPluginAsyncTypebox<{ store: RedisStore }> = async (app, { store }) => {
  app.post(
    '/tenants/:tenant/tokens',
    { schema: { tags, summary: 'Create a tenant token', params: TenantParams, body: CreateTokenBody, response: { 201: CreatedToken, ...errorResponses } } },
    async (request, reply) => {
      const { tenant } = request.params;
      requireAllowed(request, { op: 'tokens:manage', tenant }, tenantNotFound(tenant));
      const now = Date.now();
      const expiry = tokenExpiry(now, request.body.ttl, request.principal);
      if ('error' in expiry) throw badRequest(`ttl ${expiry.error}`, [{ path: '/body/ttl', message: expiry.error }]);
      const token = generateToken('tenant');
      const record = {
        id: generateTokenId(),
        tenant,
        role: request.body.role,
        description: request.body.description ?? '',
        createdAt: new Date(now).toISOString(),
        expiresAt: new Date(expiry.expiresAtMs).toISOString(),
      };
      const result = await store.createToken(record, hashToken(token));
      if (result.status === 'tenant-not-found') throw notFound(tenantNotFound(tenant));
      if (result.status === 'quota') throw quotaExceeded(`tenant "${tenant}" already has ${result.limit} live tokens (quota maxTokens)`);
      if (result.status !== 'created') throw new Error(`unexpected store result ${result.status}`);
      request.log.info({ tenant, tokenId: record.id, role: record.role }, 'tenant token created');
      return reply.code(201).send({ token, info: renderToken(record) });
    },
  );

  app.get(
    '/tenants/:tenant/tokens',
    { schema: { tags, summary: 'List a tenant\'s live tokens (never the secrets)', params: TenantParams, response: { 200: Type.Object({ items: Type.Array(TokenInfo) }), ...errorResponses } } },
    async (request) => {
      const { tenant } = request.params;
      requireAllowed(request, { op: 'tokens:manage', tenant }, tenantNotFound(tenant));
      if (!(await store.getTenant(tenant))) throw notFound(tenantNotFound(tenant));
      return { items: (await store.listTokens(tenant)).map(renderToken) };
    },
  );

  app.delete(
    '/tenants/:tenant/tokens/:id',
    {
      schema: {
        tags,
        summary: 'Revoke a tenant token',
        params: Type.Object({ tenant: Dns1123Label('Tenant name.'), id: Type.String({ pattern: '^[0-9a-f]{16}$', description: 'Token id.' }) }),
        response: { 204: Type.Null(), ...errorResponses, 409: ErrorBody },
      },
    },
    async (request, reply) => {
      const { tenant, id } = request.params;
      requireAllowed(request, { op: 'tokens:manage', tenant }, tenantNotFound(tenant));
      const result = await store.deleteToken(tenant, id);
      if (result.status !== 'deleted') throw notFound(`token "${id}" not found in tenant "${tenant}"`);
      request.log.info({ tenant, tokenId: id }, 'tenant token revoked');
      return reply.code(204).send(null);
    },
  );
};
