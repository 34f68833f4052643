import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { meshfedVersion } from '../../core/version.js';
import { eventually, registerZone } from '../helpers/federation.js';
import { RunningProcess, runCli, spawnEntry } from '../helpers/processes.js';
import { Cleanup, createTenant, getJson, startGlobal, zoneStatus } from './fixtures.js';

/** `meshfed zone-cp` as an operator runs it. */

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

describe('meshfed zone-cp as a process', () => {
  it('exits with code 2 and one clear line on a wrong or world-readable token file; with the right one it syncs and stops cleanly', async () => {
    const gcp = await startGlobal(cleanup);
    const token = await registerZone(gcp.url, 'z1', 'eu');
    await createTenant(gcp.url, 'acme', ['z1']);
    const dir = await mkdtemp(join(tmpdir(), 'meshfed-zone-proc-'));
    cleanup.defer(() => rm(dir, { recursive: true, force: true }));
    const tokenFile = async (name: string, content: string, mode: number) => {
      const path = join(dir, name);
      await writeFile(path, `${content}\n`);
      await chmod(path, mode);
      return path;
    };
    const args = (file: string) => [
      'zone-cp',
      '--zone', 'z1',
      '--global', gcp.url,
      '--token-file', file,
      '--nats', gcp.natsUrl,
      '--state-dir', join(dir, 'state'),
      '--listen', '127.0.0.1:0',
      '--grpc-listen', '127.0.0.1:0',
      '--federation-id', gcp.federationId,
      '--heartbeat-interval', '200ms',
    ];

    const wrongToken = `mfz_${'w'.repeat(43)}`;
    const [wrong, readable] = await Promise.all([
      runCli('cli/meshfed.ts', args(await tokenFile('wrong', wrongToken, 0o600))),
      runCli('cli/meshfed.ts', args(await tokenFile('readable', token, 0o644))),
    ]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toBe(`meshfed zone-cp: zone "z1": the global CP at ${gcp.url} refused the token: the zone token is wrong or revoked (401)\n`);
    expect(wrong.stdout + wrong.stderr).not.toContain(wrongToken);
    expect(readable.code).toBe(2);
    expect(readable.stderr).toBe(`meshfed zone-cp: --token-file: ${join(dir, 'readable')} is readable by every user; chmod 600 it\n`);

    const proc = new RunningProcess(spawnEntry('cli/meshfed.ts', args(await tokenFile('good', token, 0o600))));
    cleanup.defer(() => proc.stop('SIGKILL'));
    const serving = await proc.waitFor(/"url":"(http:\/\/127\.0\.0\.1:\d+)".*"msg":"zone CP serving"/, 20_000);
    const url = serving[1]!;
    await eventually(async () => expect(await getJson(`${url}/readyz`)).toEqual({ status: 200, body: { status: 'ready', reason: 'in sync with NATS' } }), 10_000);
    await eventually(async () => expect(await zoneStatus(gcp.url, 'z1')).toMatchObject({ state: 'online', cpVersion: meshfedVersion(), tenants: [{ name: 'acme', revision: 1, appliedRevision: 1, upToDate: true }] }));
    expect(await proc.stop('SIGTERM')).toBe(0);
    expect(proc.output).toContain('"msg":"zone CP stopped"');
    expect(proc.output).not.toContain(token);
  }, 30_000);
});
