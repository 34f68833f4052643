import { createPrivateKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../core/errors.js';
import { SIGNING_ALGORITHM, exportPrivateKeyPem, generateKeyPair, randomSerial, x509, type CryptoKeyPair } from '../../core/pki/crypto.js';
import { validateCaUpload } from './upload.js';

const DAY = 86_400_000;

interface Made {
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
  pem: string;
  keyPem: string;
}

interface Options {
  name?: string;
  issuer?: Made;
  bc?: 'critical' | 'non-critical' | 'none';
  pathLength?: number;
  keyUsage?: number | null;
  ski?: boolean;
  aki?: boolean;
  eku?: string[];
  extra?: x509.Extension[];
  notBefore?: Date;
  notAfter?: Date;
}

/** A CA certificate with exactly the extensions asked for, to exercise one rule at a time. */
async function makeCa(o: Options = {}): Promise<Made> {
  const keys = await generateKeyPair();
  const name = o.name ?? `CN=${randomSerial()}`;
  const extensions: x509.Extension[] = [];
  if (o.bc !== 'none') extensions.push(new x509.BasicConstraintsExtension(true, o.pathLength, o.bc !== 'non-critical'));
  if (o.keyUsage !== null) extensions.push(new x509.KeyUsagesExtension(o.keyUsage ?? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true));
  if (o.ski !== false) extensions.push(await x509.SubjectKeyIdentifierExtension.create(keys.publicKey));
  if (o.issuer && o.aki !== false) extensions.push(await x509.AuthorityKeyIdentifierExtension.create(o.issuer.cert));
  if (o.eku) extensions.push(new x509.ExtendedKeyUsageExtension(o.eku));
  extensions.push(...(o.extra ?? []));
  const validity = { notBefore: o.notBefore ?? new Date(Date.now() - DAY), notAfter: o.notAfter ?? new Date(Date.now() + 365 * DAY) };
  const cert = o.issuer
    ? await x509.X509CertificateGenerator.create({
        serialNumber: randomSerial(),
        subject: name,
        issuer: o.issuer.cert.subjectName,
        publicKey: keys.publicKey,
        signingKey: o.issuer.keys.privateKey,
        signingAlgorithm: SIGNING_ALGORITHM,
        extensions,
        ...validity,
      })
    : await x509.X509CertificateGenerator.createSelfSigned({ serialNumber: randomSerial(), name, keys, signingAlgorithm: SIGNING_ALGORITHM, extensions, ...validity });
  return { cert, keys, pem: cert.toString('pem'), keyPem: await exportPrivateKeyPem(keys.privateKey) };
}

/** The field and message of the 400 an upload gets, or "ok". */
async function outcome(certificate: Made | string, privateKey: string, chain?: Array<Made | string>): Promise<string> {
  const pem = (m: Made | string) => (typeof m === 'string' ? m : m.pem);
  try {
    await validateCaUpload({ certificate: pem(certificate), privateKey, ...(chain ? { chain: chain.map(pem) } : {}) }, { tenant: 'acme', trustDomain: 'acme.mesh' });
    return 'ok';
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    expect(error.statusCode).toBe(400);
    return `${error.details[0]!.path}: ${error.details[0]!.message}`;
  }
}

describe('validating an uploaded CA', () => {
  it('accepts a well-formed root, and an intermediate with its chain, returning the key as PKCS#8', async () => {
    const root = await makeCa();
    expect(await outcome(root, root.keyPem)).toBe('ok');
    const inter = await makeCa({ issuer: root, pathLength: 1 });
    const valid = await validateCaUpload({ certificate: inter.pem, privateKey: inter.keyPem, chain: [root.pem] }, { tenant: 'acme', trustDomain: 'acme.mesh' });
    expect(valid.chain.map((c) => c.serialNumber)).toEqual([root.cert.serialNumber]);
    expect(valid.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  });

  it('holds CAs to the RFC 5280 profile strict verifiers enforce', async () => {
    const root = await makeCa();
    const cases: Array<[Options, RegExp]> = [
      [{ bc: 'none' }, /is not a CA certificate/],
      [{ bc: 'non-critical' }, /basicConstraints must be critical/],
      [{ keyUsage: null }, /keyUsage must be present and include keyCertSign/],
      [{ keyUsage: x509.KeyUsageFlags.digitalSignature }, /keyUsage must be present and include keyCertSign/],
      [{ ski: false }, /has no subjectKeyIdentifier/],
      [{ eku: ['1.3.6.1.5.5.7.3.1'] }, /its extendedKeyUsage does not allow both serverAuth and clientAuth/],
      [{ extra: [new x509.Extension('1.2.3.4.5', true, new Uint8Array([5, 0]))] }, /has a critical extension 1\.2\.3\.4\.5/],
      [{ notBefore: new Date(Date.now() + DAY), notAfter: new Date(Date.now() + 400 * DAY) }, /is not valid yet/],
    ];
    for (const [options, message] of cases) {
      const ca = await makeCa(options);
      expect(await outcome(ca, ca.keyPem), JSON.stringify(options)).toMatch(new RegExp(`^/body/certificate: ${message.source}`));
    }
    // Both usages, or any: fine.
    const eku = await makeCa({ eku: ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'] });
    expect(await outcome(eku, eku.keyPem)).toBe('ok');
    // Below a root, an authority key identifier is required.
    const noAki = await makeCa({ issuer: root, aki: false });
    expect(await outcome(noAki, noAki.keyPem, [root])).toMatch(/^\/body\/certificate: has no authorityKeyIdentifier/);
  });

  it('checks every certificate of the chain, and its order', async () => {
    const root = await makeCa();
    const middle = await makeCa({ issuer: root, pathLength: 1 });
    const lower = await makeCa({ issuer: middle });
    expect(await outcome(lower, lower.keyPem, [middle, root])).toMatch(/^\/body\/chain\/0: its path length constraint 1 leaves no room for meshfed's zone intermediates below it \(needs at least 2\)/);
    const middleOpen = await makeCa({ issuer: root });
    const lower2 = await makeCa({ issuer: middleOpen });
    expect(await outcome(lower2, lower2.keyPem, [middleOpen, root])).toBe('ok');
    expect(await outcome(lower2, lower2.keyPem, [root, middleOpen])).toMatch(/^\/body\/chain\/0: did not issue certificate/);
    expect(await outcome(lower2, lower2.keyPem, [middleOpen, root, root])).toMatch(/^\/body\/chain\/2: follows the self-signed root: the root must come last/);
    const expiringRoot = await makeCa({ notAfter: new Date(Date.now() + 5 * DAY) });
    const under = await makeCa({ issuer: expiringRoot });
    expect(await outcome(under, under.keyPem, [expiringRoot])).toMatch(/^\/body\/chain\/0: expires on .* within 30 days/);
    expect(await outcome(lower2, lower2.keyPem, [`${middleOpen.pem}\n${root.pem}`])).toMatch(/^\/body\/chain\/0: holds 2 PEM blocks/);
  });

  it('takes only one unencrypted PKCS#8 P-256 key, and only one certificate', async () => {
    const root = await makeCa();
    const encrypted = createPrivateKey(root.keyPem).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' }).toString();
    expect(await outcome(root, encrypted)).toMatch(/^\/body\/privateKey: is encrypted/);
    expect(await outcome(root, `${root.keyPem}\n${root.keyPem}`)).toMatch(/^\/body\/privateKey: must hold exactly one PEM block/);
    expect(await outcome(root, '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n')).toMatch(/^\/body\/privateKey: does not parse as a PKCS#8 private key/);
    expect(await outcome(`${root.pem}\n${root.pem}`, root.keyPem)).toMatch(/^\/body\/certificate: holds 2 PEM blocks; give exactly one certificate here and its issuers in chain/);
  });
});
