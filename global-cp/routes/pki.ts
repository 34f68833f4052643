import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Counter, Gauge, type Registry } from 'prom-client';
import { badRequest, notFound } from '../../core/errors.js';
import { Dns1123Label, ErrorBody } from '../../core/schemas/common.js';
import { readCsr, signIntermediate } from '../../core/pki/authority.js';
import { x509 } from '../../core/pki/crypto.js';
import { requireAllowed } from '../plugins/authentication.js';
import { trustBundle, type CaKeeper } from '../ca/ca-keeper.js';
import type { RedisStore } from '../store/redis-store.js';
import { TenantParams, errorResponses, tenantNotFound } from './common.js';

export interface PkiRoutesOptions {
  store: RedisStore;
  cas: CaKeeper;
  registry: Registry;
}

export const INTERMEDIATE_VALIDITY_DAYS = 30;

const TrustBundle = Type.Object({ trustDomain: Type.String(), roots: Type.Array(Type.String({ description: 'PEM' })) });

/** The tenant PKI at the global CP: trust bundles, and zone intermediates signed from a CSR (the zone's key never leaves it). */
export const pkiRoutes: FastifyPluginAsyncTypebox<PkiRoutesOptions> = async (app, { store, cas, registry }) => {
  const issued = new Counter({ name: 'meshfed_pki_certificates_issued_total', help: 'Certificates signed by the global CP.', labelNames: ['kind'], registers: [registry] });
  new Gauge({
    name: 'meshfed_pki_root_expiry_seconds',
    help: 'Seconds until the tenant\'s newest root CA expires.',
    labelNames: ['tenant'],
    registers: [registry],
    async collect() {
      try {
        this.reset();
        for (const tenant of await store.listTenants()) {
          const root = (await store.getTenantCa(tenant.name))?.roots[0];
          if (root) this.set({ tenant: tenant.name }, (new x509.X509Certificate(root.certificatePem).notAfter.getTime() - Date.now()) / 1000);
        }
      } catch {
        // Store unreachable: /readyz reports it.
      }
    },
  });

  app.get(
    '/tenants/:tenant/trust-bundle',
    { schema: { tags: ['pki'], summary: 'The root certificates a tenant\'s workloads trust', params: TenantParams, response: { 200: TrustBundle, ...errorResponses } } },
    async (request) => {
      const { tenant } = request.params;
      requireAllowed(request, { op: 'tenant:read', tenant }, tenantNotFound(tenant));
      const [record, ca] = await Promise.all([store.getTenant(tenant), store.getTenantCa(tenant)]);
      if (!record || !ca) throw notFound(tenantNotFound(tenant));
      return { trustDomain: record.spec.trustDomain, roots: trustBundle(ca) };
    },
  );

  app.post(
    '/zones/:name/intermediates/:tenant',
    {
      schema: {
        tags: ['pki'],
        summary: 'Sign a zone\'s intermediate CA for a tenant placed in it (zone token)',
        params: Type.Object({ name: Dns1123Label('Zone name.'), tenant: Dns1123Label('Tenant name.') }),
        body: Type.Object({ csr: Type.String({ maxLength: 16_384, description: 'PEM PKCS#10 request for the zone\'s own ECDSA P-256 key.' }) }, { additionalProperties: false }),
        response: {
          200: Type.Object({ certificate: Type.String(), chain: Type.Array(Type.String()), trustBundle: TrustBundle, expiresAt: Type.String() }),
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
      const certificate = await signIntermediate(signer, csr, { tenant, zone, trustDomain: record.spec.trustDomain, validityDays: INTERMEDIATE_VALIDITY_DAYS });
      issued.inc({ kind: 'intermediate' });
      request.log.info({ zone, tenant, serial: certificate.serialNumber, notAfter: certificate.notAfter }, 'signed zone intermediate');
      return {
        certificate: certificate.toString('pem'),
        chain: [signer.certificate.toString('pem')],
        trustBundle: { trustDomain: record.spec.trustDomain, roots: trustBundle(ca) },
        expiresAt: certificate.notAfter.toISOString(),
      };
    },
  );
};
