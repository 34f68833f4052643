import { describe, expect, it } from 'vitest';
import { issueDataplaneToken, verifyDataplaneToken } from './tokens.js';

const key = Buffer.alloc(32, 7);
const claims = { zone: 'zone-a', tenant: 'acme', namespace: 'shop', serviceAccount: 'web', issuedAt: 1000, expiresAt: 10_000 };

describe('dataplane tokens', () => {
  const { token } = issueDataplaneToken(key, claims, 'id1');

  it('verify gives back the binding', () => {
    expect(verifyDataplaneToken(key, token, 'zone-a', new Set(), 5000)).toEqual({ ok: true, claims: { id: 'id1', ...claims } });
  });

  it('refuses a changed payload, another key, another zone, an expired or revoked token', () => {
    const [payload, signature] = token.slice(4).split('.');
    const forged = Buffer.from(JSON.stringify({ id: 'id1', ...claims, tenant: 'other' })).toString('base64url');
    expect(verifyDataplaneToken(key, `mfd_${forged}.${signature}`, 'zone-a', new Set(), 5000)).toMatchObject({ ok: false, reason: /signature/ });
    expect(verifyDataplaneToken(Buffer.alloc(32, 8), token, 'zone-a', new Set(), 5000)).toMatchObject({ ok: false, reason: /signature/ });
    expect(verifyDataplaneToken(key, token, 'zone-b', new Set(), 5000)).toMatchObject({ ok: false, reason: /zone "zone-a"/ });
    expect(verifyDataplaneToken(key, token, 'zone-a', new Set(), 10_000)).toMatchObject({ ok: false, reason: /expired/ });
    expect(verifyDataplaneToken(key, token, 'zone-a', new Set(['id1']), 5000)).toMatchObject({ ok: false, reason: /revoked/ });
    expect(verifyDataplaneToken(key, `mfd_${payload}`, 'zone-a', new Set(), 5000)).toMatchObject({ ok: false, reason: /malformed/ });
    expect(verifyDataplaneToken(key, 'mfz_abc', 'zone-a', new Set(), 5000)).toMatchObject({ ok: false, reason: /not a dataplane token/ });
  });
});
