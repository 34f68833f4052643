/**
 * One `meshfed gateway` process (sidecar or ingress), spawned the way an
 * operator runs it — token and dataplane files, flags — directly as
 * `node --import tsx cli/meshfed.ts gateway …`, so its pid is the gateway's
 * and its /proc CPU is the gateway's alone. `--access-log off`,
 * `--log-level warn`; its output is kept (last 16 KB) for error messages.
 *
 * With a profile dir (`--profile`), node also loads ./profile-hook.ts:
 * `startProfiling()` (SIGUSR2) starts V8's CPU profiler in the gateway, and at
 * exit it writes `<dir>/<role>.cpuprofile` with the source maps beside it, so
 * ./profile.ts can report TypeScript file:line.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DataplaneRegistration } from '../../core/schemas/dataplane.js';
import type { RunningZoneCp } from '../../zone-cp/main.js';
import { freePort } from '../../deploy/local/free-port.js';
import type { Address } from './haproxy.js';
import { existsSync } from 'node:fs';
import { spawnManaged, waitForPort, type ManagedProcess } from './processes.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PROFILE_HOOK = fileURLToPath(new URL('./profile-hook.ts', import.meta.url));
/** The name the zone CP's gRPC certificate carries (its address is an IP, which Node warns about as a TLS server name). */
const ZONE_CP_SERVER_NAME = 'localhost';

export interface GatewaySpec {
  /** For messages, e.g. "client sidecar (sidecar-sidecar)". */
  name: string;
  /** For the per-hop table and the profile's file name, e.g. "client-sidecar". */
  role: string;
  mode: 'sidecar' | 'ingress';
  /** Its files: token, dataplane, state, output. */
  dir: string;
  zone: RunningZoneCp;
  token: string;
  /** sidecar */
  dataplane?: DataplaneRegistration;
  /** sidecar: where its outbound listeners bind */
  outboundAddress?: string;
  /** ingress: its SNI port */
  listen?: Address;
  profileDir?: string;
}

export interface GatewayProcess {
  role: string;
  pid: number;
  process: ManagedProcess;
  /** Admin server: /readyz, /status, /metrics. */
  adminUrl: string;
  /** With a profile dir: starts the CPU profiler in the gateway (once; later calls do nothing). */
  startProfiling: () => void;
  stop: () => Promise<void>;
}

export async function spawnGateway(spec: GatewaySpec): Promise<GatewayProcess> {
  await mkdir(spec.dir, { recursive: true });
  const tokenFile = join(spec.dir, 'token');
  await writeFile(tokenFile, spec.token, { mode: 0o600 });
  const args = [
    'gateway',
    '--mode', spec.mode,
    '--zone-cp-grpc', spec.zone.grpcAddress,
    '--zone-cp-server-name', ZONE_CP_SERVER_NAME,
    '--ca-cert-file', spec.zone.grpcCaFile,
    '--token-file', tokenFile,
    '--state-dir', join(spec.dir, 'state'),
    '--log-level', 'warn',
    '--drain', '1s',
  ];
  if (spec.mode === 'sidecar') {
    if (!spec.dataplane || !spec.outboundAddress) throw new Error(`${spec.name}: a sidecar needs a dataplane and an outbound address`);
    const dataplaneFile = join(spec.dir, 'dataplane.json');
    await writeFile(dataplaneFile, `${JSON.stringify(spec.dataplane, null, 2)}\n`);
    args.push('--zone-cp', spec.zone.url, '--dataplane-file', dataplaneFile, '--outbound-address', spec.outboundAddress, '--access-log', 'off');
  } else {
    if (!spec.listen) throw new Error(`${spec.name}: an ingress needs --listen`);
    args.push('--listen', `${spec.listen.host}:${spec.listen.port}`);
  }
  // The built gateway (npm run build), as users run it, when dist/ has it; else the sources through tsx.
  const built = existsSync(join(ROOT, 'dist/cli/meshfed.js')) && process.env.BENCH_GATEWAY_FROM_SOURCE !== '1';
  const nodeArgs = built ? [] : ['--import', 'tsx'];
  const entry = join(ROOT, built ? 'dist/cli/meshfed.js' : 'cli/meshfed.ts');
  if (spec.profileDir) {
    await mkdir(spec.profileDir, { recursive: true });
    // The hook is TypeScript: the built gateway needs tsx's loader for it (and pays for it only while profiled).
    if (built) nodeArgs.push('--import', 'tsx');
    nodeArgs.push('--import', PROFILE_HOOK);
  }
  let lastError: Error | undefined;
  for (let attempt = 1; attempt <= 3; attempt++) {
    const admin = { host: '127.0.0.1', port: await freePort() };
    const gateway = await spawnManaged(spec.name, process.execPath, [...nodeArgs, entry, ...args, '--admin-listen', `${admin.host}:${admin.port}`], {
      cwd: ROOT,
      env: {
        ...process.env,
        NO_COLOR: '1',
        ...(spec.profileDir ? { BENCH_PROFILE_PREFIX: join(spec.profileDir, spec.role) } : {}),
      },
    });
    try {
      await waitForPort(admin.host, admin.port, gateway, 30_000);
      return {
        role: spec.role,
        pid: gateway.pid,
        process: gateway,
        adminUrl: `http://${admin.host}:${admin.port}`,
        startProfiling: () => {
          if (spec.profileDir && !gateway.exited()) gateway.child.kill('SIGUSR2');
        },
        stop: () => gateway.stop(),
      };
    } catch (error) {
      lastError = error as Error;
      await gateway.stop();
      if (!/EADDRINUSE|address already in use/i.test(gateway.output())) break;
    }
  }
  throw new Error(`${spec.name}: meshfed gateway did not start: ${lastError?.message ?? 'unknown error'}`);
}

/** GET <admin>/readyz until 200, or fails with its last reason and the gateway's output. */
export async function waitUntilReady(gateway: GatewayProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (gateway.process.exited()) break;
    try {
      const response = await fetch(`${gateway.adminUrl}/readyz`, { signal: AbortSignal.timeout(2_000) });
      last = await response.text();
      if (response.status === 200) return;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${gateway.process.name} (pid ${gateway.pid}) not ready after ${timeoutMs / 1000} s: ${last}\n${gateway.process.output().trim()}`);
}
