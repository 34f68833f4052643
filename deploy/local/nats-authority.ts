import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createNatsAuthority, natsServerAuthConfig, type NatsAuthority } from '../../core/federation/nats-auth.js';
import { writeFileAtomically } from '../../core/atomic-file.js';

export const AUTHORITY_FILE = 'authority.json';
export const ACCOUNT_SEED_FILE = 'account.seed';
export const SERVER_CONFIG_FILE = 'nats-auth.conf';

/**
 * Creates (once) or reads the NATS authority in `dir`: the seeds (mode 0600),
 * the account seed alone for the global CP, and the nats-server configuration
 * fragment (public JWTs only) to include in nats-server's config.
 */
export async function ensureNatsAuthority(dir: string): Promise<{ authority: NatsAuthority; serverConfig: string; accountSeedFile: string; created: boolean }> {
  const path = join(dir, AUTHORITY_FILE);
  const created = !existsSync(path);
  const authority = created ? createNatsAuthority() : (JSON.parse(await readFile(path, 'utf8')) as NatsAuthority);
  if (created) await writeFileAtomically(path, JSON.stringify(authority, null, 2));
  const accountSeedFile = join(dir, ACCOUNT_SEED_FILE);
  await writeFileAtomically(accountSeedFile, `${authority.accountSeed}\n`);
  const serverConfig = await natsServerAuthConfig(authority);
  await writeFileAtomically(join(dir, SERVER_CONFIG_FILE), `${serverConfig}\n`);
  return { authority, serverConfig, accountSeedFile, created };
}
