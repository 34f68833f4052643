import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCsr, readCsr, signSvid } from '../../core/pki/authority.js';
import { generateKeyPair, x509 } from '../../core/pki/crypto.js';
import { CaKeeper } from '../../global-cp/ca/ca-keeper.js';
import { ADMIN_TOKEN, startTestGlobalCp, type TestGlobalCp } from '../helpers/global-cp.js';

const run = promisify(execFile);

describe('zone intermediates signed by the global CP', () => {
  let cp: TestGlobalCp;
  let zoneToken: string;
  let dir: string;

  beforeAll(async () => {
    cp = await startTestGlobalCp();
    dir = await mkdtemp(join(tmpdir(), 'meshfed-pki-api-'));
    zoneToken = (await cp.call('POST', '/api/v1/zones', ADMIN_TOKEN, { name: 'zone-a', region: 'eu-west', location: 'dc:a', kind: 'universal' })).json<{ token: string }>().token;
    expect((await cp.call('POST', '/api/v1/tenants', ADMIN_TOKEN, { name: 'acme', zones: ['zone-a'] })).statusCode).toBe(201);
    expect((await cp.call('POST', '/api/v1/tenants', ADMIN_TOKEN, { name: 'globex', zones: [] })).statusCode).toBe(201);
  });
  afterAll(async () => cp.close());

  async function requestIntermediate(tenant: string, token = zoneToken) {
    const keys = await generateKeyPair();
    const csr = await createCsr(keys, 'CN=zone-a');
    const res = await cp.call('POST', `/api/v1/zones/zone-a/intermediates/${tenant}`, token, { csr: csr.toString('pem') });
    return { res, keys };
  }

  it('signs the zone\'s own key; a workload SVID under it verifies with openssl up to the tenant\'s trust bundle', async () => {
    const { res, keys } = await requestIntermediate('acme');
    expect(res.statusCode).toBe(200);
    const body = res.json<{ certificate: string; chain: string[]; trustBundle: { trustDomain: string; roots: string[] }; expiresAt: string }>();
    expect(body.trustBundle.trustDomain).toBe('acme.mesh');
    expect(body.chain).toEqual(body.trustBundle.roots);
    const intermediate = new x509.X509Certificate(body.certificate);
    // The certificate is for the key the zone generated: it never left the zone.
    expect(Buffer.from(intermediate.publicKey.rawData).equals(Buffer.from((await x509.PublicKey.create(keys.publicKey)).rawData))).toBe(true);
    const days = (Date.parse(body.expiresAt) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29);
    expect(days).toBeLessThan(31);

    const wkeys = await generateKeyPair();
    const id = 'spiffe://acme.mesh/ns/shop/sa/web';
    const leaf = await signSvid({ certificate: intermediate, privateKey: keys.privateKey }, await readCsr((await createCsr(wkeys, 'CN=w', id)).toString('pem')), { spiffeId: id, trustDomain: 'acme.mesh', ttlMs: 3_600_000 });
    await writeFile(join(dir, 'bundle.pem'), body.trustBundle.roots.join('\n'));
    await writeFile(join(dir, 'inter.pem'), body.certificate);
    await writeFile(join(dir, 'leaf.pem'), leaf.toString('pem'));
    const { stdout } = await run('openssl', ['verify', '-no-CApath', '-no-CAstore', '-x509_strict', '-CAfile', join(dir, 'bundle.pem'), '-untrusted', join(dir, 'inter.pem'), join(dir, 'leaf.pem')]);
    expect(stdout).toMatch(/leaf\.pem: OK/);

    const bundle = await cp.call('GET', '/api/v1/tenants/acme/trust-bundle', ADMIN_TOKEN);
    expect(bundle.json()).toEqual(body.trustBundle);
  });

  it('signs only for tenants placed in the zone, and only well-formed requests', async () => {
    const other = await requestIntermediate('globex');
    expect(other.res.statusCode).toBe(404);
    expect(other.res.json().message).toBe('tenant "globex" is not placed in zone "zone-a"');
    const bad = await cp.call('POST', '/api/v1/zones/zone-a/intermediates/acme', zoneToken, { csr: 'garbage' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().details).toEqual([{ path: '/body/csr', message: 'not a PEM certificate request' }]);
  });

  it('keeps CA keys sealed at rest: no key in Redis, and another master key cannot open them', async () => {
    const ca = (await cp.store.getTenantCa('acme'))!;
    expect(ca.roots).toHaveLength(1);
    expect(JSON.stringify(ca)).not.toContain('PRIVATE KEY');
    await expect(new CaKeeper(randomBytes(32)).signer('acme', ca)).rejects.toThrow(/does not open/);
    // Each tenant has its own root.
    const globex = (await cp.store.getTenantCa('globex'))!;
    expect(globex.roots[0]!.certificatePem).not.toBe(ca.roots[0]!.certificatePem);
  });

  it('counts what it issued and how long roots have left, on /metrics', async () => {
    const metrics = (await cp.call('GET', '/metrics', undefined)).body;
    expect(metrics).toMatch(/meshfed_pki_certificates_issued_total\{kind="intermediate",component="global-cp"\} 1\b/);
    const expiry = /meshfed_pki_root_expiry_seconds\{tenant="acme",serial="[0-9a-f]+",state="active",component="global-cp"\} ([0-9.e+]+)/.exec(metrics);
    expect(Number(expiry![1]) / 86_400).toBeGreaterThan(3649);
  });

  it('stops signing for a zone once its token is revoked', async () => {
    expect((await cp.call('PATCH', '/api/v1/tenants/acme', ADMIN_TOKEN, { zones: [] })).statusCode).toBe(200);
    expect((await cp.call('DELETE', '/api/v1/zones/zone-a', ADMIN_TOKEN)).statusCode).toBe(204);
    expect((await requestIntermediate('acme')).res.statusCode).toBe(401);
  });
});
