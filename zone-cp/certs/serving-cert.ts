import { isIP } from 'node:net';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomically } from '../../core/atomic-file.js';
import { SIGNING_ALGORITHM, exportPrivateKeyPem, generateKeyPair, importPrivateKeyPem, randomSerial, x509 } from '../../core/pki/crypto.js';

/** What the zone CP's gRPC port presents, and the CA a proxy pins to trust it. */
export interface ServingCert {
  certificatePem: string;
  privateKeyPem: string;
  /** PEM of the CA that signed it: give it to proxies (`--ca-cert-file`). */
  caPem: string;
  caFile: string;
}

const DAY_MS = 86_400_000;

/** Renew when less than 30 days remain or when the names it must carry changed. Pure. */
export function servingCertIsCurrent(certificatePem: string, names: string[], nowMs: number): boolean {
  const certificate = new x509.X509Certificate(certificatePem);
  if (certificate.notAfter.getTime() - nowMs < 30 * DAY_MS) return false;
  const san = certificate.getExtension(x509.SubjectAlternativeNameExtension);
  const held = new Set((san?.names.items ?? []).map((n) => n.value.toLowerCase()));
  return names.every((n) => held.has(n.toLowerCase()));
}

/**
 * The zone CP's TLS identity for its gRPC port, made on first start: a
 * self-signed CA kept in `<state-dir>/tls/` (mode 600) and a server
 * certificate for the given names. This CA is the zone CP's own and signs
 * nothing else: workload identities come from the tenant PKI.
 */
export async function ensureServingCert(stateDir: string, zone: string, names: string[]): Promise<ServingCert> {
  const dir = join(stateDir, 'tls');
  const read = (file: string) => readFile(join(dir, file), 'utf8').catch(() => '');
  let [caPem, caKeyPem, certificatePem, privateKeyPem] = await Promise.all([read('ca.crt'), read('ca.key'), read('server.crt'), read('server.key')]);
  if (!caPem || !caKeyPem) {
    const keys = await generateKeyPair();
    const ca = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerial(),
      name: `CN=meshfed zone ${zone} control plane CA`,
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 3650 * DAY_MS),
      keys,
      signingAlgorithm: SIGNING_ALGORITHM,
      extensions: [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true)],
    });
    caPem = ca.toString('pem');
    caKeyPem = await exportPrivateKeyPem(keys.privateKey);
    await writeFileAtomically(join(dir, 'ca.key'), caKeyPem);
    await writeFileAtomically(join(dir, 'ca.crt'), caPem);
    certificatePem = '';
  }
  if (!certificatePem || !privateKeyPem || !servingCertIsCurrent(certificatePem, names, Date.now())) {
    const ca = new x509.X509Certificate(caPem);
    const keys = await generateKeyPair();
    const certificate = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject: `CN=meshfed zone ${zone} control plane`,
      issuer: ca.subject,
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Math.min(Date.now() + 365 * DAY_MS, ca.notAfter.getTime())),
      publicKey: keys.publicKey,
      signingKey: await importPrivateKeyPem(caKeyPem),
      signingAlgorithm: SIGNING_ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
        new x509.SubjectAlternativeNameExtension(names.map((n) => (isIP(n) ? { type: 'ip' as const, value: n } : { type: 'dns' as const, value: n }))),
      ],
    });
    certificatePem = certificate.toString('pem');
    privateKeyPem = await exportPrivateKeyPem(keys.privateKey);
    await writeFileAtomically(join(dir, 'server.key'), privateKeyPem);
    await writeFileAtomically(join(dir, 'server.crt'), certificatePem);
  }
  return { certificatePem, privateKeyPem, caPem, caFile: join(dir, 'ca.crt') };
}
