import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import { createCsr, readCsr, signSvid, type SigningIdentity } from '../../core/pki/authority.js';
import { exportPrivateKeyPem, generateKeyPair, x509 } from '../../core/pki/crypto.js';
import type { TestGlobalCp } from '../helpers/global-cp.js';

export const run = promisify(execFile);
export const HOUR = 3_600_000;

/** What POST /zones/:z/intermediates/:t answers. */
export interface IntermediateReply {
  certificate: string;
  chain: string[];
  trustBundle: { trustDomain: string; roots: string[] };
  expiresAt: string;
}

/** A zone's intermediate: the key it generated itself and what the global CP signed for it. */
export interface ZoneCa {
  identity: SigningIdentity;
  reply: IntermediateReply;
}

/** A workload's SVID as a zone hands it out: the key, and the chain without the root (peers find that in their bundle). */
export interface Workload {
  spiffeId: string;
  certificate: x509.X509Certificate;
  keyPem: string;
  chainPem: string[];
}

/** Does what a zone CP does: a fresh key, a CSR for it, signed by the global CP with the zone's token. */
export async function requestZoneIntermediate(cp: TestGlobalCp, zone: string, zoneToken: string, tenant: string): Promise<ZoneCa> {
  const keys = await generateKeyPair();
  const csr = await createCsr(keys, `CN=meshfed zone ${zone} intermediate for ${tenant}`);
  const res = await cp.call('POST', `/api/v1/zones/${zone}/intermediates/${tenant}`, zoneToken, { csr: csr.toString('pem') });
  expect(res.statusCode, res.body).toBe(200);
  const reply = res.json<IntermediateReply>();
  return { identity: { certificate: new x509.X509Certificate(reply.certificate), privateKey: keys.privateKey }, reply };
}

const selfSigned = (pem: string) => {
  const c = new x509.X509Certificate(pem);
  return c.subject === c.issuer;
};

/** Signs a workload SVID with the zone's intermediate from a CSR of the workload's own key, as the zone CP does. */
export async function issueSvid(zone: ZoneCa, spiffeId: string, ttlMs = HOUR): Promise<Workload> {
  const keys = await generateKeyPair();
  const csr = await readCsr((await createCsr(keys, 'CN=workload', spiffeId)).toString('pem'));
  const certificate = await signSvid(zone.identity, csr, { spiffeId, trustDomain: zone.reply.trustBundle.trustDomain, ttlMs });
  return {
    spiffeId,
    certificate,
    keyPem: await exportPrivateKeyPem(keys.privateKey),
    chainPem: [certificate.toString('pem'), zone.reply.certificate, ...zone.reply.chain.filter((pem) => !selfSigned(pem))],
  };
}

/**
 * openssl verify, trusting exactly `bundle` (no system CAs, never
 * -partial_chain), strict X.509; `untrusted` are the certificates between
 * leaf and root. Returns the output whatever the verdict.
 */
export async function opensslVerify(dir: string, bundle: string[], untrusted: string[], leaf: string, extra: string[] = []): Promise<string> {
  const id = randomBytes(4).toString('hex');
  const files = { bundle: join(dir, `bundle-${id}.pem`), untrusted: join(dir, `untrusted-${id}.pem`), leaf: join(dir, `leaf-${id}.pem`) };
  await writeFile(files.bundle, bundle.join('\n'));
  await writeFile(files.untrusted, untrusted.join('\n'));
  await writeFile(files.leaf, leaf);
  const args = ['verify', '-no-CApath', '-no-CAstore', '-x509_strict', '-CAfile', files.bundle, ...(untrusted.length ? ['-untrusted', files.untrusted] : []), ...extra, files.leaf];
  try {
    const { stdout, stderr } = await run('openssl', args);
    return stdout + stderr;
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    return (e.stdout ?? '') + (e.stderr ?? '');
  }
}

/** openssl's verdict on a workload's chain: "OK" or the first error line. */
export async function verdict(dir: string, bundle: string[], workload: Workload, extra: string[] = []): Promise<string> {
  const out = await opensslVerify(dir, bundle, workload.chainPem.slice(1), workload.chainPem[0]!, extra);
  if (/: OK\s*$/.test(out)) return 'OK';
  return /error \d+ at \d+ depth lookup: (.*)/.exec(out)?.[1] ?? out.trim();
}
