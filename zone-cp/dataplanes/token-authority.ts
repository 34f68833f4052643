import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readOrCreateSecretFile, writeFileAtomically } from '../../core/atomic-file.js';
import { issueDataplaneToken, verifyDataplaneToken, type DataplaneClaims, type TokenCheck } from './tokens.js';

interface RevocationFile {
  /** token id → when the token expires (after which the entry is useless and dropped). */
  revoked: Record<string, number>;
}

/**
 * The zone's dataplane-token issuer: the signing key and the revocation list,
 * both in the state dir (mode 600) so they survive restarts.
 */
export class DataplaneTokenAuthority {
  private revoked = new Map<string, number>();

  private constructor(
    private readonly zone: string,
    private readonly key: Buffer,
    private readonly revocationPath: string,
  ) {}

  static async open(stateDir: string, zone: string): Promise<DataplaneTokenAuthority> {
    const key = Buffer.from(await readOrCreateSecretFile(join(stateDir, 'dataplane-token.key'), () => randomBytes(32).toString('hex')), 'hex');
    const authority = new DataplaneTokenAuthority(zone, key, join(stateDir, 'dataplane-tokens-revoked.json'));
    const text = await readFile(authority.revocationPath, 'utf8').catch(() => '');
    if (text) authority.revoked = new Map(Object.entries((JSON.parse(text) as RevocationFile).revoked));
    return authority;
  }

  issue(binding: { tenant: string; namespace: string; serviceAccount: string; trustDomain?: string } | { ingress: true }, ttlMs: number): { token: string; claims: DataplaneClaims } {
    const now = Date.now();
    const identity = 'ingress' in binding ? { tenant: '', namespace: '', serviceAccount: '', ingress: true } : binding;
    return issueDataplaneToken(this.key, { zone: this.zone, ...identity, issuedAt: now, expiresAt: now + ttlMs });
  }

  verify(token: string): TokenCheck {
    return verifyDataplaneToken(this.key, token, this.zone, this.revoked, Date.now());
  }

  isRevoked(id: string): boolean {
    return this.revoked.has(id);
  }

  /** Revokes by id; `expiresAt` bounds how long the entry must be kept. Written before it returns. */
  async revoke(id: string, expiresAt: number): Promise<void> {
    const now = Date.now();
    for (const [known, until] of this.revoked) if (until <= now) this.revoked.delete(known);
    this.revoked.set(id, expiresAt);
    const file: RevocationFile = { revoked: Object.fromEntries(this.revoked) };
    await writeFileAtomically(this.revocationPath, JSON.stringify(file));
  }
}
