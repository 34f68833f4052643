import { AsnConvert } from '@peculiar/asn1-schema';
import { GeneralName, GeneralSubtree, GeneralSubtrees, NameConstraints, id_ce_nameConstraints } from '@peculiar/asn1-x509';
import { parseSpiffeId } from '../spiffe.js';
import { SIGNING_ALGORITHM, generateKeyPair, randomSerial, x509, type CryptoKey, type CryptoKeyPair } from './crypto.js';

/** A certificate with the private key that signs under it. */
export interface SigningIdentity {
  certificate: x509.X509Certificate;
  privateKey: CryptoKey;
}

const DAY_MS = 86_400_000;
/** Certificates start a minute in the past, so a peer with a slightly slow clock accepts them. */
const BACKDATE_MS = 60_000;

/** Only URIs in this trust domain may appear below a certificate with this extension (RFC 5280 §4.2.1.10). */
function nameConstraintsExtension(trustDomain: string): x509.Extension {
  const constraints = new NameConstraints({
    permittedSubtrees: new GeneralSubtrees([new GeneralSubtree({ base: new GeneralName({ uniformResourceIdentifier: trustDomain }) })]),
  });
  return new x509.Extension(id_ce_nameConstraints, true, AsnConvert.serialize(constraints));
}

/** A tenant's self-signed root CA for its SPIFFE trust domain. */
export async function createRootCa(options: { tenant: string; trustDomain: string; validityDays?: number; keys?: CryptoKeyPair }): Promise<SigningIdentity> {
  return createRootCaNamed({ ...options, name: `CN=meshfed ${options.tenant} root CA, O=${options.trustDomain}` });
}

/** A certificate request for `keys`, naming a SPIFFE ID as its URI SAN when given. */
export async function createCsr(keys: CryptoKeyPair, subject: string, spiffeId?: string): Promise<x509.Pkcs10CertificateRequest> {
  return x509.Pkcs10CertificateRequestGenerator.create({
    name: subject,
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: spiffeId ? [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: spiffeId }])] : [],
  });
}

/** Parses a PEM CSR and checks its self-signature; throws with a reason if either fails. */
export async function readCsr(pem: string): Promise<x509.Pkcs10CertificateRequest> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(pem);
  } catch {
    throw new Error('not a PEM certificate request');
  }
  if (!(await csr.verify())) throw new Error('the certificate request\'s signature does not verify');
  if ((csr.publicKey.algorithm as { namedCurve?: string }).namedCurve !== 'P-256') throw new Error('the key must be ECDSA P-256');
  return csr;
}

/** URI SANs a CSR asks for. */
export function requestedUris(csr: x509.Pkcs10CertificateRequest): string[] {
  const raw = csr.getExtension('2.5.29.17');
  if (!raw) return [];
  return new x509.SubjectAlternativeNameExtension(raw.rawData).names.items.filter((n) => n.type === 'url').map((n) => n.value);
}

/**
 * Signs a zone's intermediate CA: path length 0 (it signs workloads only) and
 * name-constrained to the tenant's trust domain, so even a stolen zone key
 * cannot mint an identity of another tenant.
 */
export async function signIntermediate(issuer: SigningIdentity, csr: x509.Pkcs10CertificateRequest, options: { tenant: string; zone: string; trustDomain: string; validityDays?: number }): Promise<x509.X509Certificate> {
  const now = Date.now();
  return x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: `CN=meshfed ${options.tenant} zone ${options.zone} intermediate CA, O=${options.trustDomain}`,
    issuer: issuer.certificate.subject,
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(Math.min(now + (options.validityDays ?? 30) * DAY_MS, issuer.certificate.notAfter.getTime())),
    publicKey: csr.publicKey,
    signingKey: issuer.privateKey,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(csr.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(issuer.certificate),
      nameConstraintsExtension(options.trustDomain),
    ],
  });
}

/**
 * Signs a workload's X.509-SVID for exactly `spiffeId`: the CSR must ask for
 * that ID and nothing else, and the ID must be in the trust domain. The
 * lifetime never outlasts the issuer.
 */
export async function signSvid(issuer: SigningIdentity, csr: x509.Pkcs10CertificateRequest, options: { spiffeId: string; trustDomain: string; ttlMs: number }): Promise<x509.X509Certificate> {
  const parsed = parseSpiffeId(options.spiffeId);
  if ('error' in parsed) throw new Error(`${options.spiffeId}: ${parsed.error}`);
  if (parsed.trustDomain !== options.trustDomain) throw new Error(`${options.spiffeId} is not in trust domain ${options.trustDomain}`);
  const asked = requestedUris(csr);
  if (asked.length !== 1 || asked[0] !== options.spiffeId) {
    throw new Error(`the request asks for ${asked.length ? asked.join(', ') : 'no SPIFFE ID'}, but this workload may only have ${options.spiffeId}`);
  }
  const now = Date.now();
  return x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: `O=${options.trustDomain}`,
    issuer: issuer.certificate.subject,
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(Math.min(now + options.ttlMs, issuer.certificate.notAfter.getTime())),
    publicKey: csr.publicKey,
    signingKey: issuer.privateKey,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: options.spiffeId }], true),
      await x509.SubjectKeyIdentifierExtension.create(csr.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(issuer.certificate),
    ],
  });
}

/**
 * A tenant's self-signed root CA under a name of the caller's choosing: a root
 * made to rotate the first one gets a name of its own, so tools and peers can
 * tell the roots of one bundle apart.
 */
export async function createRootCaNamed(options: { name: string; trustDomain: string; validityDays?: number; keys?: CryptoKeyPair }): Promise<SigningIdentity> {
  const keys = options.keys ?? (await generateKeyPair());
  const now = Date.now();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: options.name,
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(now + (options.validityDays ?? 3650) * DAY_MS),
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      nameConstraintsExtension(options.trustDomain),
    ],
  });
  return { certificate, privateKey: keys.privateKey };
}

/**
 * Signs a zone's intermediate CA like `signIntermediate`, but names the issuer
 * exactly as the issuer's certificate does: its subject is copied byte for
 * byte (not re-encoded from a string) and the authority key identifier is the
 * issuer's own subjectKeyIdentifier. Chains then build under a CA made by any
 * tool (bring-your-own root or intermediate), also in verifiers that compare
 * names as bytes. `notAfterLimit` caps the lifetime further (the expiry of the
 * issuer's own chain).
 */
export async function signIntermediateUnder(
  issuer: SigningIdentity,
  csr: x509.Pkcs10CertificateRequest,
  options: { tenant: string; zone: string; trustDomain: string; validityDays?: number; notAfterLimit?: Date },
): Promise<x509.X509Certificate> {
  const now = Date.now();
  const issuerKeyId = issuer.certificate.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  const limit = Math.min(issuer.certificate.notAfter.getTime(), options.notAfterLimit?.getTime() ?? Infinity);
  return x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: `CN=meshfed ${options.tenant} zone ${options.zone} intermediate CA, O=${options.trustDomain}`,
    issuer: issuer.certificate.subjectName,
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(Math.min(now + (options.validityDays ?? 30) * DAY_MS, limit)),
    publicKey: csr.publicKey,
    signingKey: issuer.privateKey,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(csr.publicKey),
      issuerKeyId ? new x509.AuthorityKeyIdentifierExtension(issuerKeyId) : await x509.AuthorityKeyIdentifierExtension.create(issuer.certificate),
      nameConstraintsExtension(options.trustDomain),
    ],
  });
}
