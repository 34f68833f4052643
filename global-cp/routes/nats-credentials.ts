import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ApiError, badRequest, notFound } from '../../core/errors.js';
import { ErrorBody } from '../../core/schemas/common.js';
import { isUserPublicKey, signUserJwt, zoneInboxPrefix, zonePermissions } from '../../core/federation/nats-auth.js';
import type { NatsNames } from '../../core/federation/names.js';
import { requireAllowed } from '../plugins/authentication.js';
import type { RedisStore } from '../store/redis-store.js';
import { ZoneParams, errorResponses } from './common.js';

export interface NatsCredentialsOptions {
  store: RedisStore;
  /** Absent when NATS authorization is off: zones then connect without credentials. */
  natsAuth: { accountSeed: string; names: NatsNames; ttlSeconds: number } | undefined;
}

export const ZONE_CREDENTIALS_TTL_SECONDS = 3600;

/**
 * Signs a zone CP's NATS user key. Like a CSR: the zone sends only its public
 * key and gets a JWT allowing exactly its own placement, the buckets of the
 * tenants placed in it now, its inventory key and heartbeat subject.
 */
export const natsCredentialRoutes: FastifyPluginAsyncTypebox<NatsCredentialsOptions> = async (app, { store, natsAuth }) => {
  app.post(
    '/zones/:name/nats-credentials',
    {
      schema: {
        tags: ['zones'],
        summary: 'Sign a zone CP\'s NATS user key (for its own zone only)',
        params: ZoneParams,
        body: Type.Object({ publicKey: Type.String({ maxLength: 64, description: 'NATS user public key (U…); the seed stays in the zone.' }) }, { additionalProperties: false }),
        response: {
          200: Type.Object({ jwt: Type.String(), expiresAt: Type.String(), inboxPrefix: Type.String(), tenants: Type.Array(Type.String()) }),
          ...errorResponses,
          409: ErrorBody,
        },
      },
    },
    async (request) => {
      const { name } = request.params;
      requireAllowed(request, { op: 'zone:sync', zone: name }, `zone "${name}" not found`);
      if (!natsAuth) throw new ApiError(409, 'NatsAuthDisabled', 'NATS authorization is off at the global CP; connect to NATS without credentials');
      if (!isUserPublicKey(request.body.publicKey)) throw badRequest('not a NATS user public key', [{ path: '/body/publicKey', message: 'must be a NATS user public key (U…, 56 characters)' }]);
      if (!(await store.getZone(name))) throw notFound(`zone "${name}" not found`);
      const tenants = await store.zoneTenants(name);
      const signed = await signUserJwt(natsAuth.accountSeed, `zone-${name}`, request.body.publicKey, zonePermissions(natsAuth.names, name, tenants), natsAuth.ttlSeconds);
      request.log.info({ zone: name, tenants, expiresAt: signed.expiresAt }, 'signed zone NATS credentials');
      return { jwt: signed.jwt, expiresAt: signed.expiresAt.toISOString(), inboxPrefix: zoneInboxPrefix(name), tenants };
    },
  );
};
