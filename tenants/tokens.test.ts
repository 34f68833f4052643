import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DEFAULT_TOKEN_TTL_MS, MAX_TOKEN_TTL_MS, TOKEN_PREFIX, generateToken, generateTokenId, hashToken, tokenKindOf, tokensEqual, type TokenKind } from './tokens.js';

const KINDS: TokenKind[] = ['tenant', 'zone', 'admin'];

describe('generateToken', () => {
  it('uses a distinct, recognisable prefix per kind', () => {
    expect(TOKEN_PREFIX).toEqual({ tenant: 'mft_', zone: 'mfz_', admin: 'mfa_' });
    expect(new Set(Object.values(TOKEN_PREFIX)).size).toBe(3);
  });

  it.each(KINDS)('makes a %s token: prefix + 32 random bytes in base64url', (kind) => {
    const token = generateToken(kind);
    expect(token.startsWith(TOKEN_PREFIX[kind])).toBe(true);
    const secret = token.slice(TOKEN_PREFIX[kind].length);
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(secret, 'base64url')).toHaveLength(32);
    expect(tokenKindOf(token)).toBe(kind);
  });

  it('never repeats', () => {
    const tokens = new Set(Array.from({ length: 200 }, () => generateToken('tenant')));
    expect(tokens.size).toBe(200);
  });
});

describe('generateTokenId', () => {
  it('is 16 lowercase hex digits and unique', () => {
    const ids = Array.from({ length: 200 }, generateTokenId);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{16}$/);
    expect(new Set(ids).size).toBe(200);
  });
});

describe('tokenKindOf', () => {
  it('reads the prefix, and nothing else', () => {
    expect(tokenKindOf('mft_abc')).toBe('tenant');
    expect(tokenKindOf('mfz_abc')).toBe('zone');
    expect(tokenKindOf('mfa_abc')).toBe('admin');
    expect(tokenKindOf('abc')).toBeUndefined();
    expect(tokenKindOf('')).toBeUndefined();
    expect(tokenKindOf('MFT_abc')).toBeUndefined();
    expect(tokenKindOf('xmft_abc')).toBeUndefined();
  });
});

describe('hashToken', () => {
  it('is deterministic SHA-256 hex, not the token itself', () => {
    const token = generateToken('tenant');
    expect(hashToken(token)).toBe(hashToken(token));
    expect(hashToken(token)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashToken(token)).not.toBe(token);
    expect(hashToken(token)).not.toContain(token.slice(4));
    expect(hashToken(token)).toBe(createHash('sha256').update(token).digest('hex'));
  });

  it('differs for different tokens', () => {
    expect(hashToken('mft_a')).not.toBe(hashToken('mft_b'));
    expect(hashToken(generateToken('zone'))).not.toBe(hashToken(generateToken('zone')));
  });
});

describe('tokensEqual', () => {
  it('is true only for identical tokens', () => {
    const token = generateToken('admin');
    expect(tokensEqual(token, token)).toBe(true);
    expect(tokensEqual(token, `${token}`)).toBe(true);
    expect(tokensEqual(token, generateToken('admin'))).toBe(false);
    expect(tokensEqual(token, token.slice(0, -1))).toBe(false);
    expect(tokensEqual(token, `${token}x`)).toBe(false);
    expect(tokensEqual(token, token.toUpperCase())).toBe(false);
    expect(tokensEqual('', token)).toBe(false);
    expect(tokensEqual('', '')).toBe(true);
  });
});

describe('TTL constants', () => {
  it('are 720h by default and 8760h at most', () => {
    expect(DEFAULT_TOKEN_TTL_MS).toBe(720 * 60 * 60 * 1000);
    expect(MAX_TOKEN_TTL_MS).toBe(8760 * 60 * 60 * 1000);
  });
});
