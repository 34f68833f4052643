import { describe, expect, it } from 'vitest';
import { spiffeIdOf } from './peer-identity.js';

describe('spiffeIdOf', () => {
  it('reads the one spiffe URI SAN', () => {
    expect(spiffeIdOf({ subjectaltname: 'URI:spiffe://acme.mesh/ns/shop/sa/web' })).toBe('spiffe://acme.mesh/ns/shop/sa/web');
    expect(spiffeIdOf({ subjectaltname: 'DNS:web.local, URI:spiffe://acme.mesh/ns/shop/sa/web' })).toBe('spiffe://acme.mesh/ns/shop/sa/web');
  });

  it('refuses none, another scheme, or two identities', () => {
    expect(spiffeIdOf(undefined)).toBeUndefined();
    expect(spiffeIdOf({ subjectaltname: 'DNS:web.local' })).toBeUndefined();
    expect(spiffeIdOf({ subjectaltname: 'URI:https://example.com' })).toBeUndefined();
    expect(spiffeIdOf({ subjectaltname: 'URI:spiffe://a.mesh/ns/x/sa/y, URI:spiffe://b.mesh/ns/x/sa/y' })).toBeUndefined();
  });
});
