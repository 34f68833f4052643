import type { FastifyRequest } from 'fastify';
import { unauthorized } from '../../core/errors.js';
import { tokensEqual } from '../../tenants/tokens.js';
import type { DataplaneClaims, TokenCheck } from '../dataplanes/tokens.js';

export function bearerOf(request: FastifyRequest): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '');
  return match?.[1];
}

/** The zone operator's calls carry the zone token: the same secret the zone CP holds for the global CP. */
export function requireZoneToken(request: FastifyRequest, zoneToken: string): void {
  const token = bearerOf(request);
  if (!token || !tokensEqual(token, zoneToken)) throw unauthorized('this call needs the zone token');
}

export function requireDataplaneToken(request: FastifyRequest, verify: (token: string) => TokenCheck): DataplaneClaims {
  const token = bearerOf(request);
  if (!token) throw unauthorized('a dataplane token is required');
  const check = verify(token);
  if (!check.ok) throw unauthorized(check.reason);
  return check.claims;
}
