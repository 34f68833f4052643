import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, createServer, type TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { createCsr, createRootCa, readCsr, signIntermediate, signSvid, type SigningIdentity } from './authority.js';
import type { x509 } from './crypto.js';
import { exportPrivateKeyPem, generateKeyPair } from './crypto.js';

const run = promisify(execFile);
const HOUR = 3_600_000;

/** openssl verify, trusting only `root` (no system CAs), strict X.509; returns its output whatever the verdict. */
async function opensslVerify(dir: string, root: x509.X509Certificate, chain: x509.X509Certificate[], leaf: x509.X509Certificate, extra: string[] = []): Promise<string> {
  const files = { root: join(dir, 'root.pem'), chain: join(dir, 'chain.pem'), leaf: join(dir, 'leaf.pem') };
  await writeFile(files.root, root.toString('pem'));
  await writeFile(files.chain, chain.map((c) => c.toString('pem')).join('\n'));
  await writeFile(files.leaf, leaf.toString('pem'));
  const args = ['verify', '-no-CApath', '-no-CAstore', '-x509_strict', '-CAfile', files.root, ...(chain.length ? ['-untrusted', files.chain] : []), ...extra, files.leaf];
  try {
    const { stdout, stderr } = await run('openssl', args);
    return stdout + stderr;
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    return (e.stdout ?? '') + (e.stderr ?? '');
  }
}

async function zoneIntermediate(root: SigningIdentity, tenant: string, trustDomain: string, zone: string): Promise<SigningIdentity> {
  const keys = await generateKeyPair();
  const csr = await createCsr(keys, `CN=${zone}`);
  return { certificate: await signIntermediate(root, await readCsr(csr.toString('pem')), { tenant, zone, trustDomain }), privateKey: keys.privateKey };
}

async function svid(issuer: SigningIdentity, spiffeId: string, trustDomain: string, ttlMs = 24 * HOUR) {
  const keys = await generateKeyPair();
  const csr = await readCsr((await createCsr(keys, 'CN=workload', spiffeId)).toString('pem'));
  return { certificate: await signSvid(issuer, csr, { spiffeId, trustDomain, ttlMs }), keyPem: await exportPrivateKeyPem(keys.privateKey) };
}

describe('tenant PKI, judged by openssl and Node TLS', () => {
  let dir: string;
  let acmeRoot: SigningIdentity;
  let acmeZoneA: SigningIdentity;
  let globexRoot: SigningIdentity;
  const web = 'spiffe://acme.mesh/ns/shop/sa/web';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshfed-pki-'));
    acmeRoot = await createRootCa({ tenant: 'acme', trustDomain: 'acme.mesh' });
    acmeZoneA = await zoneIntermediate(acmeRoot, 'acme', 'acme.mesh', 'zone-a');
    globexRoot = await createRootCa({ tenant: 'globex', trustDomain: 'globex.mesh' });
  });

  it('issues a chain that openssl verifies up to the tenant root, without -partial_chain, for client and server use', async () => {
    const leaf = await svid(acmeZoneA, web, 'acme.mesh');
    for (const purpose of ['sslclient', 'sslserver']) {
      expect(await opensslVerify(dir, acmeRoot.certificate, [acmeZoneA.certificate], leaf.certificate, ['-purpose', purpose])).toMatch(/leaf\.pem: OK/);
    }
    const { stdout } = await run('openssl', ['x509', '-noout', '-text', '-in', join(dir, 'leaf.pem')]);
    expect(stdout).toContain(`URI:${web}`);
    expect(stdout).toMatch(/CA:FALSE/);
    const inter = await run('openssl', ['x509', '-noout', '-text', '-in', join(dir, 'chain.pem')]);
    expect(inter.stdout).toMatch(/CA:TRUE, pathlen:0/);
    expect(inter.stdout).toMatch(/Permitted:\s+URI:acme\.mesh/);
  });

  it('is rejected by another tenant\'s trust bundle', async () => {
    const leaf = await svid(acmeZoneA, web, 'acme.mesh');
    const out = await opensslVerify(dir, globexRoot.certificate, [acmeZoneA.certificate], leaf.certificate);
    expect(out).not.toMatch(/leaf\.pem: OK/);
    expect(out).toMatch(/unable to get (local )?issuer certificate/);
  });

  it('an intermediate cannot issue outside its trust domain: openssl rejects the chain', async () => {
    // Bypass meshfed's own checks, as a stolen intermediate key would.
    const forged = await svid(acmeZoneA, 'spiffe://globex.mesh/ns/x/sa/y', 'globex.mesh');
    const out = await opensslVerify(dir, acmeRoot.certificate, [acmeZoneA.certificate], forged.certificate);
    expect(out).toMatch(/permitted subtree violation/);
  });

  it('an intermediate cannot make another CA below it (path length 0)', async () => {
    const below = await zoneIntermediate(acmeZoneA, 'acme', 'acme.mesh', 'rogue');
    const leaf = await svid(below, web, 'acme.mesh');
    const out = await opensslVerify(dir, acmeRoot.certificate, [acmeZoneA.certificate, below.certificate], leaf.certificate);
    expect(out).toMatch(/path length constraint exceeded/);
  });

  it('an expired SVID is rejected', async () => {
    const leaf = await svid(acmeZoneA, web, 'acme.mesh', 24 * HOUR);
    const later = String(Math.floor((Date.now() + 25 * HOUR) / 1000));
    expect(await opensslVerify(dir, acmeRoot.certificate, [acmeZoneA.certificate], leaf.certificate, ['-attime', later])).toMatch(/certificate has expired/);
  });

  it('refuses a request for another identity, a second identity, or another trust domain', async () => {
    const keys = await generateKeyPair();
    const other = await readCsr((await createCsr(keys, 'CN=x', 'spiffe://acme.mesh/ns/shop/sa/admin')).toString('pem'));
    await expect(signSvid(acmeZoneA, other, { spiffeId: web, trustDomain: 'acme.mesh', ttlMs: HOUR })).rejects.toThrow(/asks for spiffe:\/\/acme\.mesh\/ns\/shop\/sa\/admin, but this workload may only have/);
    const none = await readCsr((await createCsr(keys, 'CN=x')).toString('pem'));
    await expect(signSvid(acmeZoneA, none, { spiffeId: web, trustDomain: 'acme.mesh', ttlMs: HOUR })).rejects.toThrow(/asks for no SPIFFE ID/);
    const mine = await readCsr((await createCsr(keys, 'CN=x', web)).toString('pem'));
    await expect(signSvid(acmeZoneA, mine, { spiffeId: web, trustDomain: 'globex.mesh', ttlMs: HOUR })).rejects.toThrow(/not in trust domain globex\.mesh/);
    await expect(signSvid(acmeZoneA, mine, { spiffeId: 'spiffe://t1.mesh:x@acme.mesh/ns/a', trustDomain: 'acme.mesh', ttlMs: HOUR })).rejects.toThrow(/trust domain must be/);
  });

  it('never issues past the issuer\'s own expiry', async () => {
    const leaf = await svid(acmeZoneA, web, 'acme.mesh', 10 * 365 * 24 * HOUR);
    expect(leaf.certificate.notAfter.getTime()).toBe(acmeZoneA.certificate.notAfter.getTime());
  });

  it('reads only well-formed, self-consistent requests', async () => {
    await expect(readCsr('not a csr')).rejects.toThrow(/not a PEM certificate request/);
  });

  it('lets Node TLS peers of one tenant authenticate each other, and refuses another tenant\'s', async () => {
    const server = await svid(acmeZoneA, 'spiffe://acme.mesh/ns/shop/sa/payments', 'acme.mesh');
    const client = await svid(acmeZoneA, web, 'acme.mesh');
    const globexZone = await zoneIntermediate(globexRoot, 'globex', 'globex.mesh', 'zone-b');
    const intruder = await svid(globexZone, 'spiffe://globex.mesh/ns/shop/sa/web', 'globex.mesh');
    const pem = (c: x509.X509Certificate) => `${c.toString('pem')}\n`;
    const seen: string[] = [];
    const tlsServer = createServer(
      { cert: pem(server.certificate) + pem(acmeZoneA.certificate), key: server.keyPem, ca: pem(acmeRoot.certificate), requestCert: true, rejectUnauthorized: true },
      (socket: TLSSocket) => {
        const uri = socket.getPeerCertificate().subjectaltname ?? '';
        seen.push(uri);
        socket.end('hello');
      },
    );
    await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
    const port = (tlsServer.address() as { port: number }).port;
    const dial = (who: { certificate: x509.X509Certificate; keyPem: string }, chain: x509.X509Certificate) =>
      new Promise<string>((resolve, reject) => {
        const socket = tlsConnect(
          { host: '127.0.0.1', port, cert: pem(who.certificate) + pem(chain), key: who.keyPem, ca: pem(acmeRoot.certificate), checkServerIdentity: () => undefined },
          () => socket.once('data', (d: Buffer) => resolve(`${d.toString()} ${socket.getPeerCertificate().subjectaltname ?? ''}`)),
        );
        socket.once('error', reject);
        socket.once('end', () => resolve('closed'));
      });
    try {
      expect(await dial(client, acmeZoneA.certificate)).toBe('hello URI:spiffe://acme.mesh/ns/shop/sa/payments');
      expect(seen).toEqual([`URI:${web}`]);
      // TLS 1.3 reports the client's rejection after the handshake: an error or a closed socket, never "hello".
      const refused = await dial(intruder, globexZone.certificate).catch((error: Error) => `error ${error.message}`);
      expect(refused).not.toMatch(/hello/);
      expect(seen).toEqual([`URI:${web}`]);
    } finally {
      tlsServer.close();
    }
  });
});
