import { describe, expect, it } from 'vitest';
import type { Principal } from '../../tenants/authorization.js';
import { tokenExpiry } from './tokens.js';

const NOW = Date.parse('2025-06-01T12:00:00.000Z');
const HOUR = 3_600_000;
const ADMIN: Principal = { kind: 'admin' };
const tenantToken = (expiresAt: string): Principal => ({ kind: 'tenant', tenant: 'acme', role: 'admin', tokenId: '0123456789abcdef', expiresAt });
const TOO_SHORT = { error: 'must be a duration of at least 1m, e.g. 24h' };
const TOO_LONG = { error: 'must be at most 8760h (one year)' };

describe('tokenExpiry', () => {
  it('defaults to 720h', () => {
    expect(tokenExpiry(NOW, undefined, ADMIN)).toEqual({ expiresAtMs: NOW + 720 * HOUR });
  });

  it('uses the requested lifetime', () => {
    expect(tokenExpiry(NOW, '24h', ADMIN)).toEqual({ expiresAtMs: NOW + 24 * HOUR });
    expect(tokenExpiry(NOW, '1h30m', ADMIN)).toEqual({ expiresAtMs: NOW + 1.5 * HOUR });
  });

  it('accepts exactly 1m and refuses anything shorter', () => {
    expect(tokenExpiry(NOW, '1m', ADMIN)).toEqual({ expiresAtMs: NOW + 60_000 });
    expect(tokenExpiry(NOW, '60s', ADMIN)).toEqual({ expiresAtMs: NOW + 60_000 });
    expect(tokenExpiry(NOW, '59s', ADMIN)).toEqual(TOO_SHORT);
    expect(tokenExpiry(NOW, '59999ms', ADMIN)).toEqual(TOO_SHORT);
    expect(tokenExpiry(NOW, '0.5m', ADMIN)).toEqual(TOO_SHORT);
    expect(tokenExpiry(NOW, '0s', ADMIN)).toEqual(TOO_SHORT);
  });

  it('accepts exactly 8760h and refuses anything longer', () => {
    expect(tokenExpiry(NOW, '8760h', ADMIN)).toEqual({ expiresAtMs: NOW + 8760 * HOUR });
    expect(tokenExpiry(NOW, '8760h1ms', ADMIN)).toEqual(TOO_LONG);
    expect(tokenExpiry(NOW, '8761h', ADMIN)).toEqual(TOO_LONG);
    expect(tokenExpiry(NOW, '525601m', ADMIN)).toEqual(TOO_LONG);
  });

  it.each(['', 'forever', '24', '-1h', '1d', '24h '])('refuses the malformed ttl %j', (ttl) => {
    expect(tokenExpiry(NOW, ttl, ADMIN)).toEqual(TOO_SHORT);
  });

  it("caps a tenant token's new token at the creator's own expiry", () => {
    const creator = tenantToken(new Date(NOW + 2 * HOUR).toISOString());
    expect(tokenExpiry(NOW, '24h', creator)).toEqual({ expiresAtMs: NOW + 2 * HOUR });
    expect(tokenExpiry(NOW, undefined, creator)).toEqual({ expiresAtMs: NOW + 2 * HOUR });
    expect(tokenExpiry(NOW, '1h', creator)).toEqual({ expiresAtMs: NOW + HOUR });
    expect(tokenExpiry(NOW, '2h', creator)).toEqual({ expiresAtMs: NOW + 2 * HOUR });
  });

  it('caps even below 1m when the creator is about to expire', () => {
    const creator = tenantToken(new Date(NOW + 30_000).toISOString());
    expect(tokenExpiry(NOW, '1m', creator)).toEqual({ expiresAtMs: NOW + 30_000 });
  });

  it('still validates the ttl for a tenant creator', () => {
    const creator = tenantToken(new Date(NOW + 2 * HOUR).toISOString());
    expect(tokenExpiry(NOW, '30s', creator)).toEqual(TOO_SHORT);
    expect(tokenExpiry(NOW, '9000h', creator)).toEqual(TOO_LONG);
  });

  it('does not cap the admin or a zone', () => {
    expect(tokenExpiry(NOW, '8760h', ADMIN)).toEqual({ expiresAtMs: NOW + 8760 * HOUR });
    expect(tokenExpiry(NOW, '48h', { kind: 'zone', zone: 'z1' })).toEqual({ expiresAtMs: NOW + 48 * HOUR });
  });
});
