import type { FastifyInstance, FastifyRequest } from 'fastify';
import { forbidden, notFound, unauthorized } from '../../core/errors.js';
import { authorize, type Action, type Principal } from '../../tenants/authorization.js';
import { hashToken, tokenKindOf, tokensEqual } from '../../tenants/tokens.js';
import type { RedisStore } from '../store/redis-store.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
}

export interface AuthenticationOptions {
  store: RedisStore;
  adminToken: string;
}

/** Resolves the bearer token to a principal once per request, for every route of the encapsulating plugin. */
export function installAuthentication(app: FastifyInstance, { store, adminToken }: AuthenticationOptions): void {
  app.decorateRequest('principal', null as never);
  app.addHook('onRequest', async (request) => {
    request.principal = await resolvePrincipal(request, store, adminToken);
  });
}

async function resolvePrincipal(request: FastifyRequest, store: RedisStore, adminToken: string): Promise<Principal> {
  const header = request.headers.authorization;
  if (!header) throw unauthorized('missing Authorization: Bearer <token>');
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw unauthorized('Authorization must be "Bearer <token>"');
  const token = match[1]!;
  if (tokensEqual(token, adminToken)) return { kind: 'admin' };
  const hash = hashToken(token);
  if (tokenKindOf(token) === 'tenant') {
    const record = await store.tokenByHash(hash);
    if (record && Date.parse(record.expiresAt) > Date.now()) {
      return { kind: 'tenant', tenant: record.tenant, role: record.role, tokenId: record.id, expiresAt: record.expiresAt };
    }
  } else if (tokenKindOf(token) === 'zone') {
    const zone = await store.zoneNameForToken(hash);
    if (zone) return { kind: 'zone', zone };
  }
  throw unauthorized('token is invalid, expired or revoked');
}

/**
 * Throws unless the caller may do `action`. Another tenant's things answer
 * exactly as if they did not exist, with `hiddenAs` as the message.
 */
export function requireAllowed(request: FastifyRequest, action: Action, hiddenAs: string): void {
  const decision = authorize(request.principal, action);
  if (decision === 'hidden') throw notFound(hiddenAs);
  if (decision === 'forbidden') throw forbidden(`${describeCaller(request.principal)} may not ${action.op.replace(':', ' ')}`);
}

function describeCaller(p: Principal): string {
  if (p.kind === 'tenant') return `${p.role === 'admin' ? 'an' : 'a'} ${p.role} token of tenant "${p.tenant}"`;
  if (p.kind === 'zone') return `a zone token`;
  return 'the admin';
}
