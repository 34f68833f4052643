import { randomBytes, timingSafeEqual } from 'node:crypto';
import { sha256Hex } from '../core/canonical-json.js';

/** Prefixes make a leaked token recognisable (secret scanners) and say what it unlocks. */
export const TOKEN_PREFIX = { tenant: 'mft_', zone: 'mfz_', admin: 'mfa_' } as const;
export type TokenKind = keyof typeof TOKEN_PREFIX;

export function generateToken(kind: TokenKind): string {
  return TOKEN_PREFIX[kind] + randomBytes(32).toString('base64url');
}

export function generateTokenId(): string {
  return randomBytes(8).toString('hex');
}

/** Tokens are stored only as this hash; a 256-bit random token needs no slow KDF. */
export function hashToken(token: string): string {
  return sha256Hex(token);
}

export function tokenKindOf(token: string): TokenKind | undefined {
  return (Object.keys(TOKEN_PREFIX) as TokenKind[]).find((k) => token.startsWith(TOKEN_PREFIX[k]));
}

/** Constant-time comparison of a presented token with a configured one. */
export function tokensEqual(presented: string, expected: string): boolean {
  const a = Buffer.from(hashToken(presented), 'hex');
  const b = Buffer.from(hashToken(expected), 'hex');
  return timingSafeEqual(a, b);
}

export const DEFAULT_TOKEN_TTL_MS = 720 * 3_600_000;
export const MAX_TOKEN_TTL_MS = 8760 * 3_600_000;
