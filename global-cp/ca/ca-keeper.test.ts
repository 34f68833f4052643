import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCsr, createRootCaNamed, readCsr, signIntermediateUnder } from '../../core/pki/authority.js';
import { generateKeyPair } from '../../core/pki/crypto.js';
import type { TenantCa, TenantCaRoot } from '../store/records.js';
import { CaKeeper, MAX_ROOTS, activateRoot, addRoot, describeCa, retireRoot, serialOf, signerChain, trustBundle, type CaChange } from './ca-keeper.js';

async function entry(name: string, validityDays = 3650): Promise<TenantCaRoot> {
  const root = await createRootCaNamed({ name: `CN=${name}`, trustDomain: 'acme.mesh', validityDays });
  return { certificatePem: root.certificate.toString('pem'), sealedKey: 'sealed', createdAt: '2026-01-01T00:00:00.000Z', source: 'generated' };
}

function ok(change: CaChange): TenantCa {
  if (!change.ok) throw new Error(change.message);
  return change.ca;
}

const serials = (ca: TenantCa) => ca.roots.map(serialOf);

describe('tenant CA changes (pure)', () => {
  it('adds a root as the signer, or staged behind it', async () => {
    const [a, b, c] = await Promise.all([entry('a'), entry('b'), entry('c')]);
    const one: TenantCa = { roots: [a] };
    const rotated = ok(addRoot(one, b, true));
    expect(serials(rotated)).toEqual([serialOf(b), serialOf(a)]);
    expect(describeCa(rotated).map((r) => r.status)).toEqual(['active', 'retiring']);
    const staged = ok(addRoot(rotated, c, false));
    expect(serials(staged)).toEqual([serialOf(b), serialOf(c), serialOf(a)]);
    expect(describeCa(staged).map((r) => r.status)).toEqual(['active', 'staged', 'retiring']);
    expect(staged.roots[1]!.staged).toBe(true);
    // The input is never modified.
    expect(serials(one)).toEqual([serialOf(a)]);
  });

  it('refuses a CA already present and more than MAX_ROOTS', async () => {
    const a = await entry('a');
    expect(addRoot({ roots: [a] }, a, true)).toMatchObject({ ok: false, reason: 'exists' });
    const many = await Promise.all(Array.from({ length: MAX_ROOTS }, (_, i) => entry(`r${i}`)));
    expect(addRoot({ roots: many }, await entry('one too many'), true)).toMatchObject({ ok: false, reason: 'too-many' });
  });

  it('activates a staged or retiring root, and refuses one about to expire', async () => {
    const [a, b, soon] = await Promise.all([entry('a'), entry('b'), entry('soon', 10)]);
    const staged = ok(addRoot({ roots: [a] }, b, false));
    const activated = activateRoot(staged, serialOf(b).toUpperCase());
    expect(activated).toMatchObject({ ok: true, changed: true });
    const ca = ok(activated);
    expect(serials(ca)).toEqual([serialOf(b), serialOf(a)]);
    expect(ca.roots[0]).not.toHaveProperty('staged');
    expect(activateRoot(ca, serialOf(b))).toMatchObject({ ok: true, changed: false });
    expect(serials(ok(activateRoot(ca, serialOf(a))))).toEqual([serialOf(a), serialOf(b)]);
    expect(activateRoot(ca, 'abcdef')).toMatchObject({ ok: false, reason: 'not-found' });
    const withSoon = ok(addRoot(ca, soon, false));
    expect(activateRoot(withSoon, serialOf(soon))).toMatchObject({ ok: false, reason: 'expiring' });
  });

  it('retires any root but the signer and the last', async () => {
    const [a, b] = await Promise.all([entry('a'), entry('b')]);
    expect(retireRoot({ roots: [a] }, serialOf(a))).toMatchObject({ ok: false, reason: 'last' });
    const two = ok(addRoot({ roots: [a] }, b, true));
    expect(retireRoot(two, serialOf(b))).toMatchObject({ ok: false, reason: 'active' });
    expect(retireRoot(two, 'abcdef')).toMatchObject({ ok: false, reason: 'not-found' });
    expect(serials(ok(retireRoot(two, serialOf(a))))).toEqual([serialOf(b)]);
  });

  it('puts each root into the bundle once, the signer\'s first, and gives zones the signer\'s chain', async () => {
    const root = await createRootCaNamed({ name: 'CN=external root', trustDomain: 'acme.mesh' });
    // Two uploaded intermediates under one external root: the root is trusted once.
    const issuing = async (name: string): Promise<TenantCaRoot> => {
      const keys = await generateKeyPair();
      const cert = await signIntermediateUnder(root, await readCsr((await createCsr(keys, `CN=${name}`)).toString('pem')), { tenant: 'acme', zone: name, trustDomain: 'acme.mesh' });
      return { certificatePem: cert.toString('pem'), sealedKey: 'sealed', createdAt: '', chainPem: [root.certificate.toString('pem')], source: 'uploaded' };
    };
    const [i1, i2, generated] = await Promise.all([issuing('i1'), issuing('i2'), entry('generated')]);
    const ca: TenantCa = { roots: [i1, generated, i2] };
    expect(trustBundle(ca)).toEqual([root.certificate.toString('pem'), generated.certificatePem]);
    expect(signerChain(ca)).toEqual([i1.certificatePem, root.certificate.toString('pem')]);
    const views = describeCa(ca);
    expect(views[0]!.root.serial).toBe(root.certificate.serialNumber);
    expect(views[0]!.serial).toBe(serialOf(i1));
    expect(views[1]!.root.serial).toBe(views[1]!.serial);
  });
});

describe('CaKeeper', () => {
  it('seals a generated rotation root under a name of its own, and opens it to sign', async () => {
    const keeper = new CaKeeper(randomBytes(32));
    const first = await keeper.newTenantCa('acme', 'acme.mesh');
    const next = await keeper.generatedRoot('acme', 'acme.mesh');
    expect(next.sealedKey).not.toContain('PRIVATE KEY');
    const ca = ok(addRoot(first, next, true));
    const [a, b] = describeCa(ca);
    expect(a!.subject).toMatch(/^CN=meshfed acme root CA \d{4}-\d{2}-\d{2} [0-9a-f]{4}, O=acme\.mesh$/);
    expect(a!.subject).not.toBe(b!.subject);
    const signer = await keeper.signer('acme', ca);
    expect(signer.certificate.serialNumber).toBe(serialOf(next));
    // Bound to its tenant: the same sealed key does not open for another.
    await expect(keeper.signer('globex', ca)).rejects.toThrow(/does not open/);
  });
});
