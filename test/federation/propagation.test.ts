import { afterEach, describe, expect, it } from 'vitest';
import type { PolicyDocument } from '../../core/schemas/policies/index.js';
import { api, eventually, registerZone } from '../helpers/federation.js';
import {
  Cleanup,
  createTenant,
  desiredContent,
  expectConverged,
  must,
  placeTenant,
  putRetry,
  readSnapshot,
  startGlobal,
  startZone,
  tenantsOf,
  timeoutBody,
} from './fixtures.js';

/** Policy written at the global CP → NATS → exactly the zones its tenant is placed in. */

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

describe('policy propagation', () => {
  it('a policy reaches every zone its tenant is placed in and no other; updates and deletes follow', async () => {
    const gcp = await startGlobal(cleanup);
    const tokens = { z1: await registerZone(gcp.url, 'z1', 'eu'), z2: await registerZone(gcp.url, 'z2', 'eu'), z3: await registerZone(gcp.url, 'z3', 'us') };
    await createTenant(gcp.url, 'acme', ['z1', 'z2']);
    await createTenant(gcp.url, 'globex', ['z3']);
    const [z1, z2, z3] = await Promise.all([startZone(cleanup, gcp, 'z1', tokens.z1), startZone(cleanup, gcp, 'z2', tokens.z2), startZone(cleanup, gcp, 'z3', tokens.z3)]);

    const retry = await putRetry(gcp.url, 'acme', 'web-retry', 3);
    const timeout = await must<PolicyDocument>(gcp.url, 'PUT', '/tenants/globex/policies/Timeout/web-timeout', 201, timeoutBody('5s'));
    // acme: created (1), Retry (2). globex: created (1), Timeout (2).
    for (const zone of [z1, z2]) {
      const content = await expectConverged(zone.cp, gcp.url, 'acme');
      expect(content.revision).toBe(2);
      expect(content.policies).toEqual({ 'Retry/web-retry': retry });
    }
    expect((await expectConverged(z3.cp, gcp.url, 'globex')).policies).toEqual({ 'Timeout/web-timeout': timeout });
    expect(tenantsOf(z1.cp)).toEqual(['acme']);
    expect(tenantsOf(z2.cp)).toEqual(['acme']);
    expect(tenantsOf(z3.cp)).toEqual(['globex']);
    expect(z1.cp.tenants().acme).toMatchObject({ name: 'acme', trustDomain: 'acme.mesh', zones: ['z1', 'z2'] });
    expect(z3.cp.tenants().globex).toMatchObject({ name: 'globex', trustDomain: 'globex.mesh', zones: ['z3'] });

    // An update replaces the document at both zones.
    const updated = await putRetry(gcp.url, 'acme', 'web-retry', 7);
    expect(updated.spec.attempts).toBe(7);
    expect(updated.metadata.generation).toBe(2);
    for (const zone of [z1, z2]) {
      const content = await expectConverged(zone.cp, gcp.url, 'acme');
      expect(content).toEqual({ revision: 3, policies: { 'Retry/web-retry': updated } });
    }

    // A delete removes it everywhere; the other tenant is untouched.
    await must(gcp.url, 'DELETE', '/tenants/acme/policies/Retry/web-retry', 204);
    for (const zone of [z1, z2]) expect(await expectConverged(zone.cp, gcp.url, 'acme')).toEqual({ revision: 4, policies: {} });
    expect(z3.cp.tenants().globex!.policies).toEqual({ 'Timeout/web-timeout': timeout });
    expect(z3.cp.tenants().globex!.revision).toBe(2);
    expect(tenantsOf(z3.cp)).toEqual(['globex']);

    // The zone's ops API shows the same.
    const state = (await (await fetch(`${z2.cp.url}/api/v1/state`)).json()) as { zone: string; authenticated: boolean; natsConnected: boolean; tenants: Record<string, { revision: number; policies: object }> };
    expect(state).toMatchObject({ zone: 'z2', version: 'test', authenticated: true, natsConnected: true });
    expect(Object.keys(state.tenants)).toEqual(['acme']);
    expect(state.tenants.acme).toMatchObject({ revision: 4, policies: {} });
  }, 30_000);

  it('a tenant added to a zone is picked up live; removed, it is dropped from the view and the snapshot', async () => {
    const gcp = await startGlobal(cleanup);
    const t1 = await registerZone(gcp.url, 'z1', 'eu');
    const t2 = await registerZone(gcp.url, 'z2', 'eu');
    await createTenant(gcp.url, 'acme', ['z1']);
    await createTenant(gcp.url, 'globex', ['z2']);
    const policy = await putRetry(gcp.url, 'acme', 'base', 2);
    const z1 = await startZone(cleanup, gcp, 'z1', t1);
    const z2 = await startZone(cleanup, gcp, 'z2', t2);
    await expectConverged(z1.cp, gcp.url, 'acme');
    await expectConverged(z2.cp, gcp.url, 'globex');
    expect(tenantsOf(z2.cp)).toEqual(['globex']);

    await placeTenant(gcp.url, 'acme', ['z1', 'z2']);
    const placed = await expectConverged(z2.cp, gcp.url, 'acme');
    expect(placed).toEqual({ revision: 3, policies: { 'Retry/base': policy } });
    expect(tenantsOf(z2.cp)).toEqual(['acme', 'globex']);
    expect(z1.cp.tenants().acme!.zones).toEqual(['z1', 'z2']);
    await eventually(async () => expect(Object.keys((await readSnapshot(z2.stateDir)).tenants).sort()).toEqual(['acme', 'globex']));

    await placeTenant(gcp.url, 'acme', ['z1']);
    await eventually(() => expect(tenantsOf(z2.cp)).toEqual(['globex']));
    await eventually(async () => {
      const snapshot = await readSnapshot(z2.stateDir);
      expect(Object.keys(snapshot.tenants)).toEqual(['globex']);
      expect(JSON.stringify(snapshot)).not.toContain('acme');
    });
    const state = (await (await fetch(`${z2.cp.url}/api/v1/state`)).json()) as { tenants: object };
    expect(Object.keys(state.tenants)).toEqual(['globex']);
    // z1 keeps the tenant, now placed in z1 only, at the revision of the placement change.
    expect(await expectConverged(z1.cp, gcp.url, 'acme')).toEqual({ revision: 4, policies: { 'Retry/base': policy } });
    await eventually(() => expect(z1.cp.tenants().acme!.zones).toEqual(['z1']));
    expect(await expectConverged(z2.cp, gcp.url, 'globex')).toEqual(await desiredContent(gcp.url, 'globex'));
  }, 30_000);

  it('a deleted tenant is dropped by its zones; re-created, the zone starts over from the new bucket', async () => {
    const gcp = await startGlobal(cleanup);
    const token = await registerZone(gcp.url, 'z1', 'eu');
    await createTenant(gcp.url, 'acme', ['z1']);
    await putRetry(gcp.url, 'acme', 'old', 2);
    await createTenant(gcp.url, 'globex', ['z1']);
    const z1 = await startZone(cleanup, gcp, 'z1', token);
    expect((await expectConverged(z1.cp, gcp.url, 'acme')).revision).toBe(2);

    await must(gcp.url, 'DELETE', '/tenants/acme', 204);
    await eventually(() => expect(tenantsOf(z1.cp)).toEqual(['globex']));
    await eventually(async () => expect(Object.keys((await readSnapshot(z1.stateDir)).tenants)).toEqual(['globex']));

    // Same name again: the revision keeps counting up (3 was the delete), the old policy is gone.
    await createTenant(gcp.url, 'acme', ['z1']);
    const fresh = await putRetry(gcp.url, 'acme', 'new', 4);
    const content = await expectConverged(z1.cp, gcp.url, 'acme');
    expect(content).toEqual({ revision: 5, policies: { 'Retry/new': fresh } });
    expect(tenantsOf(z1.cp)).toEqual(['acme', 'globex']);
  }, 30_000);

  it('a zone CP stopped while 1,000 updates are written converges to exactly the final state after restart', async () => {
    const gcp = await startGlobal(cleanup);
    const token = await registerZone(gcp.url, 'z1', 'eu');
    await createTenant(gcp.url, 'acme', ['z1']);
    for (let p = 0; p < 25; p++) await putRetry(gcp.url, 'acme', `p${p}`, 1);
    const first = await startZone(cleanup, gcp, 'z1', token);
    const before = await expectConverged(first.cp, gcp.url, 'acme');
    expect(before.revision).toBe(26);
    await first.cp.stop();
    const saved = await readSnapshot(first.stateDir);
    expect(saved.tenants.acme!.revision).toBe(26);

    // 25 policies × 40 writes = 1,000 committed writes; every fifth policy ends deleted, and p3 is deleted then re-created.
    const writes: Array<() => Promise<void>> = [];
    for (let p = 0; p < 25; p++) {
      writes.push(async () => {
        for (let step = 1; step <= 40; step++) {
          if (step === 40 && p % 5 === 0) {
            await must(gcp.url, 'DELETE', `/tenants/acme/policies/Retry/p${p}`, 204);
          } else if (p === 3 && step === 20) {
            await must(gcp.url, 'DELETE', `/tenants/acme/policies/Retry/p${p}`, 204);
          } else {
            const res = await api(gcp.url, 'PUT', `/tenants/acme/policies/Retry/p${p}`, { metadata: { labels: { step: String(step) } }, spec: { targetRef: { kind: 'Service', name: 'web', namespace: 'shop' }, attempts: 1 + (step % 10), retryOn: ['5xx'] } });
            expect([200, 201]).toContain(res.status);
          }
        }
      });
    }
    // Five writers at a time: each owns its policies, so the final state is known.
    for (let i = 0; i < writes.length; i += 5) await Promise.all(writes.slice(i, i + 5).map((w) => w()));
    const final = await desiredContent(gcp.url, 'acme');
    expect(final.revision).toBe(26 + 1000);
    expect(Object.keys(final.policies).length).toBe(20);
    expect(final.policies['Retry/p3']!.metadata.labels).toEqual({ step: '40' });
    expect(final.policies['Retry/p0']).toBeUndefined();

    const restarted = await startZone(cleanup, gcp, 'z1', token, { stateDir: first.stateDir });
    const converged = await expectConverged(restarted.cp, gcp.url, 'acme', 20_000);
    expect(converged).toEqual(final);
    await eventually(async () => {
      const snapshot = await readSnapshot(first.stateDir);
      expect(snapshot.tenants.acme!.revision).toBe(1026);
      expect(snapshot.tenants.acme!.policies).toEqual(final.policies);
    });
  }, 30_000);
});
