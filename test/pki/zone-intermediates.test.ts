import { execFile } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { createCsr, readCsr, signSvid } from '../../core/pki/authority.js';
import { generateKeyPair, importPrivateKeyPem, x509 } from '../../core/pki/crypto.js';
import { api, eventually, registerZone, startFederatedGlobalCp, startTestZoneCp, tempStateDir, zoneCpConfig } from '../helpers/federation.js';

const run = promisify(execFile);

it('a zone CP holds an intermediate CA of its own key per placed tenant, and deletes it when the tenant leaves', async () => {
  const globalCp = await startFederatedGlobalCp();
  const token = await registerZone(globalCp.url, 'zone-a', 'eu-west');
  expect((await api(globalCp.url, 'POST', '/tenants', { name: 'acme', zones: ['zone-a'] })).status).toBe(201);
  const stateDir = await tempStateDir();
  const zone = await startTestZoneCp(zoneCpConfig(globalCp, 'zone-a', token, stateDir));
  try {
    const dir = join(stateDir, 'pki', 'acme');
    const held = await eventually(async () => JSON.parse(await readFile(join(dir, 'intermediate.json'), 'utf8')) as { certificatePem: string; trustBundle: string[] }, 10_000);
    const keyFile = join(dir, 'intermediate.key');
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);

    // The zone's key signs a workload; openssl verifies the chain up to the tenant's trust bundle.
    const intermediate = new x509.X509Certificate(held.certificatePem);
    const privateKey = await importPrivateKeyPem(await readFile(keyFile, 'utf8'));
    const workload = await generateKeyPair();
    const id = 'spiffe://acme.mesh/ns/shop/sa/web';
    const leaf = await signSvid({ certificate: intermediate, privateKey }, await readCsr((await createCsr(workload, 'CN=w', id)).toString('pem')), { spiffeId: id, trustDomain: 'acme.mesh', ttlMs: 3_600_000 });
    await writeFile(join(stateDir, 'bundle.pem'), held.trustBundle.join('\n'));
    await writeFile(join(stateDir, 'leaf.pem'), leaf.toString('pem'));
    await writeFile(join(stateDir, 'inter.pem'), held.certificatePem);
    const { stdout } = await run('openssl', ['verify', '-no-CApath', '-no-CAstore', '-x509_strict', '-CAfile', join(stateDir, 'bundle.pem'), '-untrusted', join(stateDir, 'inter.pem'), join(stateDir, 'leaf.pem')]);
    expect(stdout).toMatch(/leaf\.pem: OK/);

    // Certificates, never keys, are on the debug endpoint; expiry is a metric.
    const state = await (await fetch(`${zone.url}/api/v1/state`)).json() as { intermediates: Array<{ tenant: string; certificatePem: string }> };
    expect(state.intermediates.map((i) => i.tenant)).toEqual(['acme']);
    expect(JSON.stringify(state)).not.toContain('PRIVATE KEY');
    const metrics = await (await fetch(`${zone.url}/metrics`)).text();
    expect(Number(/meshfed_zone_intermediate_expiry_seconds\{tenant="acme",component="zone-cp"\} ([0-9.e+]+)/.exec(metrics)![1]) / 86_400).toBeGreaterThan(29);

    expect((await api(globalCp.url, 'PATCH', '/tenants/acme', { zones: [] })).status).toBe(200);
    await eventually(async () => expect(await stat(keyFile).then(() => 'present', () => 'gone')).toBe('gone'), 10_000);
  } finally {
    await zone.stop();
    await globalCp.stop();
  }
}, 30_000);
