import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './free-port.js';

/** A server process started from a local binary, e.g. redis-server or nats-server. */
export interface LocalService {
  name: string;
  url: string;
  port: number;
  dataDir: string;
  process: ChildProcess;
  stop(): Promise<void>;
  /**
   * Stops the server (if running) and starts it again on the same port, with the same data dir and
   * arguments (config); `process` is the new one afterwards. `downMs`: how long it stays away.
   */
  restart(options?: { downMs?: number }): Promise<void>;
}

interface Recipe {
  name: string;
  binary: string;
  scheme: string;
  args: (port: number, dataDir: string) => string[] | Promise<string[]>;
  installHint: string;
}

const REDIS: Recipe = {
  name: 'redis',
  binary: 'redis-server',
  scheme: 'redis',
  // Append-only file on, so a local federation keeps its state across `meshfed up` runs.
  args: (port, dir) => ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', '', '--protected-mode', 'yes'],
  installHint: 'apt-get install -y redis-server',
};

/** nats-server with JetStream on loopback; `authConfig` (see core/federation/nats-auth.ts) turns on per-user authorization. */
const nats = (authConfig?: string): Recipe => ({
  name: 'nats',
  binary: 'nats-server',
  scheme: 'nats',
  args: async (port, dir) => {
    const config = join(dir, 'nats-server.conf');
    const lines = [`listen: "127.0.0.1:${port}"`, `server_name: "meshfed-local-${port}"`, `jetstream { store_dir: ${JSON.stringify(dir)} }`];
    if (authConfig) lines.push(authConfig);
    await writeFile(config, `${lines.join('\n')}\n`, { mode: 0o600 });
    return ['-c', config];
  },
  installHint: 'apt-get install -y nats-server',
});

export const startLocalRedis = (dataDir: string, port?: number) => startService(REDIS, dataDir, port);
export const startLocalNats = (dataDir: string, port?: number, authConfig?: string) => startService(nats(authConfig), dataDir, port);

async function startService(recipe: Recipe, dataDir: string, fixedPort?: number): Promise<LocalService> {
  await mkdir(dataDir, { recursive: true });
  let lastError: Error | undefined;
  // A free port can be taken between asking and binding: try a few.
  for (let attempt = 0; attempt < (fixedPort ? 1 : 5); attempt++) {
    const port = fixedPort ?? (await freePort());
    try {
      return await launch(recipe, dataDir, port);
    } catch (error) {
      lastError = error as Error;
    }
  }
  throw lastError ?? new Error(`${recipe.name}: could not start`);
}

/** Where an executable is on the PATH, if anywhere. */
function onPath(binary: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, binary);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * util-linux's setpriv, to give a server a parent-death signal: it is told to stop even when this
 * process dies without running exit handlers (SIGKILL, a crash). Linux only; without it, the exit
 * handler below is the only guard.
 */
const SETPRIV = process.platform === 'linux' ? onPath('setpriv') : undefined;

async function launch(recipe: Recipe, dataDir: string, port: number): Promise<LocalService> {
  const binary = onPath(recipe.binary);
  if (!binary) throw new Error(`${recipe.binary} not found on PATH (install it: ${recipe.installHint})`);
  const args = await recipe.args(port, dataDir);
  // Its own process group: Ctrl-C in the terminal reaches only meshfed, which then stops the
  // servers after the control planes that use them (otherwise clients log connection errors).
  const child = SETPRIV
    ? spawn(SETPRIV, ['--pdeathsig', 'SIGTERM', '--', binary, ...args], { cwd: dataDir, stdio: ['ignore', 'ignore', 'pipe'], detached: true })
    : spawn(binary, args, { cwd: dataDir, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  // …and if meshfed exits without stopping them, they go too.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const exited = new Promise<never>((_, reject) => {
    child.once('error', (e: NodeJS.ErrnoException) =>
      reject(new Error(e.code === 'ENOENT' ? `${recipe.binary} not found on PATH (install it: ${recipe.installHint})` : `${recipe.binary}: ${e.message}`)),
    );
    child.once('exit', (code) => reject(new Error(`${recipe.binary} exited with code ${code} before listening on ${port}: ${stderr.trim()}`)));
  });
  exited.catch(() => undefined);
  await Promise.race([waitForPort(port, 10_000), exited]);
  const service: LocalService = {
    name: recipe.name,
    url: `${recipe.scheme}://127.0.0.1:${port}`,
    port,
    dataDir,
    process: child,
    stop: () => stopChild(child),
    async restart(options = {}) {
      await stopChild(service.process);
      if (options.downMs) await sleep(options.downMs);
      const next = await launch(recipe, dataDir, port);
      service.process = next.process;
      service.stop = () => stopChild(next.process);
    },
  };
  return service;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  // A server that ignores SIGTERM for 5 s is killed; the timer must not outlive the stop.
  const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await gone;
  clearTimeout(killer);
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await sleep(50);
  }
  throw new Error(`nothing listening on 127.0.0.1:${port} after ${timeoutMs} ms`);
}
