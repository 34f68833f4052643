import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Counter, Gauge, type Registry } from 'prom-client';
import { ApiError, badRequest, conflict, notFound } from '../../core/errors.js';
import { Dns1123Label, ErrorBody } from '../../core/schemas/common.js';
import { readCsr, signIntermediateUnder } from '../../core/pki/authority.js';
import { requireAllowed } from '../plugins/authentication.js';
import {
  activateRoot,
  addRoot,
  describeCa,
  expiryOf,
  retireRoot,
  serialOf,
  signerChain,
  statusOf,
  trustBundle,
  type CaChange,
  type CaKeeper,
} from '../ca/ca-keeper.js';
import type { TenantCa } from '../store/records.js';
import type { RedisStore } from '../store/redis-store.js';
import { TenantParams, errorResponses, tenantNotFound } from './common.js';

export interface PkiRoutesOptions {
  store: RedisStore;
  cas: CaKeeper;
  registry: Registry;
}

export const INTERMEDIATE_VALIDITY_DAYS = 30;

const TrustBundle = Type.Object({ trustDomain: Type.String(), roots: Type.Array(Type.String({ description: 'PEM' })) });

const CertificateView = Type.Object({
  serial: Type.String({ description: 'Hex, as the API names the CA in URLs.' }),
  subject: Type.String(),
  issuer: Type.String(),
  notBefore: Type.String(),
  notAfter: Type.String(),
  fingerprint: Type.String({ description: 'SHA-256 of the DER certificate, as openssl x509 -fingerprint -sha256 prints it.' }),
  certificate: Type.String({ description: 'PEM' }),
});

const RootView = Type.Composite([
  CertificateView,
  Type.Object({
    status: Type.Union([Type.Literal('active'), Type.Literal('staged'), Type.Literal('retiring')], {
      description: 'active: signs zone intermediates now. staged: in the trust bundle, not signing yet. retiring: signed before; stays in the bundle until retired.',
    }),
    active: Type.Boolean(),
    source: Type.Union([Type.Literal('generated'), Type.Literal('uploaded')]),
    createdAt: Type.String(),
    expiresAt: Type.String({ description: 'Earliest expiry from this certificate up to its root.' }),
    root: Type.Composite([CertificateView], { description: 'The self-signed root the trust bundle carries: this certificate, unless it is an uploaded intermediate.' }),
  }),
]);

const CaState = Type.Object({
  tenant: Type.String(),
  trustDomain: Type.String(),
  revision: Type.Integer({ description: 'Tenant revision after this state; zones report the revision they applied in their heartbeats.' }),
  roots: Type.Array(RootView, { description: 'The signer first.' }),
  trustBundle: Type.Array(Type.String({ description: 'PEM' })),
});

const RootParams = Type.Object({
  tenant: Dns1123Label('Tenant name.'),
  serial: Type.String({ pattern: '^[0-9a-fA-F]{1,64}$', description: 'Serial of the CA certificate (hex), as GET …/roots lists it.' }),
});

const AddRootBody = Type.Object(
  {
    activate: Type.Optional(Type.Boolean({ description: 'Make it the signer now (default). false: stage it (its root joins the trust bundle) and activate it later.' })),
    certificate: Type.Optional(Type.String({ maxLength: 65_536, description: 'Bring your own: PEM CA certificate (ECDSA P-256), a root or an intermediate.' })),
    privateKey: Type.Optional(Type.String({ maxLength: 16_384, description: 'Its key, PEM PKCS#8, unencrypted. Sealed at rest; never returned or logged.' })),
    chain: Type.Optional(
      Type.Array(Type.String({ maxLength: 65_536 }), { maxItems: 8, description: 'For an intermediate: PEM issuers, the issuer first, ending with the self-signed root.' }),
    ),
  },
  { additionalProperties: false },
);

const tags = ['pki'];
const REFUSALS: Record<Exclude<CaChange, { ok: true }>['reason'], [number, string]> = {
  'not-found': [404, 'NotFound'],
  active: [409, 'ActiveRoot'],
  last: [409, 'LastRoot'],
  exists: [409, 'RootExists'],
  'too-many': [409, 'TooManyRoots'],
  expiring: [409, 'RootExpiring'],
};

/** The tenant PKI at the global CP: trust bundles, root rotation, bring-your-own CAs, and zone intermediates signed from a CSR (the zone's key never leaves it). */
export const pkiRoutes: FastifyPluginAsyncTypebox<PkiRoutesOptions> = async (app, { store, cas, registry }) => {
  const issued = new Counter({ name: 'meshfed_pki_certificates_issued_total', help: 'Certificates signed by the global CP.', labelNames: ['kind'], registers: [registry] });
  new Gauge({
    name: 'meshfed_pki_root_expiry_seconds',
    help: 'Seconds until each of a tenant\'s signing CAs expires (the earliest expiry up to its root), by serial and state (active, staged, retiring).',
    labelNames: ['tenant', 'serial', 'state'],
    registers: [registry],
    async collect() {
      try {
        const values: Array<[{ tenant: string; serial: string; state: string }, number]> = [];
        for (const tenant of await store.listTenants()) {
          const ca = await store.getTenantCa(tenant.name);
          ca?.roots.forEach((root, i) => values.push([{ tenant: tenant.name, serial: serialOf(root), state: statusOf(ca, i) }, (expiryOf(root).getTime() - Date.now()) / 1000]));
        }
        this.reset();
        for (const [labels, value] of values) this.set(labels, value);
      } catch {
        // Store unreachable: /readyz reports it.
      }
    },
  });

  /** The tenant's CA and trust domain, or 404 for a tenant that does not exist. */
  async function load(tenant: string) {
    const [record, current] = await Promise.all([store.getTenant(tenant), store.readTenantCa(tenant)]);
    if (!record || !current) throw notFound(tenantNotFound(tenant));
    return { trustDomain: record.spec.trustDomain, ...current };
  }

  const stateOf = (tenant: string, trustDomain: string, ca: TenantCa, revision: number) => ({ tenant, trustDomain, revision, roots: describeCa(ca), trustBundle: trustBundle(ca) });

  /**
   * Applies a change decided from the CA as read, by compare-and-set: if
   * another write got in between, decide again from what it left. Each write
   * is one atomic step that also bumps the tenant revision for the zones.
   */
  async function changeCa(tenant: string, decide: (ca: TenantCa) => CaChange) {
    for (let attempt = 0; attempt < 8; attempt++) {
      const current = await load(tenant);
      const change = decide(current.ca);
      if (!change.ok) {
        const [status, error] = REFUSALS[change.reason];
        const path = change.reason === 'exists' || change.reason === 'too-many' ? '/body' : '/params/serial';
        throw new ApiError(status, error, change.message, [{ path, message: change.message }]);
      }
      if (!change.changed) return { ...current, changed: false };
      const result = await store.replaceTenantCa(tenant, current.raw, change.ca);
      if (result.status === 'tenant-not-found') throw notFound(tenantNotFound(tenant));
      if (result.status === 'updated') return { trustDomain: current.trustDomain, ca: change.ca, revision: result.revision, changed: true };
    }
    throw conflict(`the CA of tenant "${tenant}" kept changing; try again`);
  }

  app.get(
    '/tenants/:tenant/trust-bundle',
    { schema: { tags, summary: 'The root certificates a tenant\'s workloads trust', params: TenantParams, response: { 200: TrustBundle, ...errorResponses } } },
    async (request) => {
      const { tenant } = request.params;
      requireAllowed(request, { op: 'tenant:read', tenant }, tenantNotFound(tenant));
      const { trustDomain, ca } = await load(tenant);
      return { trustDomain, roots: trustBundle(ca) };
    },
  );

  app.get(
    '/tenants/:tenant/roots',
    { schema: { tags, summary: 'A tenant\'s signing CAs (roots) and their state; never keys', params: TenantParams, response: { 200: CaState, ...errorResponses } } },
    async (request) => {
      const { tenant } = request.params;
      requireAllowed(request, { op: 'tenant:read', tenant }, tenantNotFound(tenant));
      const { trustDomain, ca, revision } = await load(tenant);
      return stateOf(tenant, trustDomain, ca, revision);
    },
  );

  app.post(
    '/tenants/:tenant/roots',
    {
      schema: {
        tags,
        summary: 'Add a root CA (admin): a new generated one with {}, or your own root or intermediate with {certificate, privateKey, chain?}',
        description:
          'The new CA becomes the signer of zone intermediates unless activate is false; the previous one keeps its root in the trust bundle ' +
          '(status retiring) until it is retired with DELETE. Intermediates of zones renewed from then on chain to the new root.',
        params: TenantParams,
        body: AddRootBody,
        response: { 201: CaState, ...errorResponses, 409: ErrorBody },
      },
    },
    async (request, reply) => {
      const { tenant } = request.params;
      requireAllowed(request, { op: 'tenant:write', tenant }, tenantNotFound(tenant));
      const { activate = true, certificate, privateKey, chain } = request.body;
      const { trustDomain } = await load(tenant);
      let root;
      if (certificate !== undefined || privateKey !== undefined || chain !== undefined) {
        if (certificate === undefined) throw badRequest('/body/certificate: is required with privateKey or chain', [{ path: '/body/certificate', message: 'is required with privateKey or chain' }]);
        if (privateKey === undefined) throw badRequest('/body/privateKey: is required with certificate', [{ path: '/body/privateKey', message: 'is required with certificate' }]);
        root = await cas.uploadedRoot(tenant, trustDomain, { certificate, privateKey, ...(chain ? { chain } : {}) });
      } else {
        root = await cas.generatedRoot(tenant, trustDomain);
      }
      const result = await changeCa(tenant, (ca) => addRoot(ca, root, activate));
      request.log.info({ tenant, serial: serialOf(root), source: root.source, activate, revision: result.revision }, activate ? 'root CA added as the signer' : 'root CA staged');
      return reply.code(201).send(stateOf(tenant, result.trustDomain, result.ca, result.revision));
    },
  );

  app.post(
    '/tenants/:tenant/roots/:serial/activate',
    {
      schema: {
        tags,
        summary: 'Make a staged (or retiring) root the signer (admin)',
        description: 'Activate a staged root once every zone has applied the revision that staged it, so every workload trusts it before anything is signed under it.',
        params: RootParams,
        response: { 200: CaState, ...errorResponses, 409: ErrorBody },
      },
    },
    async (request) => {
      const { tenant, serial } = request.params;
      requireAllowed(request, { op: 'tenant:write', tenant }, tenantNotFound(tenant));
      const result = await changeCa(tenant, (ca) => activateRoot(ca, serial));
      if (result.changed) request.log.info({ tenant, serial, revision: result.revision }, 'root CA activated');
      return stateOf(tenant, result.trustDomain, result.ca, result.revision);
    },
  );

  app.delete(
    '/tenants/:tenant/roots/:serial',
    {
      schema: {
        tags,
        summary: 'Retire a root that no longer signs: drop it from the trust bundle (admin)',
        description: 'Refused (409) for the active signer and for the last root. Certificates issued under the retired root stop verifying once workloads get the new bundle.',
        params: RootParams,
        response: { 200: CaState, ...errorResponses, 409: ErrorBody },
      },
    },
    async (request) => {
      const { tenant, serial } = request.params;
      requireAllowed(request, { op: 'tenant:write', tenant }, tenantNotFound(tenant));
      const result = await changeCa(tenant, (ca) => retireRoot(ca, serial));
      cas.forget(tenant, serial.toLowerCase());
      request.log.info({ tenant, serial, revision: result.revision }, 'root CA retired');
      return stateOf(tenant, result.trustDomain, result.ca, result.revision);
    },
  );

  app.get(
    '/zones/:name/trust-bundles/:tenant',
    {
      schema: {
        tags,
        summary: 'The trust bundle of a tenant placed in the zone, and which CA signs now (zone token)',
        description: 'A zone CP reads this when the tenant revision changes: new roots go to its proxies; a new signer means its intermediate should be renewed.',
        params: Type.Object({ name: Dns1123Label('Zone name.'), tenant: Dns1123Label('Tenant name.') }),
        response: {
          200: Type.Object({
            trustDomain: Type.String(),
            roots: Type.Array(Type.String({ description: 'PEM' })),
            signer: Type.Object({ serial: Type.String(), fingerprint: Type.String(), rootFingerprint: Type.String() }),
            revision: Type.Integer(),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const { name: zone, tenant } = request.params;
      requireAllowed(request, { op: 'zone:sync', zone }, `zone "${zone}" not found`);
      const hidden = `tenant "${tenant}" is not placed in zone "${zone}"`;
      if (!(await store.zoneTenants(zone)).includes(tenant)) throw notFound(hidden);
      const [record, current] = await Promise.all([store.getTenant(tenant), store.readTenantCa(tenant)]);
      if (!record || !current) throw notFound(hidden);
      const signer = describeCa(current.ca)[0]!;
      return {
        trustDomain: record.spec.trustDomain,
        roots: trustBundle(current.ca),
        signer: { serial: signer.serial, fingerprint: signer.fingerprint, rootFingerprint: signer.root.fingerprint },
        revision: current.revision,
      };
    },
  );

  app.post(
    '/zones/:name/intermediates/:tenant',
    {
      schema: {
        tags,
        summary: 'Sign a zone\'s intermediate CA for a tenant placed in it (zone token)',
        params: Type.Object({ name: Dns1123Label('Zone name.'), tenant: Dns1123Label('Tenant name.') }),
        body: Type.Object({ csr: Type.String({ maxLength: 16_384, description: 'PEM PKCS#10 request for the zone\'s own ECDSA P-256 key.' }) }, { additionalProperties: false }),
        response: {
          200: Type.Object({
            certificate: Type.String(),
            chain: Type.Array(Type.String(), { description: 'The signing CA and its issuers up to its root (the root is also in trustBundle).' }),
            trustBundle: TrustBundle,
            expiresAt: Type.String(),
          }),
          ...errorResponses,
          409: ErrorBody,
        },
      },
    },
    async (request) => {
      const { name: zone, tenant } = request.params;
      requireAllowed(request, { op: 'zone:sync', zone }, `zone "${zone}" not found`);
      // A zone signs only for tenants placed in it; anything else is as if it did not exist.
      if (!(await store.zoneTenants(zone)).includes(tenant)) throw notFound(`tenant "${tenant}" is not placed in zone "${zone}"`);
      const [record, ca] = await Promise.all([store.getTenant(tenant), store.getTenantCa(tenant)]);
      if (!record || !ca) throw notFound(`tenant "${tenant}" is not placed in zone "${zone}"`);
      let csr;
      try {
        csr = await readCsr(request.body.csr);
      } catch (error) {
        throw badRequest(`csr: ${(error as Error).message}`, [{ path: '/body/csr', message: (error as Error).message }]);
      }
      const signer = await cas.signer(tenant, ca);
      const certificate = await signIntermediateUnder(signer, csr, {
        tenant,
        zone,
        trustDomain: record.spec.trustDomain,
        validityDays: INTERMEDIATE_VALIDITY_DAYS,
        notAfterLimit: expiryOf(ca.roots[0]!),
      });
      issued.inc({ kind: 'intermediate' });
      request.log.info({ zone, tenant, serial: certificate.serialNumber, issuer: signer.certificate.serialNumber, notAfter: certificate.notAfter }, 'signed zone intermediate');
      return {
        certificate: certificate.toString('pem'),
        chain: signerChain(ca),
        trustBundle: { trustDomain: record.spec.trustDomain, roots: trustBundle(ca) },
        expiresAt: certificate.notAfter.toISOString(),
      };
    },
  );
};
