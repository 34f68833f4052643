import { readFileSync, statSync } from 'node:fs';
import { parseDurationMs } from './duration.js';
import { ConfigError } from './errors.js';

export interface ListenAddress {
  host: string;
  port: number;
}

/** "127.0.0.1:5681", "[::1]:5681" or ":5681" (all interfaces). */
export function parseListenAddress(flag: string, value: string): ListenAddress {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):([0-9]{1,5})$/.exec(value);
  const port = Number(match?.[3]);
  if (!match || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`${flag}: "${value}" is not host:port (e.g. 127.0.0.1:5681)`);
  }
  return { host: match[1] ?? (match[2] || '0.0.0.0'), port };
}

export function parseUrl(flag: string, value: string, schemes: string[]): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${flag}: "${redactUrl(value)}" is not a URL (e.g. ${schemes[0]}://127.0.0.1)`);
  }
  if (!schemes.includes(url.protocol.replace(/:$/, ''))) {
    throw new ConfigError(`${flag}: "${redactUrl(value)}" must use ${schemes.map((s) => `${s}://`).join(' or ')}`);
  }
  return url;
}

/**
 * Hides the secrets in a URL before it is printed or logged: the password in
 * its user info and the value of every query parameter named like a secret
 * (`?sentinelPassword=…`). Works on text, not through `new URL`, so URLs that
 * WHATWG cannot parse are covered too — e.g. several hosts,
 * redis-sentinel://:pw@h1:26379,h2:26379/mymaster — and the rest stays exactly as written.
 */
export function redactUrl(value: string): string {
  const match = /^([a-z][a-z0-9+.-]*:\/\/)(.*)$/is.exec(value);
  if (!match) return value;
  const scheme = match[1]!;
  const afterScheme = match[2]!;
  const authorityEnd = afterScheme.search(/[/?#]/);
  const authority = authorityEnd < 0 ? afterScheme : afterScheme.slice(0, authorityEnd);
  const rest = authorityEnd < 0 ? '' : afterScheme.slice(authorityEnd);
  const at = authority.lastIndexOf('@');
  if (at < 0 && rest.includes('@')) {
    // An unencoded "/", "?" or "#" in a password ends the authority early; hide everything up to the last "@".
    return `${scheme}***${redactSecretParameters(afterScheme.slice(afterScheme.lastIndexOf('@')))}`;
  }
  const colon = authority.indexOf(':');
  const hidden = at >= 0 && colon >= 0 && colon < at - 1 ? `${authority.slice(0, colon)}:***${authority.slice(at)}` : authority;
  return `${scheme}${hidden}${redactSecretParameters(rest)}`;
}

function redactSecretParameters(text: string): string {
  return text.replace(/([?&][^=&#]*(?:pass|secret|token|key)[^=&#]*=)[^&#]*/gi, '$1***');
}

/** Reads a secret (a token) from a file, trimmed; refuses files anyone may read. */
export function readSecretFile(flag: string, path: string): string {
  let text: string;
  try {
    const mode = statSync(path).mode;
    if (mode & 0o004) throw new ConfigError(`${flag}: ${path} is readable by every user; chmod 600 it`);
    text = readFileSync(path, 'utf8').trim();
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(`${flag}: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  if (!text) throw new ConfigError(`${flag}: ${path} is empty`);
  return text;
}

export const MIN_ADMIN_TOKEN_LENGTH = 24;

export function checkAdminToken(source: string, token: string): string {
  if (token.length < MIN_ADMIN_TOKEN_LENGTH || /\s/.test(token)) {
    throw new ConfigError(`${source}: the admin token must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters without spaces`);
  }
  return token;
}

/** A duration flag ("250ms", "5s", "1m") in milliseconds, at least `minMs`. */
export function parseDurationFlag(flag: string, value: string, minMs: number): number {
  const ms = parseDurationMs(value);
  if (ms === undefined) throw new ConfigError(`${flag}: "${value}" is not a duration like 500ms, 5s or 1m`);
  if (ms < minMs) throw new ConfigError(`${flag}: must be at least ${minMs} ms`);
  return ms;
}

export function parseCount(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(`${flag}: "${value}" must be a whole number of at least 1`);
  return n;
}

/** The federation id prefixes NATS bucket names, which allow only letters, digits, - and _. */
export function parseFederationId(value: string): string {
  if (!/^[a-z0-9][a-z0-9_-]{0,31}$/.test(value)) throw new ConfigError(`--federation-id: "${value}" must be 1-32 lowercase letters, digits, - or _`);
  return value;
}

/**
 * The master key that seals CA keys at rest: a file holding 32 bytes as 64 hex
 * characters or as base64. Mode 600, like every secret file.
 */
export function readMasterKeyFile(flag: string, path: string): Buffer {
  const text = readSecretFile(flag, path);
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  const decoded = /^[A-Za-z0-9+/_-]{43}=?$/.test(text) ? Buffer.from(text, 'base64') : Buffer.alloc(0);
  if (decoded.length === 32) return decoded;
  throw new ConfigError(`${flag}: ${path} must hold a 32-byte key as 64 hex characters or base64 (e.g. openssl rand -hex 32)`);
}
