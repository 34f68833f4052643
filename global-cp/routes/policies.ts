import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { badRequest, notFound, preconditionFailed, quotaExceeded, type ErrorDetail } from '../../core/errors.js';
import { matchesLabels, parseLabelSelector } from '../../core/label-selector.js';
import { Dns1123Label, ErrorBody } from '../../core/schemas/common.js';
import {
  POLICY_KIND_NAMES,
  PolicyDocument,
  checkPolicySemantics,
  isPolicyKind,
  policyInputSchema,
  type PolicyKind,
} from '../../core/schemas/policies/index.js';
import { requireAllowed } from '../plugins/authentication.js';
import { WRITE_RESULT_HEADER, etag, preconditionFrom } from '../resources/preconditions.js';
import { renderPolicy } from '../resources/render.js';
import type { RedisStore } from '../store/redis-store.js';
import { PreconditionHeaders, errorResponses, tenantNotFound } from './common.js';

const tags = ['policies'];
const policyNotFound = (tenant: string, kind: string, name: string) => `${kind} "${name}" not found in tenant "${tenant}"`;

const PolicyParams = Type.Object({ tenant: Dns1123Label('Tenant name.'), kind: Type.String({ maxLength: 64 }), name: Dns1123Label('Policy name.') });
const NamedPolicyParams = Type.Object({ tenant: Dns1123Label('Tenant name.'), name: Dns1123Label('Policy name.') });

function requireKind(kind: string): PolicyKind {
  if (!isPolicyKind(kind)) {
    throw badRequest(`unknown policy kind "${kind}"; one of ${POLICY_KIND_NAMES.join(', ')}`, [
      { path: '/params/kind', message: `must be one of ${POLICY_KIND_NAMES.join(', ')}` },
    ]);
  }
  return kind;
}

/** Body fields that must agree with the URL: the URL names the resource, the body may repeat it. */
function mismatches(body: { kind?: string; metadata?: { name?: string; tenant?: string } }, kind: string, tenant: string, name: string): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  if (body.metadata?.name !== undefined && body.metadata.name !== name) details.push({ path: '/body/metadata/name', message: `must match the URL ("${name}")` });
  if (body.metadata?.tenant !== undefined && body.metadata.tenant !== tenant) details.push({ path: '/body/metadata/tenant', message: `must match the URL ("${tenant}")` });
  if (body.kind !== undefined && body.kind !== kind) details.push({ path: '/body/kind', message: `must match the URL ("${kind}")` });
  return details;
}

/** Tenant-scoped policies: viewers read, editors and admins write. */
export const policyRoutes: FastifyPluginAsyncTypebox<{ store: RedisStore }> = async (app, { store }) => {
  for (const kind of POLICY_KIND_NAMES) {
    app.put(
      `/tenants/:tenant/policies/${kind}/:name`,
      {
        schema: {
          tags,
          summary: `Create or update a ${kind}`,
          params: NamedPolicyParams,
          headers: PreconditionHeaders,
          body: policyInputSchema(kind),
          response: { 200: PolicyDocument, 201: PolicyDocument, ...errorResponses, 412: ErrorBody },
        },
      },
      async (request, reply) => {
        const { tenant, name } = request.params;
        requireAllowed(request, { op: 'policies:write', tenant }, tenantNotFound(tenant));
        const body = request.body as { kind?: string; metadata?: { name?: string; tenant?: string; labels?: Record<string, string>; resourceVersion?: string }; spec: Record<string, unknown> };
        const wrong = mismatches(body, kind, tenant, name);
        if (wrong.length) throw badRequest(`${wrong[0]!.path}: ${wrong[0]!.message}`, wrong);

        const [owner, zones] = await Promise.all([store.getTenant(tenant), store.listZones()]);
        if (!owner) throw notFound(tenantNotFound(tenant));
        const issues = checkPolicySemantics(kind, body.spec, {
          tenant,
          trustDomain: owner.spec.trustDomain,
          knownRegions: new Set(zones.map((z) => z.spec.region)),
        }).map((i) => ({ path: `/body${i.path}`, message: i.message }));
        if (issues.length) throw badRequest(`${issues[0]!.path}: ${issues[0]!.message}`, issues);

        const expect = preconditionFrom(request.headers, body.metadata?.resourceVersion, 'any');
        const result = await store.putPolicy(tenant, kind, name, body.metadata?.labels ?? {}, body.spec, expect);
        switch (result.status) {
          case 'created':
          case 'updated':
          case 'unchanged':
            if (result.status !== 'unchanged') request.log.info({ tenant, kind, name, resourceVersion: result.value.meta.resourceVersion }, `policy ${result.status}`);
            return reply
              .code(result.status === 'created' ? 201 : 200)
              .header('etag', etag(result.value.meta.resourceVersion))
              .header(WRITE_RESULT_HEADER, result.status)
              .send(renderPolicy(result.value));
          case 'tenant-not-found':
            throw notFound(tenantNotFound(tenant));
          case 'quota':
            throw quotaExceeded(`tenant "${tenant}" already has ${result.limit} policies (quota maxPolicies)`);
          case 'precondition':
            throw preconditionFailed(`${kind} "${name}" is at resourceVersion ${result.currentResourceVersion}`);
          case 'not-found':
            throw preconditionFailed(`${kind} "${name}" does not exist`);
          case 'exists':
            throw preconditionFailed(`${kind} "${name}" already exists`);
          default:
            throw new Error(`unexpected store result ${result.status}`);
        }
      },
    );
  }

  // Any other kind in a PUT path: say which kinds exist instead of a bare 404.
  app.put('/tenants/:tenant/policies/:kind/:name', { schema: { hide: true, params: PolicyParams } }, async (request) => {
    requireAllowed(request, { op: 'policies:write', tenant: request.params.tenant }, tenantNotFound(request.params.tenant));
    requireKind(request.params.kind);
    throw new Error('unreachable: known kinds have their own routes');
  });

  app.get(
    '/tenants/:tenant/policies/:kind/:name',
    { schema: { tags, summary: 'Get a policy', params: PolicyParams, response: { 200: PolicyDocument, ...errorResponses } } },
    async (request, reply) => {
      const { tenant, name } = request.params;
      requireAllowed(request, { op: 'policies:read', tenant }, tenantNotFound(tenant));
      const kind = requireKind(request.params.kind);
      const policy = await store.getPolicy(tenant, kind, name);
      if (!policy) {
        await requireTenant(store, tenant);
        throw notFound(policyNotFound(tenant, kind, name));
      }
      return reply.header('etag', etag(policy.meta.resourceVersion)).send(renderPolicy(policy));
    },
  );

  app.get(
    '/tenants/:tenant/policies',
    {
      schema: {
        tags,
        summary: 'List a tenant\'s policies',
        params: Type.Object({ tenant: Dns1123Label('Tenant name.') }),
        querystring: Type.Object(
          {
            kind: Type.Optional(Type.String({ maxLength: 64, description: 'Only this kind.' })),
            labelSelector: Type.Optional(Type.String({ maxLength: 4096, description: 'Kubernetes label selector, e.g. app=web,tier in (a,b).' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(PolicyDocument) }), ...errorResponses },
      },
    },
    async (request) => {
      const { tenant } = request.params;
      requireAllowed(request, { op: 'policies:read', tenant }, tenantNotFound(tenant));
      const kind = request.query.kind === undefined ? undefined : requireKindInQuery(request.query.kind);
      const selector = parseLabelSelector(request.query.labelSelector ?? '');
      if ('error' in selector && request.query.labelSelector) {
        throw badRequest(`labelSelector: ${selector.error}`, [{ path: '/querystring/labelSelector', message: selector.error }]);
      }
      await requireTenant(store, tenant);
      const requirements = Array.isArray(selector) && request.query.labelSelector ? selector : [];
      const items = (await store.listPolicies(tenant, kind)).filter((p) => matchesLabels(requirements, p.labels));
      return { items: items.map(renderPolicy) };
    },
  );

  app.delete(
    '/tenants/:tenant/policies/:kind/:name',
    { schema: { tags, summary: 'Delete a policy', params: PolicyParams, headers: PreconditionHeaders, response: { 204: Type.Null(), ...errorResponses, 412: ErrorBody } } },
    async (request: FastifyRequest<{ Params: { tenant: string; kind: string; name: string } }>, reply) => {
      const { tenant, name } = request.params;
      requireAllowed(request, { op: 'policies:write', tenant }, tenantNotFound(tenant));
      const kind = requireKind(request.params.kind);
      const result = await store.deletePolicy(tenant, kind, name, preconditionFrom(request.headers, undefined, 'any'));
      if (result.status === 'tenant-not-found') throw notFound(tenantNotFound(tenant));
      if (result.status === 'not-found') throw notFound(policyNotFound(tenant, kind, name));
      if (result.status === 'precondition') throw preconditionFailed(`${kind} "${name}" is at resourceVersion ${result.currentResourceVersion}`);
      if (result.status === 'exists') throw preconditionFailed(`${kind} "${name}" exists (If-None-Match: *)`);
      request.log.info({ tenant, kind, name }, 'policy deleted');
      return reply.code(204).send(null);
    },
  );
};

function requireKindInQuery(kind: string): PolicyKind {
  if (!isPolicyKind(kind)) {
    throw badRequest(`unknown policy kind "${kind}"`, [{ path: '/querystring/kind', message: `must be one of ${POLICY_KIND_NAMES.join(', ')}` }]);
  }
  return kind;
}

async function requireTenant(store: RedisStore, tenant: string): Promise<void> {
  if (!(await store.getTenant(tenant))) throw notFound(tenantNotFound(tenant));
}
