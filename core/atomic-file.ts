import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Replaces `path` with `content` (mode 0600) so that a crash leaves the old or the new file, never a mix. */
export async function writeFileAtomically(path: string, content: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const file = await open(tmp, 'w', 0o600);
    try {
      await file.writeFile(content);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/**
 * A secret that survives restarts: read from `path`, or made by `make` and
 * written there (mode 600) when the file is missing or empty.
 */
export async function readOrCreateSecretFile(path: string, make: () => string): Promise<string> {
  const text = (await readFile(path, 'utf8').catch(() => '')).trim();
  if (text) return text;
  const secret = make();
  await writeFileAtomically(path, `${secret}\n`);
  return secret;
}
