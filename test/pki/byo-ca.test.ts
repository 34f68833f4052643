import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../deploy/local/free-port.js';
import { SIGNING_ALGORITHM, exportPrivateKeyPem, generateKeyPair, x509 } from '../../core/pki/crypto.js';
import { CaKeeper } from '../../global-cp/ca/ca-keeper.js';
import { ADMIN_TOKEN, TEST_MASTER_KEY, startTestGlobalCp, type TestGlobalCp } from '../helpers/global-cp.js';
import { RunningProcess, spawnEntry } from '../helpers/processes.js';
import { issueSvid, requestZoneIntermediate, run, verdict } from './pki-fixtures.js';

/**
 * Bring your own root, or an intermediate of your own PKI: made here with the
 * openssl CLI as an operator would, uploaded, and judged by openssl at the
 * end of a real chain: zone intermediate (signed by the global CP from the
 * zone's CSR) and workload SVID.
 */

const CNF = `
[req]
distinguished_name = dn
[dn]
[root]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[root_permits_other]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
nameConstraints = critical, permitted;URI:other.mesh
[root_excludes_mesh]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
nameConstraints = critical, excluded;URI:.mesh
[inter]
basicConstraints = critical, CA:TRUE, pathlen:1
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
nameConstraints = critical, permitted;URI:acme.mesh
[inter_pathlen0]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[not_ca]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
`;

interface Pair {
  cert: string;
  key: string;
  certFile: string;
  keyFile: string;
}

interface CaState {
  revision: number;
  roots: Array<{ serial: string; status: string; source: string; fingerprint: string; certificate: string; root: { serial: string; fingerprint: string; certificate: string } }>;
  trustBundle: string[];
}

const WEB = 'spiffe://acme.mesh/ns/shop/sa/web';

describe('bring-your-own root or intermediate', () => {
  let cp: TestGlobalCp;
  let zoneToken: string;
  let dir: string;
  let cnf: string;
  let n = 0;

  const serial = () => {
    const bytes = randomBytes(16);
    bytes[0] = bytes[0]! & 0x7f;
    return `0x${bytes.toString('hex')}`;
  };

  /** A key made with openssl: PKCS#8 PEM ("BEGIN PRIVATE KEY"). */
  async function opensslKey(kind: 'p256' | 'p384' | 'rsa' = 'p256'): Promise<{ pem: string; file: string }> {
    const file = join(dir, `key-${++n}.pem`);
    const opts = kind === 'rsa' ? ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'] : ['-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${kind === 'p256' ? 'P-256' : 'P-384'}`];
    await run('openssl', ['genpkey', ...opts, '-out', file]);
    return { pem: await readFile(file, 'utf8'), file };
  }

  async function opensslRoot(subject: string, options: { section?: string; days?: number; key?: 'p256' | 'p384' | 'rsa' } = {}): Promise<Pair> {
    const key = await opensslKey(options.key);
    const certFile = join(dir, `cert-${++n}.pem`);
    await run('openssl', ['req', '-x509', '-new', '-key', key.file, '-subj', subject, '-days', String(options.days ?? 365), '-set_serial', serial(), '-config', cnf, '-extensions', options.section ?? 'root', '-out', certFile]);
    return { cert: await readFile(certFile, 'utf8'), key: key.pem, certFile, keyFile: key.file };
  }

  async function opensslIssued(subject: string, issuer: Pair, section: string, days = 200): Promise<Pair> {
    const key = await opensslKey();
    const csrFile = join(dir, `csr-${++n}.pem`);
    const certFile = join(dir, `cert-${++n}.pem`);
    await run('openssl', ['req', '-new', '-key', key.file, '-subj', subject, '-config', cnf, '-out', csrFile]);
    await run('openssl', ['x509', '-req', '-in', csrFile, '-CA', issuer.certFile, '-CAkey', issuer.keyFile, '-set_serial', serial(), '-days', String(days), '-extfile', cnf, '-extensions', section, '-out', certFile]);
    return { cert: await readFile(certFile, 'utf8'), key: key.pem, certFile, keyFile: key.file };
  }

  async function fingerprint(pem: string): Promise<string> {
    const file = join(dir, `fp-${++n}.pem`);
    await writeFile(file, pem);
    return /Fingerprint=([0-9A-F:]+)/.exec((await run('openssl', ['x509', '-noout', '-fingerprint', '-sha256', '-in', file])).stdout)![1]!;
  }

  const roots = async () => (await cp.call('GET', '/api/v1/tenants/acme/roots', ADMIN_TOKEN)).json<CaState>();
  const upload = (body: Record<string, unknown>) => cp.call('POST', '/api/v1/tenants/acme/roots', ADMIN_TOKEN, body);
  /** A stretch of the base64 body of a PEM block: what must never appear in any answer or log. */
  const keyBody = (pem: string) => pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '').slice(20, 80);

  beforeAll(async () => {
    cp = await startTestGlobalCp();
    dir = await mkdtemp(join(tmpdir(), 'meshfed-byo-'));
    cnf = join(dir, 'openssl.cnf');
    await writeFile(cnf, CNF);
    zoneToken = (await cp.call('POST', '/api/v1/zones', ADMIN_TOKEN, { name: 'zone-a', region: 'eu-west', location: 'dc:a', kind: 'universal' })).json<{ token: string }>().token;
    expect((await cp.call('POST', '/api/v1/tenants', ADMIN_TOKEN, { name: 'acme', zones: ['zone-a'] })).statusCode).toBe(201);
  });
  afterAll(async () => cp.close());

  it('takes an openssl-made ECDSA P-256 root: it signs zone intermediates, and SVIDs under them verify with openssl up to it alone', async () => {
    const corp = await opensslRoot('/C=US/O=Example Corp/CN=Example Corp Mesh Root');
    const generated = (await roots()).roots[0]!;
    const res = await upload({ certificate: corp.cert, privateKey: corp.key });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.body).not.toContain(keyBody(corp.key));
    expect(res.body).not.toMatch(/PRIVATE KEY|sealedKey/);
    const state = res.json<CaState>();
    expect(state.roots.map((r) => [r.status, r.source])).toEqual([
      ['active', 'uploaded'],
      ['retiring', 'generated'],
    ]);
    const [mine] = state.roots;
    expect(mine!.fingerprint).toBe(await fingerprint(corp.cert));
    expect(mine!.root.fingerprint).toBe(mine!.fingerprint);
    expect(state.trustBundle).toEqual([mine!.certificate, generated.certificate]);

    const zone = await requestZoneIntermediate(cp, 'zone-a', zoneToken, 'acme');
    expect(zone.reply.chain).toEqual([mine!.certificate]);
    // The zone intermediate names its issuer byte for byte as the uploaded root does (openssl made it
    // with PrintableString and UTF8String values; re-encoding from a string would change them).
    const corpCert = new x509.X509Certificate(corp.cert);
    expect(Buffer.from(zone.identity.certificate.issuerName.toArrayBuffer()).equals(Buffer.from(corpCert.subjectName.toArrayBuffer()))).toBe(true);
    expect(zone.identity.certificate.getExtension(x509.AuthorityKeyIdentifierExtension)!.keyId).toBe(corpCert.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId);

    const svid = await issueSvid(zone, WEB);
    for (const purpose of ['sslclient', 'sslserver']) expect(await verdict(dir, [corp.cert], svid, ['-purpose', purpose])).toBe('OK');
    expect(await verdict(dir, [generated.certificate], svid)).toMatch(/unable to get (local )?issuer certificate/);

    // Sealed at rest like a generated key; it opens, with the master key only, to the key uploaded.
    const ca = (await cp.store.getTenantCa('acme'))!;
    expect(JSON.stringify(ca)).not.toContain(keyBody(corp.key));
    const signer = await new CaKeeper(TEST_MASTER_KEY).signer('acme', ca);
    expect(signer.certificate.serialNumber).toBe(mine!.serial);
    await expect(new CaKeeper(randomBytes(32)).signer('acme', ca)).rejects.toThrow(/does not open/);

    // The same CA twice is a conflict, not a second entry.
    const again = await upload({ certificate: corp.cert, privateKey: corp.key });
    expect(again.statusCode).toBe(409);
    expect(again.json().error).toBe('RootExists');
  });

  it('takes an intermediate of an external PKI with its chain: the bundle carries the external root, the intermediate signs, and openssl verifies up to that root', async () => {
    const extRoot = await opensslRoot('/O=External PKI/CN=External Root CA', { days: 3650 });
    const extInter = await opensslIssued('/O=External PKI/CN=External Mesh Issuing CA for acme', extRoot, 'inter', 400);
    const res = await upload({ certificate: extInter.cert, privateKey: extInter.key, chain: [extRoot.cert] });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.body).not.toContain(keyBody(extInter.key));
    const state = res.json<CaState>();
    const [mine] = state.roots;
    expect(mine).toMatchObject({ status: 'active', source: 'uploaded' });
    expect(mine!.fingerprint).toBe(await fingerprint(extInter.cert));
    expect(mine!.root.fingerprint).toBe(await fingerprint(extRoot.cert));
    // Workloads trust the external root; the intermediate is no trust anchor.
    expect(state.trustBundle[0]).toBe(mine!.root.certificate);
    expect(state.trustBundle).not.toContain(mine!.certificate);

    const zone = await requestZoneIntermediate(cp, 'zone-a', zoneToken, 'acme');
    expect(zone.reply.chain).toEqual([mine!.certificate, mine!.root.certificate]);
    expect(zone.reply.trustBundle.roots).toEqual(state.trustBundle);
    const svid = await issueSvid(zone, WEB);
    // leaf → zone intermediate → uploaded intermediate → external root (the only certificate trusted).
    expect(svid.chainPem).toHaveLength(3);
    for (const purpose of ['sslclient', 'sslserver']) expect(await verdict(dir, [extRoot.cert], svid, ['-purpose', purpose])).toBe('OK');
    expect(await verdict(dir, state.trustBundle, svid)).toBe('OK');
    // Without the uploaded intermediate in the chain there is no path to the root.
    expect(await verdict(dir, [extRoot.cert], { ...svid, chainPem: svid.chainPem.slice(0, 2) })).toMatch(/unable to get (local )?issuer certificate/);
  });

  it('stages an uploaded root with activate: false: trusted at once, signing only once activated', async () => {
    const staged = await opensslRoot('/O=Example Corp/CN=Next Mesh Root');
    const before = await roots();
    const res = await upload({ certificate: staged.cert, privateKey: staged.key, activate: false });
    expect(res.statusCode, res.body).toBe(201);
    const state = res.json<CaState>();
    expect(state.roots[0]!.serial).toBe(before.roots[0]!.serial);
    expect(state.roots[1]).toMatchObject({ status: 'staged', source: 'uploaded' });
    expect(state.trustBundle).toContain(state.roots[1]!.certificate);
    expect((await requestZoneIntermediate(cp, 'zone-a', zoneToken, 'acme')).reply.chain[0]).toBe(before.roots[0]!.certificate);

    const activated = await cp.call('POST', `/api/v1/tenants/acme/roots/${state.roots[1]!.serial}/activate`, ADMIN_TOKEN);
    expect(activated.statusCode, activated.body).toBe(200);
    const zone = await requestZoneIntermediate(cp, 'zone-a', zoneToken, 'acme');
    expect(zone.reply.chain).toEqual([state.roots[1]!.certificate]);
    expect(await verdict(dir, [staged.cert], await issueSvid(zone, WEB))).toBe('OK');
  });

  describe('refuses bad uploads with a 400 naming the field, and writes nothing', () => {
    let good: Pair;
    let extRoot: Pair;

    beforeAll(async () => {
      good = await opensslRoot('/O=Example Corp/CN=Good Root');
      extRoot = await opensslRoot('/O=External PKI/CN=Another External Root', { days: 3650 });
    });

    async function expired(): Promise<{ cert: string; key: string }> {
      const keys = await generateKeyPair();
      const cert = await x509.X509CertificateGenerator.createSelfSigned({
        serialNumber: '7f01',
        name: 'CN=Expired Root',
        notBefore: new Date(Date.now() - 400 * 86_400_000),
        notAfter: new Date(Date.now() - 86_400_000),
        keys,
        signingAlgorithm: SIGNING_ALGORITHM,
        extensions: [
          new x509.BasicConstraintsExtension(true, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
          await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
        ],
      });
      return { cert: cert.toString('pem'), key: await exportPrivateKeyPem(keys.privateKey) };
    }

    const cases: Array<[string, () => Promise<Record<string, unknown>>, string, RegExp]> = [
      ['garbage certificate PEM', async () => ({ certificate: 'not a certificate', privateKey: good.key }), '/body/certificate', /is not PEM/],
      ['a PEM block that is not a certificate', async () => ({ certificate: good.key, privateKey: good.key }), '/body/certificate', /holds a PRIVATE KEY block/],
      ['garbage inside a CERTIFICATE block', async () => ({ certificate: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', privateKey: good.key }), '/body/certificate', /does not parse/],
      ['garbage key PEM', async () => ({ certificate: good.cert, privateKey: 'garbage' }), '/body/privateKey', /is not PEM/],
      ['the wrong key', async () => ({ certificate: good.cert, privateKey: (await opensslKey()).pem }), '/body/privateKey', /does not match the public key of certificate/],
      ['a SEC1 key instead of PKCS#8', async () => {
        const sec1 = (await run('openssl', ['ec', '-in', good.keyFile, '-outform', 'PEM'])).stdout;
        return { certificate: good.cert, privateKey: sec1 };
      }, '/body/privateKey', /is a EC PRIVATE KEY block; convert it to PKCS#8/],
      ['a certificate without its key', async () => ({ certificate: good.cert }), '/body/privateKey', /is required/],
      ['not a CA', async () => {
        const leaf = await opensslIssued('/CN=just a server', extRoot, 'not_ca');
        return { certificate: leaf.cert, privateKey: leaf.key, chain: [extRoot.cert] };
      }, '/body/certificate', /is not a CA certificate/],
      ['an expired CA', async () => {
        const e = await expired();
        return { certificate: e.cert, privateKey: e.key };
      }, '/body/certificate', /expired on/],
      ['a CA that expires within 30 days', async () => {
        const soon = await opensslRoot('/CN=Short-lived Root', { days: 10 });
        return { certificate: soon.cert, privateKey: soon.key };
      }, '/body/certificate', /within 30 days/],
      ['an RSA root', async () => {
        const rsa = await opensslRoot('/CN=RSA Root', { key: 'rsa' });
        return { certificate: rsa.cert, privateKey: rsa.key };
      }, '/body/certificate', /its key is RSA 2048; meshfed signs with ECDSA P-256 keys only/],
      ['a P-384 root', async () => {
        const p384 = await opensslRoot('/CN=P-384 Root', { key: 'p384' });
        return { certificate: p384.cert, privateKey: p384.key };
      }, '/body/certificate', /ECDSA secp384r1; meshfed signs with ECDSA P-256 keys only/],
      ['name constraints permitting another trust domain only', async () => {
        const other = await opensslRoot('/CN=Other Domain Root', { section: 'root_permits_other' });
        return { certificate: other.cert, privateKey: other.key };
      }, '/body/certificate', /permit only URIs under "other\.mesh", not trust domain "acme\.mesh"/],
      ['name constraints excluding the trust domain, on the root of the chain', async () => {
        const excluding = await opensslRoot('/CN=Excluding Root', { section: 'root_excludes_mesh', days: 3650 });
        const inter = await opensslIssued('/CN=Issuing CA', excluding, 'inter');
        return { certificate: inter.cert, privateKey: inter.key, chain: [excluding.cert] };
      }, '/body/chain/0', /exclude URI "\.mesh", which covers trust domain "acme\.mesh"/],
      ['an intermediate without its chain', async () => {
        const inter = await opensslIssued('/CN=Issuing CA', extRoot, 'inter');
        return { certificate: inter.cert, privateKey: inter.key };
      }, '/body/chain', /is required: certificate is an intermediate/],
      ['an intermediate with a chain that did not issue it', async () => {
        const inter = await opensslIssued('/CN=Issuing CA', extRoot, 'inter');
        return { certificate: inter.cert, privateKey: inter.key, chain: [good.cert] };
      }, '/body/chain/0', /did not issue certificate/],
      ['a chain that stops short of a self-signed root', async () => {
        const inter = await opensslIssued('/CN=Middle CA', extRoot, 'inter');
        const below = await opensslIssued('/CN=Lower CA', inter, 'inter');
        return { certificate: below.cert, privateKey: below.key, chain: [inter.cert] };
      }, '/body/chain/0', /is not a self-signed root/],
      ['an intermediate whose path length leaves no room for zone intermediates', async () => {
        const inter = await opensslIssued('/CN=Pathlen 0 CA', extRoot, 'inter_pathlen0');
        return { certificate: inter.cert, privateKey: inter.key, chain: [extRoot.cert] };
      }, '/body/certificate', /path length constraint 0 leaves no room/],
      ['a root with a chain', async () => ({ certificate: good.cert, privateKey: good.key, chain: [extRoot.cert] }), '/body/chain', /must be empty: certificate is a self-signed root/],
      ['an unknown field', async () => ({ certificate: good.cert, privateKey: good.key, password: 'x' }), '/body/password', /unknown field/],
    ];

    it.each(cases)('%s', async (_label, body, path, message) => {
      const before = await roots();
      const request = await body();
      const res = await upload(request);
      expect(res.statusCode, res.body).toBe(400);
      const error = res.json<{ error: string; message: string; details: Array<{ path: string; message: string }> }>();
      expect(error.error).toBe('ValidationError');
      expect(error.details[0]!.path).toBe(path);
      expect(error.details[0]!.message).toMatch(message);
      expect(error.message).toContain(path);
      // What was uploaded is named, never quoted back.
      if (typeof request.privateKey === 'string' && request.privateKey.length > 100) expect(res.body).not.toContain(keyBody(request.privateKey));
      if (typeof request.certificate === 'string' && request.certificate.length > 100) expect(res.body).not.toContain(keyBody(request.certificate));
      expect(await roots()).toEqual(before);
    });
  });

  it('never writes an uploaded key to the log, whether the upload is taken or refused (global CP process at log level trace)', async () => {
    const masterKeyFile = join(dir, 'master.key');
    await writeFile(masterKeyFile, randomBytes(32).toString('hex'));
    await chmod(masterKeyFile, 0o600);
    const port = await freePort();
    const proc = new RunningProcess(
      spawnEntry('cli/meshfed.ts', ['global-cp', '--listen', `127.0.0.1:${port}`, '--redis', inject('redisUrl'), '--redis-prefix', `byo-${randomBytes(4).toString('hex')}:`, '--log-level', 'trace'], {
        MESHFED_ADMIN_TOKEN: ADMIN_TOKEN,
        MESHFED_MASTER_KEY_FILE: masterKeyFile,
      }),
    );
    try {
      // Generous: a tsx-started process is slow to come up on a busy two-core machine.
      await proc.waitFor(/global CP serving/, 60_000);
      const call = async (path: string, body: unknown) =>
        fetch(`http://127.0.0.1:${port}/api/v1${path}`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect((await call('/tenants', { name: 'acme' })).status).toBe(201);
      const taken = await opensslRoot('/CN=Logged Root');
      const wrongKey = await opensslKey();
      expect((await call('/tenants/acme/roots', { certificate: taken.cert, privateKey: taken.key })).status).toBe(201);
      expect((await call('/tenants/acme/roots', { certificate: taken.cert, privateKey: wrongKey.pem })).status).toBe(400);
      expect((await call('/tenants/acme/roots', { certificate: 'x', privateKey: taken.key })).status).toBe(400);
      await proc.waitFor(/root CA added as the signer/);
      await new Promise((r) => setTimeout(r, 200));
      expect(proc.output).toMatch(/"statusCode":400/);
      for (const key of [taken.key, wrongKey.pem]) expect(proc.output).not.toContain(keyBody(key));
      expect(proc.output).not.toContain('PRIVATE KEY');
    } finally {
      await proc.stop();
    }
  }, 120_000);
});
