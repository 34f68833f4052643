import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { badRequest, conflict, notFound, preconditionFailed } from '../../core/errors.js';
import { ErrorBody } from '../../core/schemas/common.js';
import { CreateTenantBody, PatchTenantBody, Tenant } from '../../core/schemas/tenant.js';
import { requireAllowed } from '../plugins/authentication.js';
import { WRITE_RESULT_HEADER, etag, preconditionFrom } from '../resources/preconditions.js';
import { renderTenant } from '../resources/render.js';
import { applyTenantPatch, tenantSpecFromCreate } from '../resources/tenant-spec.js';
import type { TenantRecord, WriteResult } from '../store/records.js';
import type { RedisStore } from '../store/redis-store.js';
import type { CaKeeper } from '../ca/ca-keeper.js';
import { PreconditionHeaders, TenantNameParams, errorResponses, tenantNotFound } from './common.js';

const tags = ['tenants'];

/** Tenants: created, placed in zones and deleted by the admin; a tenant's own tokens may read it. */
export const tenantRoutes: FastifyPluginAsyncTypebox<{ store: RedisStore; cas: CaKeeper }> = async (app, { store, cas }) => {
  app.post(
    '/tenants',
    { schema: { tags, summary: 'Create a tenant', body: CreateTenantBody, response: { 201: Tenant, ...errorResponses, 409: ErrorBody } } },
    async (request, reply) => {
      requireAllowed(request, { op: 'tenants:create' }, '');
      const { name, labels = {} } = request.body;
      const spec = tenantSpecFromCreate(request.body);
      // The tenant and its root CA are stored in one atomic write.
      const result = await store.putTenant(name, labels, spec, 'create', await cas.newTenantCa(name, spec.trustDomain));
      if (result.status === 'exists') throw conflict(`tenant "${name}" already exists`, [{ path: '/body/name', message: 'already exists' }]);
      const tenant = expectWritten(result, name, request.body.zones);
      request.log.info({ tenant: name, zones: tenant.spec.zones }, 'tenant created');
      return reply.code(201).header('etag', etag(tenant.meta.resourceVersion)).send(renderTenant(tenant));
    },
  );

  app.get('/tenants', { schema: { tags, summary: 'List tenants', response: { 200: Type.Object({ items: Type.Array(Tenant) }), ...errorResponses } } }, async (request) => {
    requireAllowed(request, { op: 'tenants:list' }, '');
    return { items: (await store.listTenants()).map(renderTenant) };
  });

  app.get(
    '/tenants/:name',
    { schema: { tags, summary: 'Get a tenant', params: TenantNameParams, response: { 200: Tenant, ...errorResponses } } },
    async (request, reply) => {
      const { name } = request.params;
      requireAllowed(request, { op: 'tenant:read', tenant: name }, tenantNotFound(name));
      const tenant = await store.getTenant(name);
      if (!tenant) throw notFound(tenantNotFound(name));
      return reply.header('etag', etag(tenant.meta.resourceVersion)).send(renderTenant(tenant));
    },
  );

  app.patch(
    '/tenants/:name',
    {
      schema: {
        tags,
        summary: 'Change a tenant\'s zones, quotas or labels',
        params: TenantNameParams,
        headers: PreconditionHeaders,
        body: PatchTenantBody,
        response: { 200: Tenant, ...errorResponses, 412: ErrorBody },
      },
    },
    async (request, reply) => {
      const { name } = request.params;
      requireAllowed(request, { op: 'tenant:write', tenant: name }, tenantNotFound(name));
      const clientExpect = preconditionFrom(request.headers, undefined, 'exists');
      // Read, merge, compare-and-set; a concurrent writer makes us merge again.
      for (let attempt = 0; attempt < 8; attempt++) {
        const current = await store.getTenant(name);
        if (!current) throw notFound(tenantNotFound(name));
        const next = applyTenantPatch(current.spec, current.labels, request.body);
        const expect = clientExpect === 'exists' ? { resourceVersion: current.meta.resourceVersion } : clientExpect;
        const result = await store.putTenant(name, next.labels, next.spec, expect);
        if (result.status === 'precondition' && clientExpect === 'exists') continue;
        const tenant = expectWritten(result, name, request.body.zones);
        if (result.status !== 'unchanged') request.log.info({ tenant: name, zones: tenant.spec.zones }, 'tenant updated');
        return reply.header('etag', etag(tenant.meta.resourceVersion)).header(WRITE_RESULT_HEADER, result.status).send(renderTenant(tenant));
      }
      throw conflict(`tenant "${name}" kept changing; try again`);
    },
  );

  app.delete(
    '/tenants/:name',
    {
      schema: {
        tags,
        summary: 'Delete a tenant with its policies and tokens',
        params: TenantNameParams,
        headers: PreconditionHeaders,
        response: { 204: Type.Null(), ...errorResponses, 412: ErrorBody },
      },
    },
    async (request, reply) => {
      const { name } = request.params;
      requireAllowed(request, { op: 'tenant:write', tenant: name }, tenantNotFound(name));
      const result = await store.deleteTenant(name, preconditionFrom(request.headers, undefined, 'any'));
      if (result.status === 'not-found') throw notFound(tenantNotFound(name));
      if (result.status === 'precondition') throw preconditionFailed(`tenant "${name}" is at resourceVersion ${result.currentResourceVersion}`);
      if (result.status === 'exists') throw preconditionFailed(`tenant "${name}" exists (If-None-Match: *)`);
      request.log.info({ tenant: name }, 'tenant deleted with its policies and tokens');
      return reply.code(204).send(null);
    },
  );
};

/** Maps a tenant write that did not succeed to the API error that says why. */
function expectWritten(result: WriteResult<TenantRecord>, name: string, requestedZones: string[] = []): TenantRecord {
  switch (result.status) {
    case 'created':
    case 'updated':
    case 'unchanged':
      return result.value;
    case 'unknown-zone':
      // The store saw the zones sorted; point at the one the client sent.
      throw badRequest(`zone "${result.zone}" does not exist`, [
        { path: `/body/zones/${Math.max(0, requestedZones.indexOf(result.zone))}`, message: `zone "${result.zone}" does not exist` },
      ]);
    case 'trust-domain-taken':
      throw conflict(`trust domain is already used by tenant "${result.owner}"`, [{ path: '/body/trustDomain', message: 'already used by another tenant' }]);
    case 'not-found':
      throw notFound(tenantNotFound(name));
    case 'exists':
      throw preconditionFailed(`tenant "${name}" exists (If-None-Match: *)`);
    case 'precondition':
      throw preconditionFailed(`tenant "${name}" is at resourceVersion ${result.currentResourceVersion}`);
    default:
      throw new Error(`unexpected store result ${result.status} for tenant "${name}"`);
  }
}
