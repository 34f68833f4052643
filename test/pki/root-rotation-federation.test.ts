import { expect, it } from 'vitest';
import { api, eventually, registerZone, startFederatedGlobalCp, startTestZoneCp, tempStateDir, zoneCpConfig } from '../helpers/federation.js';

interface ZoneView {
  status: { tenants: Array<{ name: string; revision: number; appliedRevision: number | null; upToDate: boolean }> };
}

/**
 * Zones do not get certificates over NATS: a CA change bumps the tenant
 * revision, which federation publishes like any tenant change. The zone
 * applies it (its heartbeat reports the revision, so the admin can see every
 * zone has it) and reads the new bundle and signer with its own token.
 */
it('a root rotation reaches a zone as a new tenant revision, and the zone can read the new bundle and signer', async () => {
  const globalCp = await startFederatedGlobalCp();
  const token = await registerZone(globalCp.url, 'zone-a', 'eu-west');
  expect((await api(globalCp.url, 'POST', '/tenants', { name: 'acme', zones: ['zone-a'] })).status).toBe(201);
  const zone = await startTestZoneCp(zoneCpConfig(globalCp, 'zone-a', token, await tempStateDir()));
  const acmeIn = async () => (await api<ZoneView>(globalCp.url, 'GET', '/zones/zone-a')).body.status.tenants.find((t) => t.name === 'acme')!;
  try {
    await eventually(async () => expect((await acmeIn()).upToDate).toBe(true), 10_000);
    const before = await acmeIn();

    const rotated = await api<{ revision: number; roots: Array<{ serial: string; fingerprint: string }>; trustBundle: string[] }>(globalCp.url, 'POST', '/tenants/acme/roots', {});
    expect(rotated.status).toBe(201);
    expect(rotated.body.revision).toBeGreaterThan(before.revision);
    // Right after the write the zone is behind: the admin sees it is not up to date with the CA yet.
    const behind = await acmeIn();
    expect(behind.revision).toBe(rotated.body.revision);
    // Then the zone applies the revision that carries the rotation.
    await eventually(async () => expect(await acmeIn()).toMatchObject({ appliedRevision: rotated.body.revision, upToDate: true }), 10_000);

    const seen = await api<{ roots: string[]; signer: { serial: string }; revision: number }>(globalCp.url, 'GET', '/zones/zone-a/trust-bundles/acme', undefined, token);
    expect(seen.status).toBe(200);
    expect(seen.body).toMatchObject({ roots: rotated.body.trustBundle, signer: { serial: rotated.body.roots[0]!.serial }, revision: rotated.body.revision });

    // The zone follows by itself: both roots in the bundle it hands proxies, and an intermediate renewed under the new signer.
    const { x509 } = await import('../../core/pki/crypto.js');
    await eventually(async () => {
      const state = (await (await fetch(`${zone.url}/api/v1/state`)).json()) as { intermediates: Array<{ tenant: string; chainPem: string[]; trustBundle: string[] }> };
      const held = state.intermediates.find((i) => i.tenant === 'acme')!;
      expect(held.trustBundle).toEqual(rotated.body.trustBundle);
      expect(new x509.X509Certificate(held.chainPem[0]!).serialNumber).toBe(rotated.body.roots[0]!.serial);
    }, 15_000);
  } finally {
    await zone.stop();
    await globalCp.stop();
  }
}, 30_000);
