import { createSecureContext } from 'node:tls';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { x509 } from '../../core/pki/crypto.js';
import { SvidManager, type Svid, type SvidManagerOptions } from '../../gateway/certs/index.js';
import { eventually } from '../helpers/federation.js';
import { ZoneFixture, metricValue, testLogger } from './zone-fixture.js';

/** Against a real zone CP whose SVIDs live 6 s: renewals come every few seconds. */
describe('gateway SVID manager', () => {
  let fixture: ZoneFixture;
  const managers: SvidManager[] = [];

  beforeAll(async () => {
    fixture = await ZoneFixture.start([{ name: 'acme' }, { name: 'initech', trustDomain: 'initech.example' }], { svidTtlMs: 6_000 });
  }, 60_000);

  afterAll(async () => {
    await Promise.all(managers.map((m) => m.stop()));
    await fixture?.stop();
  });

  const manager = (options: Partial<SvidManagerOptions> & { token: string }) => {
    const created = new SvidManager({
      address: fixture.zone.grpcAddress,
      caFile: fixture.zone.grpcCaFile,
      registry: new Registry(),
      log: testLogger(),
      retry: { initialMs: 100, factor: 1.6, maxMs: 500, jitter: 0.2 },
      ...options,
    });
    managers.push(created);
    return created;
  };

  it("issues the token's SPIFFE ID for a key of its own, chained to the tenant's trust bundle", async () => {
    const registry = new Registry();
    const svids = manager({ token: fixture.token('acme', 'web'), registry });
    expect(svids.spiffeId).toBe('spiffe://acme.mesh/ns/demo/sa/web');
    svids.start();
    const svid = await svids.ready();
    expect(svid.spiffeId).toBe('spiffe://acme.mesh/ns/demo/sa/web');
    expect(svid.certChainPem).toHaveLength(2);
    const [leaf, intermediate] = svid.certChainPem.map((pem) => new x509.X509Certificate(pem));
    expect(leaf!.getExtension(x509.SubjectAlternativeNameExtension)?.names.items.map((n) => n.value)).toEqual(['spiffe://acme.mesh/ns/demo/sa/web']);
    expect(await leaf!.verify({ publicKey: intermediate!.publicKey, date: new Date() })).toBe(true);
    const roots = svid.trustBundlePem.map((pem) => new x509.X509Certificate(pem));
    expect((await Promise.all(roots.map((root) => intermediate!.verify({ publicKey: root.publicKey, date: new Date() })))).some(Boolean)).toBe(true);
    // The key and chain make a TLS context as they are (a mismatch would throw).
    expect(() => createSecureContext({ key: svid.keyPem, cert: svid.certChainPem.join('\n'), ca: svid.trustBundlePem })).not.toThrow();
    expect(svid.expiresAt.getTime() - Date.now()).toBeLessThanOrEqual(6_000);
    expect(await metricValue(registry, 'meshfed_gateway_svid_renewals_total', { result: 'ok' })).toBeGreaterThanOrEqual(1);
    const expiry = await metricValue(registry, 'meshfed_gateway_svid_expiry_seconds');
    expect(expiry).toBeGreaterThan(0);
    expect(expiry).toBeLessThanOrEqual(6);
  });

  it('renews at half-life with a fresh key, telling listeners each time', async () => {
    const svids = manager({ token: fixture.token('acme', 'api') });
    const seen: Svid[] = [];
    svids.onUpdate((svid) => seen.push(svid));
    svids.start();
    await eventually(() => expect(seen.length).toBeGreaterThanOrEqual(3), 15_000, 50);
    const [first, second, third] = seen;
    expect(new Set([first!.keyPem, second!.keyPem, third!.keyPem]).size).toBe(3);
    const serial = (svid: Svid) => new x509.X509Certificate(svid.certChainPem[0]!).serialNumber;
    expect(new Set([serial(first!), serial(second!), serial(third!)]).size).toBe(3);
    // Renewed before the previous one expired: no gap.
    expect(second!.expiresAt.getTime()).toBeGreaterThan(first!.expiresAt.getTime());
    expect(svids.current()).toBe(seen.at(-1));
  }, 20_000);

  it('takes the trust domain from the token, and is refused one the token does not entitle', async () => {
    const fromToken = manager({ token: fixture.token('initech', 'web') });
    expect(fromToken.spiffeId).toBe('spiffe://initech.example/ns/demo/sa/web');
    fromToken.start();
    expect((await fromToken.ready()).spiffeId).toBe('spiffe://initech.example/ns/demo/sa/web');
    const registry = new Registry();
    const wrong = manager({ token: fixture.token('initech', 'web'), trustDomain: 'initech.mesh', registry });
    expect(wrong.spiffeId).toBe('spiffe://initech.mesh/ns/demo/sa/web');
    wrong.start();
    await eventually(async () => expect(await metricValue(registry, 'meshfed_gateway_svid_renewals_total', { result: 'refused' })).toBeGreaterThanOrEqual(1));
    expect(wrong.current()).toBeUndefined();
    const right = manager({ token: fixture.token('initech', 'web'), trustDomain: 'initech.example' });
    right.start();
    expect((await right.ready()).spiffeId).toBe('spiffe://initech.example/ns/demo/sa/web');
  });

  it('keeps serving its SVID while the zone CP is down, retries, and gets a new one once it is back', async () => {
    const registry = new Registry();
    const svids = manager({ token: fixture.token('acme', 'db'), registry });
    const seen: Svid[] = [];
    svids.onUpdate((svid) => seen.push(svid));
    svids.start();
    await svids.ready();
    // Right after a fresh SVID, so the outage starts well before it expires.
    const before = seen.length;
    await eventually(() => expect(seen.length).toBeGreaterThan(before), 10_000, 20);
    const held = seen.at(-1)!;
    await fixture.stopZone();
    try {
      expect(svids.current()).toBe(held);
      await eventually(async () => expect(await metricValue(registry, 'meshfed_gateway_svid_renewals_total', { result: 'unavailable' })).toBeGreaterThanOrEqual(2), 10_000, 50);
      if (Date.now() < held.expiresAt.getTime() - 200) expect(svids.current()).toBe(held);
      // Once it has expired nothing is served: an expired SVID would only fail handshakes.
      await eventually(() => expect(svids.current()).toBeUndefined(), 10_000, 50);
      expect(await metricValue(registry, 'meshfed_gateway_svid_expiry_seconds')).toBeLessThanOrEqual(0);
    } finally {
      await fixture.startZone();
    }
    await eventually(() => expect(svids.current()).toBeDefined(), 15_000, 50);
    expect(svids.current()!.keyPem).not.toBe(held.keyPem);
  }, 40_000);
});
