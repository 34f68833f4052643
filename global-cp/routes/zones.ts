import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { conflict, notFound, preconditionFailed } from '../../core/errors.js';
import { ErrorBody } from '../../core/schemas/common.js';
import { Placement } from '../../core/schemas/federation.js';
import { CreateZoneBody, CreatedZone, PatchZoneBody, Zone } from '../../core/schemas/zone.js';
import { generateToken, hashToken } from '../../tenants/tokens.js';
import { requireAllowed } from '../plugins/authentication.js';
import { WRITE_RESULT_HEADER, etag, preconditionFrom } from '../resources/preconditions.js';
import { renderZone } from '../resources/render.js';
import { zoneStatusFrom } from '../federation/zone-status.js';
import type { RedisStore } from '../store/redis-store.js';
import { PreconditionHeaders, ZoneParams, errorResponses } from './common.js';

const tags = ['zones'];

/** Zone registry (admin only). A zone token is returned once at registration; only its hash is kept. */
export interface ZoneRoutesOptions {
  store: RedisStore;
  /** Heartbeats a zone may miss before it is offline. */
  offlineAfterMissed: number;
}

export const zoneRoutes: FastifyPluginAsyncTypebox<ZoneRoutesOptions> = async (app, { store, offlineAfterMissed }) => {
  const statusOf = async (zone: string) => {
    const [record, placed] = await Promise.all([store.zoneStatus(zone), store.zoneTenants(zone)]);
    const tenants = (await Promise.all(placed.map((t) => store.getTenant(t)))).filter((t) => t !== undefined);
    return zoneStatusFrom(record, tenants.map((t) => ({ name: t.name, revision: t.revision })), Date.now(), offlineAfterMissed);
  };

  app.post(
    '/zones',
    { schema: { tags, summary: 'Register a zone', body: CreateZoneBody, response: { 201: CreatedZone, ...errorResponses, 409: ErrorBody } } },
    async (request, reply) => {
      requireAllowed(request, { op: 'zones:write' }, '');
      const { name, labels = {}, ...spec } = request.body;
      const token = generateToken('zone');
      const result = await store.putZone(name, labels, spec, 'create', hashToken(token));
      if (result.status === 'exists') throw conflict(`zone "${name}" already exists`, [{ path: '/body/name', message: 'already exists' }]);
      if (result.status !== 'created') throw new Error(`unexpected store result ${result.status}`);
      request.log.info({ zone: name }, 'zone registered');
      return reply.code(201).header('etag', etag(result.value.meta.resourceVersion)).send({ zone: renderZone(result.value, await statusOf(name)), token });
    },
  );

  app.get('/zones', { schema: { tags, summary: 'List zones', response: { 200: Type.Object({ items: Type.Array(Zone) }), ...errorResponses } } }, async (request) => {
    requireAllowed(request, { op: 'zones:read' }, '');
    const zones = await store.listZones();
    return { items: await Promise.all(zones.map(async (z) => renderZone(z, await statusOf(z.name)))) };
  });

  app.get('/zones/:name', { schema: { tags, summary: 'Get a zone', params: ZoneParams, response: { 200: Zone, ...errorResponses } } }, async (request, reply) => {
    requireAllowed(request, { op: 'zones:read' }, '');
    const zone = await store.getZone(request.params.name);
    if (!zone) throw notFound(`zone "${request.params.name}" not found`);
    return reply.header('etag', etag(zone.meta.resourceVersion)).send(renderZone(zone, await statusOf(zone.name)));
  });

  app.patch(
    '/zones/:name',
    {
      schema: { tags, summary: 'Change a zone\'s region, location or labels', params: ZoneParams, headers: PreconditionHeaders, body: PatchZoneBody, response: { 200: Zone, ...errorResponses, 412: ErrorBody } },
    },
    async (request, reply) => {
      requireAllowed(request, { op: 'zones:write' }, '');
      const { name } = request.params;
      const clientExpect = preconditionFrom(request.headers, undefined, 'exists');
      for (let attempt = 0; attempt < 8; attempt++) {
        const current = await store.getZone(name);
        if (!current) throw notFound(`zone "${name}" not found`);
        const expect = clientExpect === 'exists' ? { resourceVersion: current.meta.resourceVersion } : clientExpect;
        const { labels = current.labels, region = current.spec.region, location = current.spec.location } = request.body;
        const result = await store.putZone(name, labels, { ...current.spec, region, location }, expect);
        if (result.status === 'updated' || result.status === 'unchanged') {
          return reply.header('etag', etag(result.value.meta.resourceVersion)).header(WRITE_RESULT_HEADER, result.status).send(renderZone(result.value, await statusOf(name)));
        }
        if (result.status === 'not-found') throw notFound(`zone "${name}" not found`);
        if (result.status === 'precondition' && clientExpect !== 'exists') {
          throw preconditionFailed(`zone "${name}" is at resourceVersion ${result.currentResourceVersion}`);
        }
        if (result.status === 'exists') throw preconditionFailed(`zone "${name}" exists (If-None-Match: *)`);
      }
      throw conflict(`zone "${name}" kept changing; try again`);
    },
  );

  app.delete(
    '/zones/:name',
    { schema: { tags, summary: 'Delete a zone and revoke its token', params: ZoneParams, headers: PreconditionHeaders, response: { 204: Type.Null(), ...errorResponses, 409: ErrorBody, 412: ErrorBody } } },
    async (request, reply) => {
      requireAllowed(request, { op: 'zones:write' }, '');
      const { name } = request.params;
      const result = await store.deleteZone(name, preconditionFrom(request.headers, undefined, 'any'));
      if (result.status === 'not-found') throw notFound(`zone "${name}" not found`);
      if (result.status === 'precondition') throw preconditionFailed(`zone "${name}" is at resourceVersion ${result.currentResourceVersion}`);
      if (result.status === 'exists') throw preconditionFailed(`zone "${name}" exists (If-None-Match: *)`);
      if (result.status === 'conflict') {
        throw conflict(`zone "${name}" still has tenants placed in it: ${result.tenants.join(', ')}; remove them from the zone first`, [
          { path: '/params/name', message: `tenants placed: ${result.tenants.join(', ')}` },
        ]);
      }
      await store.forgetZoneStatus(name);
      request.log.info({ zone: name }, 'zone deleted; its token is revoked');
      return reply.code(204).send(null);
    },
  );

  // A zone CP proves its token here and learns which tenants are placed in it.
  app.get(
    '/zones/:name/placement',
    { schema: { tags, summary: 'The tenants placed in a zone (for its zone CP)', params: ZoneParams, response: { 200: Placement, ...errorResponses } } },
    async (request) => {
      const { name } = request.params;
      requireAllowed(request, { op: 'zone:sync', zone: name }, `zone "${name}" not found`);
      const zone = await store.getZone(name);
      if (!zone) throw notFound(`zone "${name}" not found`);
      const tenants = (await Promise.all((await store.zoneTenants(name)).map((t) => store.getTenant(t)))).filter((t) => t !== undefined);
      return { zone: name, region: zone.spec.region, tenants: tenants.map((t) => ({ name: t.name, trustDomain: t.spec.trustDomain })) };
    },
  );
};
