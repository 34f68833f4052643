import { X509Certificate as NodeCertificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { badRequest } from '../../core/errors.js';
import { createCsr, readCsr, signIntermediateUnder } from '../../core/pki/authority.js';
import { generateKeyPair, importPrivateKeyPem, x509 } from '../../core/pki/crypto.js';
import { nameConstraintsProblem } from './name-constraints.js';

/** What an operator uploads to bring their own root, or an intermediate of their own PKI. */
export interface CaUpload {
  /** PEM: the CA certificate whose key will sign zone intermediates. */
  certificate: string;
  /** PEM PKCS#8 ("BEGIN PRIVATE KEY"), unencrypted: the key of `certificate`. */
  privateKey: string;
  /** PEM certificates above `certificate` when it is an intermediate: its issuer first, ending with a self-signed root. */
  chain?: string[];
}

/** An upload that passed every check, normalized. */
export interface ValidatedCa {
  certificate: x509.X509Certificate;
  /** PKCS#8 PEM, re-encoded from the parsed key. Never log or return it. */
  keyPem: string;
  /** Issuer first, ending with the self-signed root; empty when `certificate` is that root. */
  chain: x509.X509Certificate[];
}

/** An uploaded CA must stay valid at least this long: zone intermediates live 30 days below it. */
export const MIN_REMAINING_DAYS = 30;
const DAY_MS = 86_400_000;

const OID = {
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  anyExtendedKeyUsage: '2.5.29.37.0',
};
/** Critical extensions a verifier of meshfed's chains is expected to understand; any other critical one would break them. */
const KNOWN_CRITICAL = new Set([
  OID.basicConstraints,
  OID.keyUsage,
  OID.subjectKeyIdentifier,
  OID.authorityKeyIdentifier,
  OID.extKeyUsage,
  '2.5.29.30', // nameConstraints
  '2.5.29.17', // subjectAltName
  '2.5.29.32', // certificatePolicies
  '2.5.29.33', // policyMappings
  '2.5.29.36', // policyConstraints
  '2.5.29.54', // inhibitAnyPolicy
]);

/** A 400 naming the field (JSON pointer) and what is wrong with it; never quotes the uploaded material. */
const invalid = (path: string, message: string) => badRequest(`${path}: ${message}`, [{ path, message }]);

/**
 * Checks an uploaded CA strictly, so that every zone intermediate signed under
 * it verifies up to the root that goes into the trust bundle: parseable, a CA
 * fit to sign CAs, ECDSA P-256 (the only key meshfed signs with), its key
 * matching, valid now and for at least MIN_REMAINING_DAYS more, name
 * constraints that permit the trust domain, and — for an intermediate — a
 * chain that links up to a self-signed root. Throws a 400 on the first
 * problem found.
 */
export async function validateCaUpload(upload: CaUpload, options: { tenant: string; trustDomain: string; nowMs?: number }): Promise<ValidatedCa> {
  const now = options.nowMs ?? Date.now();
  const signer = parseCertificate(upload.certificate, '/body/certificate');

  const key = parsePrivateKey(upload.privateKey);
  const certKey = signer.node.publicKey;
  if (!isP256(certKey)) throw invalid('/body/certificate', `its key is ${describeKey(certKey)}; meshfed signs with ECDSA P-256 keys only`);
  if (!isP256(key)) throw invalid('/body/privateKey', `the key is ${describeKey(key)}; meshfed signs with ECDSA P-256 keys only`);
  if (!signer.node.checkPrivateKey(key)) throw invalid('/body/privateKey', 'does not match the public key of certificate');

  const selfSigned = isSelfSigned(signer.node);
  const chainPems = upload.chain ?? [];
  checkCa(signer, '/body/certificate', { pathLenNeeded: 1, selfSigned, now, trustDomain: options.trustDomain });

  const chain: Parsed[] = [];
  if (selfSigned) {
    if (chainPems.length) throw invalid('/body/chain', 'must be empty: certificate is a self-signed root');
  } else {
    if (!chainPems.length) throw invalid('/body/chain', 'is required: certificate is an intermediate (its issuer is not itself), so give its issuers up to a self-signed root');
    let child = signer;
    for (const [i, pem] of chainPems.entries()) {
      const path = `/body/chain/${i}`;
      const parent = parseCertificate(pem, path);
      if (!child.node.checkIssued(parent.node) || !child.node.verify(parent.node.publicKey)) {
        throw invalid(path, `did not issue ${i === 0 ? 'certificate' : `/body/chain/${i - 1}`} (subject/issuer, key identifiers or signature do not match): order the chain issuer first, up to the root`);
      }
      const root = isSelfSigned(parent.node);
      if (root && i !== chainPems.length - 1) throw invalid(`/body/chain/${i + 1}`, 'follows the self-signed root: the root must come last');
      if (!root && i === chainPems.length - 1) throw invalid(path, 'is not a self-signed root: the chain must end with the root that workloads will trust');
      checkCa(parent, path, { pathLenNeeded: i + 2, selfSigned: root, now, trustDomain: options.trustDomain });
      chain.push(parent);
      child = parent;
    }
  }

  const keyPem = key.export({ type: 'pkcs8', format: 'pem' }).toString();
  await checkSignsIntermediates(signer, keyPem, chain, options);
  return { certificate: signer.cert, keyPem, chain: chain.map((c) => c.cert) };
}

interface Parsed {
  cert: x509.X509Certificate;
  node: NodeCertificate;
}

function parseCertificate(pem: string, path: string): Parsed {
  const blocks = pemBlocks(pem);
  if (!blocks.length) throw invalid(path, 'is not PEM: expected one -----BEGIN CERTIFICATE----- block');
  if (blocks.length > 1) {
    throw invalid(path, `holds ${blocks.length} PEM blocks; give exactly one certificate here${path === '/body/certificate' ? ' and its issuers in chain' : ''}`);
  }
  const [block] = blocks;
  if (block!.label !== 'CERTIFICATE') throw invalid(path, `holds a ${block!.label} block, not a CERTIFICATE`);
  try {
    const node = new NodeCertificate(block!.der);
    return { node, cert: new x509.X509Certificate(block!.der) };
  } catch {
    throw invalid(path, 'does not parse as an X.509 certificate');
  }
}

function parsePrivateKey(pem: string): KeyObject {
  const path = '/body/privateKey';
  const blocks = pemBlocks(pem);
  if (blocks.length !== 1) throw invalid(path, blocks.length ? 'must hold exactly one PEM block' : 'is not PEM: expected one -----BEGIN PRIVATE KEY----- block (PKCS#8)');
  const { label, der } = blocks[0]!;
  if (label === 'ENCRYPTED PRIVATE KEY') throw invalid(path, 'is encrypted; upload it unencrypted (openssl pkcs8 -topk8 -nocrypt): it is sealed with the master key at rest');
  if (label !== 'PRIVATE KEY') throw invalid(path, `is a ${label} block; convert it to PKCS#8 ("BEGIN PRIVATE KEY") with openssl pkcs8 -topk8 -nocrypt`);
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } catch {
    throw invalid(path, 'does not parse as a PKCS#8 private key');
  }
}

/** RFC 7468 PEM blocks; bodies must be clean base64. */
function pemBlocks(text: string): Array<{ label: string; der: Buffer }> {
  const blocks: Array<{ label: string; der: Buffer }> = [];
  for (const match of text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END ([A-Z0-9 ]+)-----/g)) {
    const body = match[2]!.replace(/\s+/g, '');
    if (match[1] !== match[3] || !/^[A-Za-z0-9+/]+={0,2}$/.test(body)) continue;
    blocks.push({ label: match[1]!, der: Buffer.from(body, 'base64') });
  }
  return blocks;
}

function isP256(key: KeyObject): boolean {
  return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
}

function describeKey(key: KeyObject): string {
  const d = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'ec') return `ECDSA ${d?.namedCurve ?? 'on an unknown curve'}`;
  if (key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss') return `${key.asymmetricKeyType.toUpperCase()} ${d?.modulusLength ?? ''}`.trim();
  return key.asymmetricKeyType ?? 'of an unknown type';
}

function isSelfSigned(node: NodeCertificate): boolean {
  return node.checkIssued(node) && node.verify(node.publicKey);
}

/**
 * The RFC 5280 profile of a CA that signs CAs, as strict verifiers (openssl
 * -x509_strict) hold it to: `pathLenNeeded` is how many CA certificates come
 * below it in a workload's chain (the zone intermediate, and any uploaded
 * intermediates between).
 */
function checkCa(c: Parsed, path: string, o: { pathLenNeeded: number; selfSigned: boolean; now: number; trustDomain: string }): void {
  const { cert } = c;
  const bc = cert.getExtension(x509.BasicConstraintsExtension);
  if (!bc?.ca) throw invalid(path, 'is not a CA certificate: basicConstraints cA is not true');
  if (!bc.critical) throw invalid(path, 'basicConstraints must be critical in a CA certificate (RFC 5280 §4.2.1.9)');
  if (bc.pathLength !== undefined && bc.pathLength < o.pathLenNeeded) {
    throw invalid(path, `its path length constraint ${bc.pathLength} leaves no room for meshfed's zone intermediates below it (needs at least ${o.pathLenNeeded})`);
  }
  const ku = cert.getExtension(x509.KeyUsagesExtension);
  if (!ku || !(ku.usages & x509.KeyUsageFlags.keyCertSign)) throw invalid(path, 'keyUsage must be present and include keyCertSign');
  if (!cert.getExtension(x509.SubjectKeyIdentifierExtension)) throw invalid(path, 'has no subjectKeyIdentifier, which RFC 5280 §4.2.1.2 requires in CA certificates');
  if (!o.selfSigned && !cert.getExtension(x509.AuthorityKeyIdentifierExtension)) throw invalid(path, 'has no authorityKeyIdentifier, which RFC 5280 §4.2.1.1 requires below a root');
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
  if (eku) {
    const usages = eku.usages.map(String);
    if (!usages.includes(OID.anyExtendedKeyUsage) && !(usages.includes(OID.serverAuth) && usages.includes(OID.clientAuth))) {
      throw invalid(path, 'its extendedKeyUsage does not allow both serverAuth and clientAuth, which every SVID needs');
    }
  }
  const unknown = cert.extensions.find((e) => e.critical && !KNOWN_CRITICAL.has(e.type));
  if (unknown) throw invalid(path, `has a critical extension ${unknown.type} that verifiers would not understand`);
  const notBefore = cert.notBefore.getTime();
  const notAfter = cert.notAfter.getTime();
  if (notBefore > o.now) throw invalid(path, `is not valid yet (from ${cert.notBefore.toISOString()})`);
  if (notAfter <= o.now) throw invalid(path, `expired on ${cert.notAfter.toISOString()}`);
  if (notAfter - o.now < MIN_REMAINING_DAYS * DAY_MS) {
    throw invalid(path, `expires on ${cert.notAfter.toISOString()}, within ${MIN_REMAINING_DAYS} days; upload a CA that stays valid longer`);
  }
  const nc = nameConstraintsProblem(cert, o.trustDomain);
  if (nc) throw invalid(path, nc);
}

/**
 * The proof: a throw-away zone intermediate signed with the uploaded key must
 * be recognized as issued by the uploaded certificate (names, key identifiers
 * and signature, as OpenSSL checks them).
 */
async function checkSignsIntermediates(signer: Parsed, keyPem: string, chain: Parsed[], options: { tenant: string; trustDomain: string }): Promise<void> {
  let privateKey;
  try {
    privateKey = await importPrivateKeyPem(keyPem);
  } catch {
    throw invalid('/body/privateKey', 'cannot be used to sign with ECDSA P-256');
  }
  const trialKeys = await generateKeyPair();
  const csr = await readCsr((await createCsr(trialKeys, 'CN=meshfed upload check')).toString('pem'));
  const trial = await signIntermediateUnder({ certificate: signer.cert, privateKey }, csr, {
    tenant: options.tenant,
    zone: 'upload-check',
    trustDomain: options.trustDomain,
    validityDays: 1,
    notAfterLimit: chainExpiry(signer.cert, chain.map((c) => c.cert)),
  });
  const node = new NodeCertificate(Buffer.from(trial.rawData));
  if (!node.checkIssued(signer.node) || !node.verify(signer.node.publicKey)) {
    throw invalid('/body/certificate', 'an intermediate signed with this CA does not chain to it');
  }
}

/** The earliest expiry from a signing certificate up to its root: nothing issued below may outlive it. */
export function chainExpiry(certificate: x509.X509Certificate, chain: x509.X509Certificate[]): Date {
  return new Date(Math.min(certificate.notAfter.getTime(), ...chain.map((c) => c.notAfter.getTime())));
}
