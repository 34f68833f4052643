import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../deploy/local/free-port.js';
import { RunningProcess, runCli, spawnEntry } from '../helpers/processes.js';

const ADMIN = `mfa_${randomBytes(24).toString('hex')}`;

describe('meshfed global-cp as a process', () => {
  let dir: string;
  let prefix: string;
  let masterKeyFile: string;
  const running: RunningProcess[] = [];

  async function startGlobalCp(): Promise<{ url: string; proc: RunningProcess }> {
    const port = await freePort();
    const proc = new RunningProcess(
      spawnEntry('cli/meshfed.ts', ['global-cp', '--listen', `127.0.0.1:${port}`, '--redis', inject('redisUrl'), '--redis-prefix', prefix], {
        MESHFED_ADMIN_TOKEN: ADMIN,
        MESHFED_MASTER_KEY_FILE: masterKeyFile,
      }),
    );
    running.push(proc);
    await proc.waitFor(/global CP serving/);
    return { url: `http://127.0.0.1:${port}`, proc };
  }

  const ctl = (url: string, args: string[], token = ADMIN) => runCli('cli/meshfedctl.ts', ['--server', url, '--token', token, ...args]);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshfed-cli-'));
    prefix = `proc-${randomBytes(4).toString('hex')}:`;
    masterKeyFile = join(dir, 'master.key');
    await writeFile(masterKeyFile, randomBytes(32).toString('hex'), { mode: 0o600 });
  });
  afterAll(async () => {
    await Promise.all(running.map((p) => p.stop()));
  });

  it('prints --help for both executables and their subcommands', async () => {
    for (const [entry, args, expected] of [
      ['cli/meshfed.ts', ['--help'], /up \[options\][\s\S]*global-cp \[options\]/],
      ['cli/meshfed.ts', ['global-cp', '--help'], /--listen[\s\S]*--redis[\s\S]*--admin-token-file/],
      ['cli/meshfed.ts', ['up', '--help'], /--data-dir/],
      ['cli/meshfedctl.ts', ['--help'], /apply[\s\S]*get[\s\S]*delete[\s\S]*create/],
      ['cli/meshfedctl.ts', ['apply', '--help'], /--filename/],
    ] as const) {
      const result = await runCli(entry, [...args]);
      expect(result.code, `${entry} ${args.join(' ')}`).toBe(0);
      expect(result.stdout).toMatch(expected);
    }
  }, 60_000);

  it('fails fast with one clear line on bad flags, no admin token, or unreachable Redis', async () => {
    const badListen = await runCli('cli/meshfed.ts', ['global-cp', '--listen', 'nowhere'], { MESHFED_ADMIN_TOKEN: ADMIN });
    expect(badListen.code).toBe(2);
    expect(badListen.stderr).toContain('--listen: "nowhere" is not host:port');

    const badRedis = await runCli('cli/meshfed.ts', ['global-cp', '--redis', 'http://x'], { MESHFED_ADMIN_TOKEN: ADMIN });
    expect(badRedis.code).toBe(2);
    expect(badRedis.stderr).toContain('--redis: "http://x" must use redis://');

    const noToken = await runCli('cli/meshfed.ts', ['global-cp']);
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toContain('no admin token');

    const shortToken = await runCli('cli/meshfed.ts', ['global-cp'], { MESHFED_ADMIN_TOKEN: 'short' });
    expect(shortToken.code).toBe(2);
    expect(shortToken.stderr).toContain('at least 24 characters');

    const worldReadable = join(dir, 'token');
    await writeFile(worldReadable, ADMIN);
    await chmod(worldReadable, 0o644);
    const readable = await runCli('cli/meshfed.ts', ['global-cp', '--admin-token-file', worldReadable]);
    expect(readable.code).toBe(2);
    expect(readable.stderr).toContain('readable by every user');

    // No master key, or one that is not 32 bytes: the CA keys could not be sealed, so it does not start.
    const noKey = await runCli('cli/meshfed.ts', ['global-cp'], { MESHFED_ADMIN_TOKEN: ADMIN });
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain('no master key: pass --master-key-file');
    const shortKeyFile = join(dir, 'short.key');
    await writeFile(shortKeyFile, 'abcd', { mode: 0o600 });
    const shortKey = await runCli('cli/meshfed.ts', ['global-cp', '--master-key-file', shortKeyFile], { MESHFED_ADMIN_TOKEN: ADMIN });
    expect(shortKey.code).toBe(2);
    expect(shortKey.stderr).toContain('must hold a 32-byte key');

    const tooManyReplicas = await runCli('cli/meshfed.ts', ['global-cp', '--nats', 'nats://127.0.0.1:4222', '--nats-replicas', '7'], { MESHFED_ADMIN_TOKEN: ADMIN, MESHFED_MASTER_KEY_FILE: masterKeyFile });
    expect(tooManyReplicas.code).toBe(2);
    expect(tooManyReplicas.stderr).toContain('--nats-replicas: JetStream keeps at most 5 replicas');

    const closedPort = await freePort();
    const started = Date.now();
    const unreachable = await runCli('cli/meshfed.ts', ['global-cp', '--redis', `redis://127.0.0.1:${closedPort}`, '--listen', '127.0.0.1:0'], {
      MESHFED_ADMIN_TOKEN: ADMIN,
      MESHFED_MASTER_KEY_FILE: masterKeyFile,
    });
    expect(unreachable.code).toBe(2);
    expect(unreachable.stderr).toContain(`cannot reach Redis at redis://127.0.0.1:${closedPort}`);
    expect(Date.now() - started).toBeLessThan(10_000);
    // The token never appears in any output.
    for (const r of [badListen, badRedis, unreachable]) expect(r.stdout + r.stderr).not.toContain(ADMIN);
  }, 60_000);

  it('serves health, readiness, metrics and OpenAPI; applies the example; keeps everything across a restart; two replicas agree', async () => {
    const first = await startGlobalCp();
    expect((await fetch(`${first.url}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${first.url}/readyz`)).json()).toEqual({ status: 'ready', checks: { redis: 'ok' } });
    const openapi = (await (await fetch(`${first.url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(openapi.paths)).toEqual(expect.arrayContaining(['/api/v1/zones', '/api/v1/tenants/{tenant}/policies/TrafficRoute/{name}']));

    const applied = await ctl(first.url, ['apply', '-f', 'deploy/examples/quickstart.yaml', '--token-dir', join(dir, 'zone-tokens')]);
    expect(applied.stderr).toBe('');
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain('zone/zone-a created; zone token written to');
    expect(applied.stdout).toContain('trafficroute/web-canary (tenant acme) created');

    const again = await ctl(first.url, ['apply', '-f', 'deploy/examples/quickstart.yaml']);
    expect(again.code).toBe(0);
    expect(again.stdout.trim().split('\n').every((line) => line.endsWith('unchanged'))).toBe(true);

    const metrics = await (await fetch(`${first.url}/metrics`)).text();
    expect(metrics).toMatch(/meshfed_resources\{kind="TrafficRoute",component="global-cp"\} 1/);
    expect(metrics).toMatch(/meshfed_http_request_duration_seconds_count\{component="global-cp",method="PUT",route="\/api\/v1\/tenants\/:tenant\/policies\/Retry\/:name",status_code="201"/);

    const before = await ctl(first.url, ['get', 'policies', '--tenant', 'acme', '-o', 'json']);
    expect(JSON.parse(before.stdout).items).toHaveLength(6);

    // A second replica on the same Redis sees the same state, and writes through either are consistent.
    const second = await startGlobalCp();
    const viaSecond = await ctl(second.url, ['get', 'policies', '--tenant', 'acme', '-o', 'json']);
    expect(viaSecond.stdout).toBe(before.stdout);

    expect(await first.proc.stop()).toBe(0);
    expect(await second.proc.stop()).toBe(0);
    const restarted = await startGlobalCp();
    const after = await ctl(restarted.url, ['get', 'policies', '--tenant', 'acme', '-o', 'json']);
    expect(after.stdout).toBe(before.stdout);
    const zones = await ctl(restarted.url, ['get', 'zones']);
    expect(zones.stdout).toMatch(/zone-a\s+eu-west\s+aws:eu-west-1\s+kubernetes\s+offline/);
    expect(restarted.proc.output).not.toContain(ADMIN);

    // get -o yaml prints documents apply takes back unchanged.
    const yamlDump = await ctl(restarted.url, ['get', 'policies', '--tenant', 'acme', '-o', 'yaml']);
    const dumpFile = join(dir, 'dump.yaml');
    await writeFile(dumpFile, yamlDump.stdout);
    const reapplied = await ctl(restarted.url, ['apply', '-f', dumpFile]);
    expect(reapplied.code).toBe(0);
    expect(reapplied.stdout.trim().split('\n')).toHaveLength(6);
    expect(reapplied.stdout.trim().split('\n').every((line) => line.endsWith('unchanged'))).toBe(true);

    // delete -f removes what a file declares, policies before tenants before zones.
    const deleted = await ctl(restarted.url, ['delete', '-f', 'deploy/examples/quickstart.yaml']);
    expect(deleted.code).toBe(0);
    const lines = deleted.stdout.trim().split('\n');
    expect(lines).toHaveLength(11);
    expect(lines.every((line) => line.endsWith(' deleted'))).toBe(true);
    expect(lines.findIndex((l) => l.startsWith('tenant/'))).toBeGreaterThan(lines.findLastIndex((l) => l.includes('(tenant acme)')));
    expect(lines.findIndex((l) => l.startsWith('zone/'))).toBeGreaterThan(lines.findLastIndex((l) => l.startsWith('tenant/')));
    expect((await ctl(restarted.url, ['get', 'zones'])).stdout.trim()).toBe('No zones found.');
  }, 90_000);
});
