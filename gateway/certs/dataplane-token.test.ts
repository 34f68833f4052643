import { describe, expect, it } from 'vitest';
import { issueDataplaneToken } from '../../zone-cp/dataplanes/tokens.js';
import { entitledSpiffeId, readDataplaneToken } from './dataplane-token.js';

const key = Buffer.alloc(32, 7);
const claims = { zone: 'zone-a', tenant: 'acme', namespace: 'shop', serviceAccount: 'web', issuedAt: 1, expiresAt: 2_000_000_000_000 };

describe('readDataplaneToken', () => {
  it("reads what the zone CP's tokens carry, and derives the SPIFFE ID with the trust domain given or <tenant>.mesh", () => {
    const { token } = issueDataplaneToken(key, claims);
    const read = readDataplaneToken(token);
    expect(read).toEqual({ zone: 'zone-a', tenant: 'acme', namespace: 'shop', serviceAccount: 'web', expiresAt: new Date(2_000_000_000_000), ingress: false });
    expect(entitledSpiffeId(read)).toBe('spiffe://acme.mesh/ns/shop/sa/web');
    expect(entitledSpiffeId(read, 'acme.example.com')).toBe('spiffe://acme.example.com/ns/shop/sa/web');
  });

  it('knows an ingress token, which entitles no identity', () => {
    const { token } = issueDataplaneToken(key, { ...claims, tenant: '', namespace: '', serviceAccount: '', ingress: true });
    const read = readDataplaneToken(token);
    expect(read.ingress).toBe(true);
    expect(() => entitledSpiffeId(read)).toThrow(/no workload identity/);
  });

  it('refuses what is not a dataplane token, without echoing it', () => {
    expect(() => readDataplaneToken('mfa_secret')).toThrow(/not a dataplane token/);
    expect(() => readDataplaneToken('mfd_onlyonepart')).toThrow(/malformed/);
    expect(() => readDataplaneToken(`mfd_${Buffer.from('[1]').toString('base64url')}.sig`)).toThrow(/malformed/);
    expect(() => readDataplaneToken(`mfd_${Buffer.from('null').toString('base64url')}.sig`)).toThrow(/not an object/);
    expect(() => readDataplaneToken(`mfd_${Buffer.from('{"zone":"z","expiresAt":1}').toString('base64url')}.sig`)).toThrow(/tenant, namespace or service account missing/);
    const message = (() => {
      try {
        readDataplaneToken('mfd_c2VjcmV0.c2lnbmF0dXJl');
        return 'no error';
      } catch (error) {
        return (error as Error).message;
      }
    })();
    expect(message).toMatch(/malformed/);
    expect(message).not.toContain('c2VjcmV0');
  });
});
