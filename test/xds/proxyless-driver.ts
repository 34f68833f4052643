import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { spawnEntry } from '../helpers/processes.js';
import type { EchoRequest } from './echo-server.js';

/**
 * The test side of test/xds/proxyless-client.ts: writes its xDS bootstrap,
 * starts it as a child process, and runs batches of calls through it.
 */

export interface Batch {
  id: number;
  target: string;
  calls: number;
  request?: EchoRequest;
  deadlineMs?: number;
  concurrency?: number;
}

export interface BatchResult {
  id: number;
  /** Successful calls per answering backend. */
  byBackend: Record<string, number>;
  /** Failed calls per gRPC status name. */
  errors: Record<string, number>;
  /** The first few distinct error messages. */
  errorDetails: string[];
  /** Per-call wall time, successful or not. */
  minMs: number;
  maxMs: number;
  /** Longest failed call, e.g. how soon a deadline hit. */
  maxErrorMs: number;
}

export const RESULT_PREFIX = '@@batch ';
export const READY_LINE = '@@ready';

export interface BootstrapOptions {
  serverUri: string;
  nodeId: string;
  locality: { region?: string; zone?: string; sub_zone?: string };
  metadata: Record<string, string>;
}

/** A grpc-js-xds bootstrap for a plaintext ADS server. */
export function proxylessBootstrap(options: BootstrapOptions): Record<string, unknown> {
  return {
    xds_servers: [{ server_uri: options.serverUri, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
    node: { id: options.nodeId, locality: options.locality, metadata: options.metadata },
  };
}

/**
 * grpc-js-xds reports a malformed bootstrap only as "Cannot read properties of
 * null …" on the first call; check the parts it needs before starting it.
 */
export function bootstrapProblem(bootstrap: Record<string, unknown>): string | undefined {
  const servers = bootstrap.xds_servers as Array<{ server_uri?: unknown; channel_creds?: Array<{ type?: unknown }> }> | undefined;
  if (!Array.isArray(servers) || servers.length === 0) return 'xds_servers must be a non-empty array';
  for (const server of servers) {
    if (typeof server.server_uri !== 'string' || !/^[^:]+:\d+$/.test(server.server_uri)) return `server_uri must be host:port, got ${String(server.server_uri)}`;
    if (!server.channel_creds?.some((c) => c.type === 'insecure')) return 'channel_creds must include {type: "insecure"}';
  }
  const node = bootstrap.node as { id?: unknown; locality?: unknown } | undefined;
  if (!node || typeof node.id !== 'string' || !node.id) return 'node.id must be a non-empty string';
  if (typeof node.locality !== 'object' || node.locality === null) return 'node.locality must be present (may be {})';
  return undefined;
}

export class ProxylessClient {
  /** Everything the child printed that was not a batch result (grpc-js logs, traces, crashes). */
  log = '';
  private nextId = 1;
  private readonly pending = new Map<number, (result: BatchResult) => void>();
  private buffer = '';
  private readonly exited: Promise<void>;
  private readyResolve!: () => void;
  private readonly ready = new Promise<void>((resolve) => (this.readyResolve = resolve));

  private constructor(private readonly child: ChildProcess) {
    child.stdout!.on('data', (chunk: Buffer) => this.onStdout(chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (this.log += chunk.toString()));
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.log += `\n[proxyless client exited: code ${code}, signal ${signal}]\n`;
        resolve();
      }),
    );
  }

  /** Writes the bootstrap into `dir` and starts the client process. `trace` sets GRPC_TRACE (e.g. "xds_client,xds_resolver"). */
  static async start(dir: string, bootstrap: Record<string, unknown>, options: { trace?: string } = {}): Promise<ProxylessClient> {
    const problem = bootstrapProblem(bootstrap);
    if (problem) throw new Error(`bad xDS bootstrap: ${problem}: ${JSON.stringify(bootstrap)}`);
    const file = join(dir, `bootstrap-${process.pid}-${Date.now()}.json`);
    await writeFile(file, JSON.stringify(bootstrap, null, 2));
    const child = spawnEntry('test/xds/proxyless-client.ts', [], {
      GRPC_XDS_BOOTSTRAP: file,
      // Loopback only: never through a proxy a developer's shell may name.
      no_grpc_proxy: '*',
      no_proxy: '*',
      ...(options.trace ? { GRPC_TRACE: options.trace, GRPC_VERBOSITY: 'DEBUG' } : {}),
    });
    const client = new ProxylessClient(child);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`proxyless client did not start:\n${client.log}`)), 20_000)));
    try {
      await Promise.race([client.ready, timeout, client.exited.then(() => Promise.reject(new Error(`proxyless client exited at start:\n${client.log}`)))]);
    } catch (error) {
      await client.stop();
      throw error;
    } finally {
      clearTimeout(timer);
    }
    return client;
  }

  /** Runs `calls` Echo calls against `target` and returns where they went. */
  async run(target: string, calls: number, options: { request?: EchoRequest; deadlineMs?: number; concurrency?: number } = {}): Promise<BatchResult> {
    const id = this.nextId++;
    const batch: Batch = { id, target, calls, ...options };
    const result = new Promise<BatchResult>((resolve) => this.pending.set(id, resolve));
    this.child.stdin!.write(`${JSON.stringify(batch)}\n`);
    const died = this.exited.then(() => Promise.reject(new Error(`proxyless client died during a batch:\n${this.log}`)));
    return Promise.race([result, died]);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.stdin!.end();
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
      await this.exited;
      clearTimeout(timer);
    }
  }

  private onStdout(text: string): void {
    this.buffer += text;
    let newline: number;
    while ((newline = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, newline);
      this.buffer = this.buffer.slice(newline + 1);
      if (line === READY_LINE) this.readyResolve();
      else if (line.startsWith(RESULT_PREFIX)) {
        const result = JSON.parse(line.slice(RESULT_PREFIX.length)) as BatchResult;
        this.pending.get(result.id)?.(result);
        this.pending.delete(result.id);
      } else this.log += `${line}\n`;
    }
  }
}
