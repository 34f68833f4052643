import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { x509 } from '../../core/pki/crypto.js';
import { CaKeeper } from '../../global-cp/ca/ca-keeper.js';
import { ADMIN_TOKEN, TEST_MASTER_KEY, startTestGlobalCp, type TestGlobalCp } from '../helpers/global-cp.js';
import { issueSvid, requestZoneIntermediate, run, verdict } from './pki-fixtures.js';

interface RootView {
  serial: string;
  status: 'active' | 'staged' | 'retiring';
  active: boolean;
  source: string;
  subject: string;
  notBefore: string;
  notAfter: string;
  fingerprint: string;
  certificate: string;
  root: { serial: string; fingerprint: string; certificate: string };
}
interface CaState {
  tenant: string;
  trustDomain: string;
  revision: number;
  roots: RootView[];
  trustBundle: string[];
}

const WEB = 'spiffe://acme.mesh/ns/shop/sa/web';

describe('root rotation API', () => {
  let cp: TestGlobalCp;
  let zoneToken: string;
  let dir: string;

  const roots = async (tenant = 'acme', token = ADMIN_TOKEN) => {
    const res = await cp.call('GET', `/api/v1/tenants/${tenant}/roots`, token);
    expect(res.statusCode, res.body).toBe(200);
    return res.json<CaState>();
  };
  const bundle = async (tenant = 'acme') => (await cp.call('GET', `/api/v1/tenants/${tenant}/trust-bundle`, ADMIN_TOKEN)).json<{ roots: string[] }>().roots;
  const rotate = async (tenant: string, body: Record<string, unknown> = {}) => {
    const res = await cp.call('POST', `/api/v1/tenants/${tenant}/roots`, ADMIN_TOKEN, body);
    expect(res.statusCode, res.body).toBe(201);
    return res.json<CaState>();
  };
  const newTenant = async (name: string, zones: string[] = []) => expect((await cp.call('POST', '/api/v1/tenants', ADMIN_TOKEN, { name, zones })).statusCode).toBe(201);

  beforeAll(async () => {
    cp = await startTestGlobalCp();
    dir = await mkdtemp(join(tmpdir(), 'meshfed-rotation-'));
    zoneToken = (await cp.call('POST', '/api/v1/zones', ADMIN_TOKEN, { name: 'zone-a', region: 'eu-west', location: 'dc:a', kind: 'universal' })).json<{ token: string }>().token;
    await newTenant('acme', ['zone-a']);
    await newTenant('globex');
  });
  afterAll(async () => cp.close());

  it('lists the one root a tenant starts with: serial, validity and the fingerprint openssl computes, never a key', async () => {
    const state = await roots();
    expect(state).toMatchObject({ tenant: 'acme', trustDomain: 'acme.mesh' });
    expect(state.roots).toHaveLength(1);
    const [root] = state.roots;
    expect(root).toMatchObject({ status: 'active', active: true, source: 'generated' });
    expect(state.trustBundle).toEqual([root!.certificate]);
    expect(root!.root.fingerprint).toBe(root!.fingerprint);
    await writeFile(join(dir, 'root.pem'), root!.certificate);
    const { stdout } = await run('openssl', ['x509', '-noout', '-serial', '-fingerprint', '-sha256', '-in', join(dir, 'root.pem')]);
    expect(stdout).toContain(`sha256 Fingerprint=${root!.fingerprint}`);
    expect(stdout.toLowerCase()).toContain(`serial=${root!.serial}`);
    expect(Date.parse(root!.notAfter) - Date.now()).toBeGreaterThan(3649 * 86_400_000);
    expect(JSON.stringify(state)).not.toMatch(/PRIVATE KEY|sealedKey/);
  });

  it('rotates: the new root signs, the bundle keeps both, old chains still verify and new ones chain only to the new root', async () => {
    const before = await roots();
    const oldRoot = before.roots[0]!;
    const oldZone = await requestZoneIntermediate(cp, 'zone-a', zoneToken, 'acme');
    const oldSvid = await issueSvid(oldZone, WEB);
    const tenantBefore = (await cp.call('GET', '/api/v1/tenants/acme', ADMIN_TOKEN)).json<{ metadata: { resourceVersion: string } }>();

    const after = await rotate('acme');
    expect(after.roots.map((r) => [r.status, r.active])).toEqual([
      ['active', true],
      ['retiring', false],
    ]);
    const newRoot = after.roots[0]!;
    expect(after.roots[1]!.serial).toBe(oldRoot.serial);
    expect(newRoot.serial).not.toBe(oldRoot.serial);
    expect(newRoot.subject).not.toBe(oldRoot.subject);
    expect(after.trustBundle).toEqual([newRoot.certificate, oldRoot.certificate]);
    expect(await bundle()).toEqual(after.trustBundle);
    expect(after.revision).toBeGreaterThan(before.revision);
    expect(JSON.stringify(after)).not.toMatch(/PRIVATE KEY|sealedKey/);
    // The tenant document itself did not change.
    expect((await cp.call('GET', '/api/v1/tenants/acme', ADMIN_TOKEN)).json<{ metadata: { resourceVersion: string } }>().metadata.resourceVersion).toBe(tenantBefore.metadata.resourceVersion);

    // Intermediates signed from now on are issued by the new root.
    const newZone = await requestZoneIntermediate(cp, 'zone-a', zoneToken, 'acme');
    expect(newZone.identity.certificate.issuer).toBe(new x509.X509Certificate(newRoot.certificate).subject);
    expect(newZone.reply.chain).toEqual([newRoot.certificate]);
    expect(newZone.reply.trustBundle.roots).toEqual(after.trustBundle);
    const newSvid = await issueSvid(newZone, WEB);

    for (const purpose of ['sslclient', 'sslserver']) {
      expect(await verdict(dir, after.trustBundle, newSvid, ['-purpose', purpose])).toBe('OK');
      expect(await verdict(dir, after.trustBundle, oldSvid, ['-purpose', purpose])).toBe('OK');
    }
    // Each chain ends at its own root and no other.
    expect(await verdict(dir, [newRoot.certificate], newSvid)).toBe('OK');
    expect(await verdict(dir, [oldRoot.certificate], newSvid)).toMatch(/unable to get (local )?issuer certificate/);
    expect(await verdict(dir, [newRoot.certificate], oldSvid)).toMatch(/unable to get (local )?issuer certificate/);

    // Retire the old root: the bundle has one again, and what it signed stops verifying.
    const retired = await cp.call('DELETE', `/api/v1/tenants/acme/roots/${oldRoot.serial}`, ADMIN_TOKEN);
    expect(retired.statusCode, retired.body).toBe(200);
    const final = retired.json<CaState>();
    expect(final.roots.map((r) => r.serial)).toEqual([newRoot.serial]);
    expect(final.revision).toBeGreaterThan(after.revision);
    expect(await bundle()).toEqual([newRoot.certificate]);
    expect(await verdict(dir, await bundle(), newSvid)).toBe('OK');
    expect(await verdict(dir, await bundle(), oldSvid)).toMatch(/unable to get (local )?issuer certificate/);
    // The zone's intermediate under the new root is unaffected: it is still what the zone signs with.
    expect((await requestZoneIntermediate(cp, 'zone-a', zoneToken, 'acme')).reply.chain).toEqual([newRoot.certificate]);
  });

  it('refuses to retire the active signer or the last root (409 naming why), and writes nothing', async () => {
    await newTenant('refusals');
    const only = (await roots('refusals')).roots[0]!;
    const last = await cp.call('DELETE', `/api/v1/tenants/refusals/roots/${only.serial}`, ADMIN_TOKEN);
    expect(last.statusCode).toBe(409);
    expect(last.json()).toEqual({
      error: 'LastRoot',
      message: `root ${only.serial} is the tenant's last root; add another and activate it first`,
      details: [{ path: '/params/serial', message: expect.stringContaining('last root') }],
    });

    const rotated = await rotate('refusals');
    const active = rotated.roots[0]!;
    const refused = await cp.call('DELETE', `/api/v1/tenants/refusals/roots/${active.serial.toUpperCase()}`, ADMIN_TOKEN);
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toMatchObject({ error: 'ActiveRoot', message: expect.stringContaining('is the active signer') });
    expect(await roots('refusals')).toEqual(rotated);

    const unknown = await cp.call('DELETE', '/api/v1/tenants/refusals/roots/0123456789abcdef', ADMIN_TOKEN);
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().message).toBe('no root with serial 0123456789abcdef');
    const malformed = await cp.call('DELETE', '/api/v1/tenants/refusals/roots/not-hex', ADMIN_TOKEN);
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().details[0].path).toBe('/params/serial');
    expect(await roots('refusals')).toEqual(rotated);
  });

  it('answers 404 for a tenant that does not exist', async () => {
    for (const [method, url] of [
      ['GET', '/api/v1/tenants/ghost/roots'],
      ['POST', '/api/v1/tenants/ghost/roots'],
      ['POST', '/api/v1/tenants/ghost/roots/0123abcd/activate'],
      ['DELETE', '/api/v1/tenants/ghost/roots/0123abcd'],
    ] as const) {
      const res = await cp.call(method, url, ADMIN_TOKEN, method === 'POST' ? {} : undefined);
      expect(res.statusCode, `${method} ${url}`).toBe(404);
      expect(res.json()).toEqual({ error: 'NotFound', message: 'tenant "ghost" not found', details: [] });
    }
  });

  it('lets a tenant token read its roots but never change them (403 own, 404 another tenant\'s)', async () => {
    const mint = async (tenant: string, role: string) => (await cp.call('POST', `/api/v1/tenants/${tenant}/tokens`, ADMIN_TOKEN, { role })).json<{ token: string }>().token;
    const acmeAdmin = await mint('acme', 'admin');
    const acmeViewer = await mint('acme', 'viewer');
    const globexAdmin = await mint('globex', 'admin');
    const before = await roots();
    expect(await roots('acme', acmeViewer)).toEqual(before);

    const own = await cp.call('POST', '/api/v1/tenants/acme/roots', acmeAdmin, {});
    expect(own.statusCode).toBe(403);
    expect(own.json().message).toBe('an admin token of tenant "acme" may not tenant write');
    expect((await cp.call('DELETE', `/api/v1/tenants/acme/roots/${before.roots[0]!.serial}`, acmeAdmin)).statusCode).toBe(403);
    const other = await cp.call('POST', '/api/v1/tenants/acme/roots', globexAdmin, {});
    expect(other.statusCode).toBe(404);
    expect(other.json()).toEqual({ error: 'NotFound', message: 'tenant "acme" not found', details: [] });
    expect((await cp.call('GET', '/api/v1/tenants/acme/roots', globexAdmin)).statusCode).toBe(404);
    expect((await cp.call('POST', '/api/v1/tenants/acme/roots', zoneToken, {})).statusCode).toBe(403);
    expect(await roots()).toEqual(before);
  });

  it('stages a root (activate: false) into the bundle without signing with it, then activates it', async () => {
    await newTenant('staging', ['zone-a']);
    const first = (await roots('staging')).roots[0]!;
    const staged = await rotate('staging', { activate: false });
    expect(staged.roots.map((r) => [r.serial === first.serial, r.status])).toEqual([
      [true, 'active'],
      [false, 'staged'],
    ]);
    const next = staged.roots[1]!;
    expect(staged.trustBundle).toEqual([first.certificate, next.certificate]);
    // Still signed by the first root: the staged one is only trusted so far.
    const zone = await requestZoneIntermediate(cp, 'zone-a', zoneToken, 'staging');
    expect(zone.reply.chain).toEqual([first.certificate]);
    expect(zone.reply.trustBundle.roots).toEqual(staged.trustBundle);

    const activated = await cp.call('POST', `/api/v1/tenants/staging/roots/${next.serial}/activate`, ADMIN_TOKEN);
    expect(activated.statusCode, activated.body).toBe(200);
    const state = activated.json<CaState>();
    expect(state.roots.map((r) => [r.serial, r.status])).toEqual([
      [next.serial, 'active'],
      [first.serial, 'retiring'],
    ]);
    expect(state.revision).toBeGreaterThan(staged.revision);
    expect((await requestZoneIntermediate(cp, 'zone-a', zoneToken, 'staging')).reply.chain).toEqual([next.certificate]);
    // Activating the signer again changes nothing, not even the revision.
    const again = await cp.call('POST', `/api/v1/tenants/staging/roots/${next.serial}/activate`, ADMIN_TOKEN);
    expect(again.json()).toEqual(state);
    // Rolling back to the retiring root works the same way.
    const back = await cp.call('POST', `/api/v1/tenants/staging/roots/${first.serial}/activate`, ADMIN_TOKEN);
    expect(back.json<CaState>().roots.map((r) => r.serial)).toEqual([first.serial, next.serial]);
  });

  it('commits each change atomically with a new tenant revision and a "tenant" change in the outbox, concurrent rotations included', async () => {
    await newTenant('busy');
    const start = await cp.store.newestChangeId();
    const before = await roots('busy');
    const results = await Promise.all([1, 2, 3, 4].map(() => cp.call('POST', '/api/v1/tenants/busy/roots', ADMIN_TOKEN, {})));
    expect(results.map((r) => r.statusCode)).toEqual([201, 201, 201, 201]);
    const revisions = results.map((r) => r.json<CaState>().revision).sort((a, b) => a - b);
    expect(new Set(revisions).size).toBe(4);
    const after = await roots('busy');
    // No rotation lost another's root: the first root and all four new ones are there.
    expect(after.roots).toHaveLength(5);
    expect(after.roots.map((r) => r.serial)).toContain(before.roots[0]!.serial);
    expect(after.roots.filter((r) => r.active)).toHaveLength(1);
    expect(after.revision).toBe(revisions.at(-1));
    const changes = (await cp.store.readChanges(start, 100, 10)).filter((c) => c.tenant === 'busy');
    expect(changes.map((c) => [c.what, c.revision])).toEqual(revisions.map((r) => ['tenant', r]));
    // A refused change writes nothing: no revision, no change entry.
    const refused = await cp.call('DELETE', `/api/v1/tenants/busy/roots/${after.roots[0]!.serial}`, ADMIN_TOKEN);
    expect(refused.statusCode).toBe(409);
    expect((await roots('busy')).revision).toBe(after.revision);
    expect((await cp.store.readChanges(await cp.store.newestChangeId(), 10, 10)).length).toBe(0);
  });

  it('tells a zone (its token) the bundle and the signer of a tenant placed in it, and nothing about others', async () => {
    const state = await roots();
    const res = await cp.call('GET', '/api/v1/zones/zone-a/trust-bundles/acme', zoneToken);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({
      trustDomain: 'acme.mesh',
      roots: state.trustBundle,
      signer: { serial: state.roots[0]!.serial, fingerprint: state.roots[0]!.fingerprint, rootFingerprint: state.roots[0]!.root.fingerprint },
      revision: state.revision,
    });
    const notPlaced = await cp.call('GET', '/api/v1/zones/zone-a/trust-bundles/globex', zoneToken);
    expect(notPlaced.statusCode).toBe(404);
    expect(notPlaced.json().message).toBe('tenant "globex" is not placed in zone "zone-a"');
  });

  it('keeps every key sealed in Redis, each opening only with the master key, and reports each root\'s expiry on /metrics', async () => {
    await newTenant('metered');
    const rotated = await rotate('metered');
    const ca = (await cp.store.getTenantCa('metered'))!;
    expect(ca.roots).toHaveLength(2);
    expect(JSON.stringify(ca)).not.toContain('PRIVATE KEY');
    const signer = await new CaKeeper(TEST_MASTER_KEY).signer('metered', ca);
    expect(signer.certificate.serialNumber).toBe(rotated.roots[0]!.serial);

    const metrics = (await cp.call('GET', '/metrics', undefined)).body;
    for (const root of rotated.roots) {
      const line = new RegExp(`meshfed_pki_root_expiry_seconds\\{tenant="metered",serial="${root.serial}",state="${root.status}",component="global-cp"\\} ([0-9.e+]+)`).exec(metrics);
      expect(line, `${root.status} root ${root.serial}`).not.toBeNull();
      expect(Number(line![1]) / 86_400).toBeGreaterThan(3649);
    }
  });
});
