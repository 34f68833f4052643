/**
 * Child processes of the dataplane bench: servers (HAProxy, the backend, later
 * meshfed gateways) and the load tools (h2load, wrk).
 *
 * Every child is registered here until it has exited, so `killAllNow()` (the
 * bench's `exit` handler and the second Ctrl-C) can SIGKILL whatever is left,
 * by pid. Servers are stopped with SIGTERM, then SIGKILL after a grace period.
 *
 * Children run in their own process group (`detached`), so a Ctrl-C in the
 * terminal reaches only the bench, which then finishes the measurement in
 * progress and stops them itself. The flip side: a bench killed with SIGKILL
 * leaves them running (its `exit` handler cannot run); their pids are in the
 * progress output.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';

const OUTPUT_KEEP = 16_384;

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** The last 16 KB of its stdout and stderr, interleaved. */
  output(): string;
  exited(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

const alive = new Set<ChildProcess>();

/** SIGKILLs every child still running. Synchronous: safe in an `exit` handler. */
export function killAllNow(): number[] {
  const killed: number[] = [];
  for (const child of alive) {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      child.kill('SIGKILL');
      killed.push(child.pid);
    }
  }
  return killed;
}

/** Pids of the children still running (for the end-of-run check). */
export function runningPids(): number[] {
  return [...alive].filter((c) => c.exitCode === null && c.signalCode === null).map((c) => c.pid!);
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Spawns `command` and resolves once the OS started it; rejects with the reason (e.g. ENOENT) when it could not. */
export async function spawnManaged(name: string, command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<ManagedProcess> {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  const keep = (chunk: Buffer) => {
    output += chunk.toString('utf8');
    if (output.length > OUTPUT_KEEP * 2) output = output.slice(-OUTPUT_KEEP);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  try {
    await Promise.race([once(child, 'spawn'), once(child, 'error').then(([e]) => Promise.reject(e as Error))]);
  } catch (error) {
    throw new Error(`${name}: could not start "${command}": ${(error as Error).message}`);
  }
  alive.add(child);
  child.once('exit', () => alive.delete(child));
  const exited = new Promise<void>((resolve) => (hasExited(child) ? resolve() : child.once('exit', () => resolve())));
  return {
    name,
    pid: child.pid!,
    child,
    output: () => output.slice(-OUTPUT_KEEP),
    exited: () => hasExited(child),
    async stop(graceMs = 5000) {
      if (hasExited(child)) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        console.error(`${name} (pid ${child.pid}) still running ${graceMs} ms after SIGTERM: SIGKILL`);
        child.kill('SIGKILL');
      }, graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Resolves once `host:port` accepts a TCP connection; fails early, with its output, if `server` exits first. */
export async function waitForPort(host: string, port: number, server: ManagedProcess | undefined, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (server?.exited()) throw new Error(`${server.name} (pid ${server.pid}) exited before ${host}:${port} accepted connections:\n${server.output().trim()}`);
    const accepted = await new Promise<boolean>((resolve) => {
      const socket = connect({ host, port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => {
        socket.destroy();
        resolve(false);
      });
    });
    if (accepted) return;
    if (Date.now() > deadline) throw new Error(`${server?.name ?? 'server'}: ${host}:${port} did not accept a connection within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface ToolResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Runs a load tool to completion (registered, so it is killed with the bench); SIGKILL after `timeoutMs`. */
export async function runTool(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<ToolResult> {
  const child = spawn(command, args, { env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString('utf8');
    if (stderr.length > OUTPUT_KEEP * 2) stderr = stderr.slice(-OUTPUT_KEEP);
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, options.timeoutMs);
  try {
    const closed = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('close', (code, signal) => resolve([code, signal])));
    await Promise.race([once(child, 'spawn'), once(child, 'error').then(([e]) => Promise.reject(e as Error))]);
    alive.add(child);
    const [code, signal] = await closed;
    return { code, signal, stdout, stderr, timedOut };
  } catch (error) {
    throw new Error(`could not run "${command}": ${(error as Error).message}`);
  } finally {
    clearTimeout(timer);
    alive.delete(child);
  }
}
