/**
 * The server behind every target: a loopback HTTP/1.1 server answering 200 "ok"
 * with keep-alive, in its own process so its CPU per request is reported apart.
 *
 * - `haproxy` (default): HAProxy answering by itself (`http-request return`),
 *   single-threaded. Costs a few µs per request: direct throughput is then
 *   bounded by the load generator, not the backend.
 * - `node`: `node:http` (bench/dataplane/node-backend.ts), ~30–60 µs/req here;
 *   closer to a real service, but it bounds direct throughput itself.
 */
import { fileURLToPath } from 'node:url';
import { freePort } from '../../deploy/local/free-port.js';
import { startHaproxy, type Address } from './haproxy.js';
import { spawnManaged, waitForPort, type ManagedProcess } from './processes.js';

export const BACKEND_KINDS = ['haproxy', 'node'] as const;
export type BackendKind = (typeof BACKEND_KINDS)[number];

/** What every request gets back (both backends). */
export const BACKEND_BODY = 'ok';

export interface Backend {
  kind: BackendKind;
  description: string;
  address: Address;
  url: string;
  pids(): number[];
  stop(): Promise<void>;
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NODE_BACKEND = fileURLToPath(new URL('./node-backend.ts', import.meta.url));

async function startNodeBackend(): Promise<ManagedProcess & { address: Address }> {
  let lastError: Error | undefined;
  for (let attempt = 1; attempt <= 3; attempt++) {
    const address = { host: '127.0.0.1', port: await freePort() };
    const server = await spawnManaged('backend (node)', process.execPath, ['--import', 'tsx', NODE_BACKEND, String(address.port)], { cwd: ROOT });
    try {
      await waitForPort(address.host, address.port, server, 20_000);
      return Object.assign(server, { address });
    } catch (error) {
      lastError = error as Error;
      await server.stop();
      if (!/EADDRINUSE/.test(server.output())) break;
    }
  }
  throw new Error(`node backend did not start: ${lastError?.message ?? 'unknown error'}`);
}

export async function startBackend(kind: BackendKind, dir: string): Promise<Backend> {
  if (kind === 'haproxy') {
    const haproxy = await startHaproxy(dir, 'backend', (listen) => ({ kind: 'respond', listen, body: BACKEND_BODY }));
    return {
      kind,
      description: 'HAProxy 1 thread answering by itself (http-request return)',
      address: haproxy.listen,
      url: `http://${haproxy.listen.host}:${haproxy.listen.port}/`,
      pids: () => [haproxy.process.pid],
      stop: () => haproxy.process.stop(),
    };
  }
  const node = await startNodeBackend();
  return {
    kind,
    description: `node:http ${process.version}, one process`,
    address: node.address,
    url: `http://${node.address.host}:${node.address.port}/`,
    pids: () => [node.pid],
    stop: () => node.stop(),
  };
}
