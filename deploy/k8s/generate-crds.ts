/**
 * Writes deploy/k8s/crds/ from the policy kinds' TypeBox schemas.
 *
 *   npx tsx deploy/k8s/generate-crds.ts           # (re)write the CRDs
 *   npx tsx deploy/k8s/generate-crds.ts --check   # exit 1 if the files on disk are stale
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { policyCrds, renderCrdFiles } from './policy-crds.js';

const dir = fileURLToPath(new URL('./crds/', import.meta.url));
const check = process.argv.includes('--check');
const wanted = renderCrdFiles();
const onDisk = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.yaml')) : [];
const stale = [
  ...[...wanted].filter(([name, text]) => !existsSync(join(dir, name)) || readFileSync(join(dir, name), 'utf8') !== text).map(([name]) => name),
  ...onDisk.filter((name) => !wanted.has(name)),
];

if (check) {
  if (stale.length) {
    console.error(`deploy/k8s/crds is out of date (${stale.join(', ')}): run npx tsx deploy/k8s/generate-crds.ts`);
    process.exit(1);
  }
  console.log(`deploy/k8s/crds is up to date (${wanted.size} files)`);
} else {
  mkdirSync(dir, { recursive: true });
  for (const name of onDisk) if (!wanted.has(name)) rmSync(join(dir, name));
  for (const [name, text] of wanted) writeFileSync(join(dir, name), text);
  console.log(`wrote ${wanted.size} files to deploy/k8s/crds (${stale.length ? `changed: ${stale.join(', ')}` : 'no changes'})`);
}

// What the CRDs cannot enforce; meshfed's own validation still does.
for (const { kind, losses } of policyCrds()) {
  for (const loss of losses) console.warn(`${kind} ${loss.path}: not enforced by the CRD: ${loss.lost}`);
}
