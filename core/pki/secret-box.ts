import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Encrypts secrets at rest (CA private keys) with AES-256-GCM under a master
 * key. Format: "v1.<iv>.<tag>.<ciphertext>", base64url parts. `context` is
 * bound as associated data, so a ciphertext moved to another record fails.
 */
export function seal(masterKey: Buffer, plaintext: string, context: string): string {
  checkKey(masterKey);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', masterKey, iv);
  cipher.setAAD(Buffer.from(context));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', iv, cipher.getAuthTag(), body].map((p) => (typeof p === 'string' ? p : p.toString('base64url'))).join('.');
}

export function open(masterKey: Buffer, sealed: string, context: string): string {
  checkKey(masterKey);
  const [version, iv, tag, body] = sealed.split('.');
  if (version !== 'v1' || !iv || !tag || body === undefined) throw new Error('not a sealed secret (v1)');
  // A full 16-byte tag only: GCM would otherwise accept a truncated, weaker one.
  const decipher = createDecipheriv('aes-256-gcm', masterKey, Buffer.from(iv, 'base64url'), { authTagLength: 16 });
  decipher.setAAD(Buffer.from(context));
  try {
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
  } catch {
    throw new Error('sealed secret does not open: wrong master key, or it belongs to another record');
  }
}

function checkKey(key: Buffer): void {
  if (key.length !== 32) throw new Error(`the master key must be 32 bytes, got ${key.length}`);
}
