import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { badRequest, notFound } from '../../core/errors.js';
import { parseDurationMs } from '../../core/duration.js';
import { Dns1123Label, Duration, ErrorBody } from '../../core/schemas/common.js';
import { DataplaneRegistration } from '../../core/schemas/dataplane.js';
import type { DataplaneTokenAuthority } from '../dataplanes/token-authority.js';
import { DEFAULT_DATAPLANE_TOKEN_TTL_MS } from '../dataplanes/tokens.js';
import { registrationProblem, type UniversalDiscovery } from '../discovery/universal.js';
import { requireDataplaneToken, requireZoneToken } from './auth.js';

export interface DataplaneRoutesOptions {
  zoneToken: string;
  tokens: DataplaneTokenAuthority;
  /** Undefined when this zone discovers workloads another way (Kubernetes, services file). */
  universal: UniversalDiscovery | undefined;
  placedTenants(): string[];
  trustDomainOf(tenant: string): string | undefined;
}

const MAX_TTL_MS = 10 * 365 * 86_400_000;
const errors = { 400: ErrorBody, 401: ErrorBody, 404: ErrorBody };

/** Dataplane tokens (zone operator) and universal-mode registrations (dataplanes). */
export const dataplaneRoutes: FastifyPluginAsyncTypebox<DataplaneRoutesOptions> = async (app, options) => {
  app.post(
    '/api/v1/dataplane-tokens',
    {
      schema: {
        summary: 'Issue a dataplane token bound to tenant / namespace / service account, or an ingress token (zone token)',
        body: Type.Object(
          {
            tenant: Type.Optional(Dns1123Label('Tenant placed in this zone.')),
            namespace: Type.Optional(Dns1123Label('Namespace.')),
            serviceAccount: Type.Optional(Type.String({ pattern: '^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$', maxLength: 253 })),
            ingress: Type.Optional(Type.Boolean({ description: 'A token for this zone\'s east-west ingress instead of a workload.' })),
            ttl: Type.Optional(Duration('Validity; default 8760h.')),
          },
          { additionalProperties: false },
        ),
        response: { 201: Type.Object({ id: Type.String(), token: Type.String(), expiresAt: Type.String() }), ...errors },
      },
    },
    async (request, reply) => {
      requireZoneToken(request, options.zoneToken);
      const { tenant, namespace, serviceAccount, ingress, ttl } = request.body;
      const ttlMs = ttl === undefined ? DEFAULT_DATAPLANE_TOKEN_TTL_MS : parseDurationMs(ttl) ?? NaN;
      if (!(ttlMs >= 60_000 && ttlMs <= MAX_TTL_MS)) throw badRequest('/body/ttl: must be between 1m and 87600h', [{ path: '/body/ttl', message: 'must be between 1m and 87600h' }]);
      let binding: { tenant: string; namespace: string; serviceAccount: string; trustDomain?: string } | { ingress: true };
      if (ingress) {
        const extra = (['tenant', 'namespace', 'serviceAccount'] as const).find((f) => request.body[f] !== undefined);
        if (extra) throw badRequest(`/body/${extra}: an ingress token serves every tenant of the zone; leave ${extra} out`, [{ path: `/body/${extra}`, message: 'not allowed with ingress: true' }]);
        binding = { ingress: true };
      } else {
        const missing = (['tenant', 'namespace', 'serviceAccount'] as const).find((f) => request.body[f] === undefined);
        if (missing) throw badRequest(`/body/${missing}: is required (or set ingress: true)`, [{ path: `/body/${missing}`, message: 'is required' }]);
        if (!options.placedTenants().includes(tenant!)) throw notFound(`tenant "${tenant}" is not placed in this zone`);
        binding = { tenant: tenant!, namespace: namespace!, serviceAccount: serviceAccount!, trustDomain: options.trustDomainOf(tenant!) };
      }
      const { token, claims } = options.tokens.issue(binding, ttlMs);
      request.log.info({ tokenId: claims.id, ...binding }, 'dataplane token issued');
      return reply.code(201).send({ id: claims.id, token, expiresAt: new Date(claims.expiresAt).toISOString() });
    },
  );

  app.delete(
    '/api/v1/dataplane-tokens/:id',
    { schema: { summary: 'Revoke a dataplane token: it gets no more SVIDs, registrations or config (zone token)', params: Type.Object({ id: Type.String({ pattern: '^[0-9a-f]{16}$' }) }), response: { 204: Type.Null(), ...errors } } },
    async (request, reply) => {
      requireZoneToken(request, options.zoneToken);
      await options.tokens.revoke(request.params.id, Date.now() + MAX_TTL_MS);
      request.log.info({ tokenId: request.params.id }, 'dataplane token revoked');
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/v1/dataplanes',
    {
      schema: {
        summary: 'Register a dataplane, or report its health (dataplane token; universal mode)',
        body: DataplaneRegistration,
        response: { 200: Type.Object({ registered: Type.String(), healthy: Type.Boolean() }), ...errors, 409: ErrorBody },
      },
    },
    async (request) => {
      const claims = requireDataplaneToken(request, (t) => options.tokens.verify(t));
      if (claims.ingress) throw badRequest('an ingress token registers no workload', []);
      if (!options.universal) throw notFound('this zone discovers workloads from Kubernetes or a services file; registrations are not taken');
      const problem = registrationProblem(claims, request.body);
      if (problem) throw badRequest(`${problem.path}: ${problem.message}`, [problem]);
      if (!options.placedTenants().includes(claims.tenant)) throw notFound(`tenant "${claims.tenant}" is not placed in this zone`);
      const endpoint = options.universal.register(claims, request.body);
      return { registered: `${endpoint.tenant}/${endpoint.namespace}/${endpoint.service}/${endpoint.instance}`, healthy: endpoint.healthy };
    },
  );

  app.delete(
    '/api/v1/dataplanes/:service/:instance',
    {
      schema: {
        summary: 'Deregister a dataplane of the token\'s tenant and namespace',
        params: Type.Object({ service: Dns1123Label('Service.'), instance: Type.String({ maxLength: 253 }) }),
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (request, reply) => {
      const claims = requireDataplaneToken(request, (t) => options.tokens.verify(t));
      if (!options.universal?.deregister(claims, request.params.service, request.params.instance)) throw notFound('no such dataplane');
      return reply.code(204).send(null);
    },
  );

  app.get('/api/v1/dataplanes', { schema: { summary: 'Registered dataplanes (zone token)' } }, async (request) => {
    requireZoneToken(request, options.zoneToken);
    return { items: options.universal?.list() ?? [] };
  });
};
