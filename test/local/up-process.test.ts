/**
 * The real `meshfed up`, as a process, on a two-zone topology
 * (fixtures/two-zones.yaml): acme's client in zone-a has no acme echo at
 * home, so its traffic must go sidecar → zone-b's ingress → zone-b's echo
 * sidecar, while globex's echo (same service name, in zone-a) never
 * answers it. Then Ctrl-C, and nothing it started is left running.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { RunningProcess, spawnEntry } from '../helpers/processes.js';

/** Every process whose parent chain leads to `pid` (from /proc). */
async function descendants(pid: number): Promise<number[]> {
  const parents = new Map<number, number>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid …; comm may hold spaces and parentheses.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(Number(entry), ppid);
    } catch {
      // gone meanwhile
    }
  }
  const found: number[] = [];
  const walk = (parent: number) => {
    for (const [child, ppid] of parents) {
      if (ppid === parent) {
        found.push(child);
        walk(child);
      }
    }
  };
  walk(pid);
  return found;
}

/** GET with a Host header of our own (fetch does not let one set it). */
function get(url: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { headers: { host }, timeout: 5000 }, (response) => {
      let body = '';
      response.on('data', (c: Buffer) => (body += c.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', reject);
  });
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('meshfed up on a two-zone topology, as a process', () => {
  let up: RunningProcess | undefined;
  let dataDir: string | undefined;

  afterAll(async () => {
    // After a failure: a clean stop if it comes, else SIGKILL (redis-server and nats-server have a parent-death signal).
    if (up && up.child.exitCode === null && up.child.signalCode === null) {
      const killer = setTimeout(() => up?.child.kill('SIGKILL'), 15_000);
      await up.stop('SIGINT');
      clearTimeout(killer);
    }
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }, 20_000);

  it('carries traffic across zones through sidecars and the ingress, shows it in the status, and leaves nothing behind on Ctrl-C', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'meshfed-up-'));
    up = new RunningProcess(spawnEntry('cli/meshfed.ts', ['up', 'test/local/fixtures/two-zones.yaml', '--data-dir', dataDir, '--status-interval', '1s', '--log-level', 'error']));
    // Generous: on a loaded 2-core machine start-up (tsx compiling included) can take most of a minute; 10-15 s when quiet.
    await up.waitFor(/is up: 2 zones, 2 tenants with workloads, 3 sidecars/, 75_000);
    const output = up.output;

    // Where everything listens is printed.
    expect(output).toMatch(/global CP {4}http:\/\/127\.0\.0\.1:\d+\/api\/v1/);
    const ingressB = /zone-b +us-east +http:\/\/127\.0\.0\.1:\d+ +127\.0\.0\.1:\d+ +127\.0\.0\.1:\d+ +(http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
    expect(ingressB, output).toBeDefined();
    expect(output).toMatch(/zone-a +acme +shop\/web-zone-a \(client\) +127\.78\.1\.2:9000 +127\.78\.101\.2 /);
    const curl = /curl -s -H 'Host: (echo\.shop\.mesh:8080)' (http:\/\/127\.78\.101\.2:8080\/)/.exec(output);
    expect(curl, output).not.toBeNull();

    // A request of our own through zone-a's client sidecar is answered by acme's echo in zone-b, which saw web's verified identity.
    const reply = await eventually(async () => {
      const response = await get(curl![2]!, curl![1]!);
      expect(response.status, response.body).toBe(200);
      return JSON.parse(response.body) as { zone: string; tenant: string; instance: string; caller: string };
    }, 20_000);
    expect(reply).toMatchObject({ zone: 'zone-b', tenant: 'acme', instance: 'echo-zone-b-1', caller: 'spiffe://acme.mesh/ns/shop/sa/web' });

    // The status shows both zones online and the load generator's traffic answered by zone-b only.
    await eventually(() => {
      const frames = up!.output.split('── meshfed up');
      const last = frames[frames.length - 2] ?? '';
      expect(last).toMatch(/zones \(global CP: 2\/2 online\)/);
      expect(last).toMatch(/zone-a +eu-west +online .* acme \d+\/\d+ +globex \d+\/\d+/);
      expect(last).toMatch(/zone-a +acme +web → echo\.shop:8080 +\d+\.\d\/s +100% +\d+ms +\d+ms +zone-b 100%/);
    }, 30_000);
    expect(up.output).not.toContain('another tenant');

    // zone-b's ingress carried it (SNI passthrough: it counts bytes, it never sees inside the mTLS).
    const metrics = await (await fetch(`${ingressB!}/metrics`)).text();
    expect(Number(/meshfed_ingress_bytes_in_total\{[^}]*tenant="acme"[^}]*\} (\d+)/.exec(metrics)?.[1] ?? 0), metrics).toBeGreaterThan(0);

    const children = await descendants(up.child.pid!);
    expect(children.length).toBeGreaterThanOrEqual(2); // redis-server and nats-server
    const code = await up.stop('SIGINT');
    expect(code, up.output).toBe(0);
    expect(up.output).toMatch(/SIGINT: stopping .*\nstopped\.\n$/);
    await eventually(() => expect(children.filter(alive)).toEqual([]), 5_000);
    // Not even a stack trace on the way out.
    expect(up.output).not.toMatch(/\n\s+at /);
  }, 150_000);
});
