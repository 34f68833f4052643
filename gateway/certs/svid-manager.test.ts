import { describe, expect, it } from 'vitest';
import { createCsr, createRootCa, signSvid } from '../../core/pki/authority.js';
import { generateKeyPair } from '../../core/pki/crypto.js';
import type { SignedCertificate } from './certificate-client.js';
import { issuedSvidProblem, renewDelayMs } from './svid-manager.js';

describe('renewDelayMs', () => {
  const at = (ms: number) => new Date(ms);
  it('renews at renew_after', () => {
    expect(renewDelayMs({ renewAfter: at(1_000 + 43_200_000), expiresAt: at(1_000 + 86_400_000) }, 1_000)).toBe(43_200_000);
  });
  it('renews at half of what is left when renew_after has passed already (short lifetimes, backdated notBefore)', () => {
    expect(renewDelayMs({ renewAfter: at(0), expiresAt: at(10_000) }, 2_000)).toBe(4_000);
    expect(renewDelayMs({ renewAfter: at(0), expiresAt: at(10_000) }, 10_000)).toBe(0);
    expect(renewDelayMs({ renewAfter: at(0), expiresAt: at(10_000) }, 20_000)).toBe(0);
  });
  it("never asks for a timer longer than Node's longest", () => {
    expect(renewDelayMs({ renewAfter: at(100 * 86_400_000), expiresAt: at(200 * 86_400_000) }, 0)).toBe(2 ** 31 - 1);
  });
});

describe('issuedSvidProblem', () => {
  const ID = 'spiffe://acme.mesh/ns/shop/sa/web';
  const issue = async (spiffeId: string, ttlMs = 3_600_000) => {
    const ca = await createRootCa({ tenant: 'acme', trustDomain: 'acme.mesh' });
    const keys = await generateKeyPair();
    const svid = await signSvid(ca, await createCsr(keys, 'O=acme.mesh', spiffeId), { spiffeId, trustDomain: 'acme.mesh', ttlMs });
    const signed: SignedCertificate = { certChainPem: [svid.toString('pem')], trustBundlePem: [ca.certificate.toString('pem')], spiffeId, expiresAt: svid.notAfter, renewAfter: svid.notAfter };
    return { keys, signed };
  };

  it('accepts an SVID for our key and exactly the ID asked for', async () => {
    const { keys, signed } = await issue(ID);
    expect(await issuedSvidProblem(signed, { spiffeId: ID, publicKey: keys.publicKey, nowMs: Date.now() })).toBeUndefined();
  });

  it('refuses one for another key, another ID, or already expired', async () => {
    const { keys, signed } = await issue(ID);
    const other = await generateKeyPair();
    expect(await issuedSvidProblem(signed, { spiffeId: ID, publicKey: other.publicKey, nowMs: Date.now() })).toMatch(/does not certify the key/);
    expect(await issuedSvidProblem(signed, { spiffeId: 'spiffe://acme.mesh/ns/shop/sa/api', publicKey: keys.publicKey, nowMs: Date.now() })).toMatch(/is for spiffe:\/\/acme.mesh\/ns\/shop\/sa\/web/);
    expect(await issuedSvidProblem(signed, { spiffeId: ID, publicKey: keys.publicKey, nowMs: Date.now() + 7_200_000 })).toMatch(/expired/);
    expect(await issuedSvidProblem({ ...signed, certChainPem: ['garbage'] }, { spiffeId: ID, publicKey: keys.publicKey, nowMs: Date.now() })).toMatch(/cannot be parsed/);
  });
});
