import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { open, seal } from './secret-box.js';

describe('secret box (AES-256-GCM at rest)', () => {
  const key = randomBytes(32);

  it('opens what it sealed, and the sealed text does not contain the secret', () => {
    const sealed = seal(key, '-----BEGIN PRIVATE KEY-----\nabc\n', 'tenant/acme/root');
    expect(sealed).toMatch(/^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(sealed).not.toContain('PRIVATE KEY');
    expect(open(key, sealed, 'tenant/acme/root')).toBe('-----BEGIN PRIVATE KEY-----\nabc\n');
  });

  it('uses a fresh IV each time', () => {
    expect(seal(key, 'same', 'c')).not.toBe(seal(key, 'same', 'c'));
  });

  it('refuses another master key, another record, or a tampered text', () => {
    const sealed = seal(key, 'secret', 'tenant/acme/root');
    expect(() => open(randomBytes(32), sealed, 'tenant/acme/root')).toThrow(/does not open/);
    expect(() => open(key, sealed, 'tenant/globex/root')).toThrow(/does not open/);
    const parts = sealed.split('.');
    const body = Buffer.from(parts[3]!, 'base64url');
    body[0] = body[0]! ^ 1;
    expect(() => open(key, [parts[0], parts[1], parts[2], body.toString('base64url')].join('.'), 'tenant/acme/root')).toThrow(/does not open/);
    expect(() => open(key, 'v2.x.y.z', 'c')).toThrow(/not a sealed secret/);
  });

  it('takes only 32-byte master keys', () => {
    expect(() => seal(randomBytes(16), 'x', 'c')).toThrow(/32 bytes, got 16/);
  });
});

describe('secret box tag length', () => {
  it('refuses a truncated authentication tag', () => {
    const key = randomBytes(32);
    const [v, iv, tag, body] = seal(key, 'secret', 'c').split('.');
    const short = Buffer.from(tag!, 'base64url').subarray(0, 4).toString('base64url');
    expect(() => open(key, [v, iv, short, body].join('.'), 'c')).toThrow(/does not open/);
  });
});
