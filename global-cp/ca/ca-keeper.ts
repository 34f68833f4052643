import { createRootCa, type SigningIdentity } from '../../core/pki/authority.js';
import { exportPrivateKeyPem, importPrivateKeyPem, x509 } from '../../core/pki/crypto.js';
import { open, seal } from '../../core/pki/secret-box.js';
import type { TenantCa } from '../store/records.js';

/**
 * Makes tenant CAs and opens their keys for signing. Keys exist in the clear
 * only in memory; in Redis they are sealed with the master key, bound to
 * their tenant and certificate serial.
 */
export class CaKeeper {
  private readonly opened = new Map<string, SigningIdentity>();

  constructor(private readonly masterKey: Buffer) {}

  async newTenantCa(tenant: string, trustDomain: string): Promise<TenantCa> {
    const root = await createRootCa({ tenant, trustDomain });
    const keyPem = await exportPrivateKeyPem(root.privateKey);
    return {
      roots: [
        {
          certificatePem: root.certificate.toString('pem'),
          sealedKey: seal(this.masterKey, keyPem, sealContext(tenant, root.certificate.serialNumber)),
          createdAt: new Date().toISOString(),
        },
      ],
    };
  }

  /** The identity that signs for the tenant now: its newest root. */
  async signer(tenant: string, ca: TenantCa): Promise<SigningIdentity> {
    const root = ca.roots[0];
    if (!root) throw new Error(`tenant "${tenant}" has no root CA`);
    const certificate = new x509.X509Certificate(root.certificatePem);
    const cacheKey = `${tenant}/${certificate.serialNumber}`;
    let identity = this.opened.get(cacheKey);
    if (!identity) {
      const keyPem = open(this.masterKey, root.sealedKey, sealContext(tenant, certificate.serialNumber));
      identity = { certificate, privateKey: await importPrivateKeyPem(keyPem) };
      this.opened.set(cacheKey, identity);
    }
    return identity;
  }
}

/** Every root a workload of the tenant must trust (more than one while a root rotates). */
export function trustBundle(ca: TenantCa): string[] {
  return ca.roots.map((r) => r.certificatePem);
}

const sealContext = (tenant: string, serial: string) => `meshfed/tenant/${tenant}/root/${serial}`;
