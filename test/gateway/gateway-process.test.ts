/**
 * `meshfed gateway` as its own process, the way an operator runs it: flags,
 * token and dataplane files, admin endpoints, clear errors for bad input,
 * and a clean stop on SIGTERM that deregisters the workload.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../deploy/local/free-port.js';
import { eventually } from '../helpers/federation.js';
import { RunningProcess, runCli, spawnEntry } from '../helpers/processes.js';
import { EchoApp, request, type EchoReply } from './mesh-fixture.js';
import { ZoneFixture } from './zone-fixture.js';

const TENANT = 'acme';

describe('meshfed gateway as a process', () => {
  let zone: ZoneFixture;
  let dir: string;
  let app: EchoApp;
  const processes: RunningProcess[] = [];

  async function sidecarProcess(service: string, instance: string, address: string, port: number, appPort: number, outbound: string): Promise<{ process: RunningProcess; admin: number }> {
    const tokenFile = join(dir, `${instance}.token`);
    await writeFile(tokenFile, zone.token(TENANT, service), { mode: 0o600 });
    const dataplaneFile = join(dir, `${instance}.yaml`);
    await writeFile(dataplaneFile, `tenant: ${TENANT}\nnamespace: demo\nservice: ${service}\ninstance: ${instance}\naddress: ${address}\nports:\n  - port: ${port}\n    targetPort: ${appPort}\n    protocol: http\n`);
    const admin = await freePort();
    const child = new RunningProcess(
      spawnEntry('cli/meshfed.ts', [
        'gateway', '--mode', 'sidecar',
        '--zone-cp', zone.zone.url,
        '--zone-cp-grpc', zone.zone.grpcAddress,
        '--ca-cert-file', zone.zone.grpcCaFile,
        '--token-file', tokenFile,
        '--dataplane-file', dataplaneFile,
        '--outbound-address', outbound,
        '--admin-listen', `127.0.0.1:${admin}`,
        '--state-dir', join(dir, instance),
        '--access-log', 'off',
        '--drain', '1s',
      ]),
    );
    processes.push(child);
    return { process: child, admin };
  }

  beforeAll(async () => {
    zone = await ZoneFixture.start([{ name: TENANT }]);
    dir = await mkdtemp(join(tmpdir(), 'meshfed-gw-'));
    app = await EchoApp.start('echo-p1');
  }, 60_000);

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop('SIGKILL')));
    await app?.kill();
    await zone?.stop();
  });

  it('prints its flags with --help', async () => {
    const result = await runCli('cli/meshfed.ts', ['gateway', '--help']);
    expect(result.code).toBe(0);
    for (const flag of ['--mode', '--zone-cp-grpc', '--token-file', '--dataplane-file', '--outbound-address', '--listen', '--admin-listen', '--drain']) expect(result.stdout).toContain(flag);
  });

  it('refuses bad input with one line naming what is wrong, exit code 2', async () => {
    const tokenFile = join(dir, 'bad.token');
    await writeFile(tokenFile, zone.token(TENANT, 'echo'), { mode: 0o600 });
    const badDataplane = join(dir, 'bad.yaml');
    await writeFile(badDataplane, 'tenant: acme\nnamespace: demo\nservice: echo\ninstance: x\naddress: 127.0.0.1\nports: [{ port: 99999 }]\n');
    const cases: Array<[string[], RegExp]> = [
      [['gateway'], /--mode is required/],
      [['gateway', '--mode', 'sidecar', '--token-file', tokenFile, '--ca-cert-file', zone.zone.grpcCaFile, '--zone-cp', zone.zone.url, '--dataplane-file', badDataplane], /--dataplane-file: .*\/ports\/0\/port/],
      [['gateway', '--mode', 'sidecar', '--token-file', join(dir, 'missing.token'), '--ca-cert-file', zone.zone.grpcCaFile], /--token-file/],
      [['gateway', '--mode', 'ingress', '--token-file', tokenFile, '--ca-cert-file', zone.zone.grpcCaFile, '--listen', '127.0.0.1:0'], /ingress token/],
    ];
    // Side by side: each is a process start under tsx, seconds apiece on a loaded machine.
    const results = await Promise.all(cases.map(([args]) => runCli('cli/meshfed.ts', args)));
    for (const [i, [args, message]] of cases.entries()) {
      const result = results[i]!;
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stderr).not.toMatch(/\n\s+at /);
      // The token never reaches the output.
      expect(result.stderr).not.toContain('mfd_');
    }
  }, 60_000);

  it('serves traffic between two gateway processes, answers /healthz /readyz /metrics, and deregisters on SIGTERM', async () => {
    const echo = await sidecarProcess('echo', 'echo-p1', '127.0.0.71', 8080, app.port, '127.0.0.72');
    const webApp = await EchoApp.start('web-p1');
    const web = await sidecarProcess('web', 'web-p1', '127.0.0.73', 9000, webApp.port, '127.0.0.74');
    try {
      await eventually(async () => {
        const result = await request('127.0.0.74', 8080, 'echo.demo.mesh:8080');
        expect(result.status, result.body).toBe(200);
        expect((JSON.parse(result.body) as EchoReply).instance).toBe('echo-p1');
      }, 30_000);
      for (const { admin } of [echo, web]) {
        expect((await fetch(`http://127.0.0.1:${admin}/healthz`)).status).toBe(200);
        await eventually(async () => expect((await fetch(`http://127.0.0.1:${admin}/readyz`)).status).toBe(200), 10_000);
        const metrics = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
        expect(metrics).toContain('meshfed_gateway_xds_connected 1');
      }
      const webMetrics = await (await fetch(`http://127.0.0.1:${web.admin}/metrics`)).text();
      expect(webMetrics).toMatch(/meshfed_gateway_requests_total\{[^}]*direction="outbound"[^}]*\} [1-9]/);

      expect(await echo.process.stop('SIGTERM')).toBe(0);
      // Deregistered: the zone no longer lists it.
      const listed = await fetch(`${zone.zone.url}/api/v1/dataplanes`, { headers: { authorization: `Bearer ${zone.zoneToken}` } });
      const items = ((await listed.json()) as { items: Array<{ instance: string }> }).items;
      expect(items.map((i) => i.instance)).not.toContain('echo-p1');
    } finally {
      await web.process.stop();
      await webApp.kill();
    }
  }, 60_000);
});
