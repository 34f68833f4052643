/**
 * `node-http-2hops-mtls`: the path of `haproxy-http-2hops-mtls` and meshfed's
 * `sidecar-sidecar` — load → proxy 1 (HTTP in, mTLS out) ⇒mTLS⇒ proxy 2
 * (mTLS in, client certificate required; HTTP out) → backend — with each
 * proxy a naive Node.js proxy (./naive-node-proxy.mjs: node:http(s) server,
 * http(s).request through a keep-alive Agent, pipe both ways, no routing, no
 * retries, no hop-by-hop filtering). The floor of what Node's own HTTP and
 * TLS stack costs for the same hops: sidecar-sidecar minus this is meshfed's
 * own overhead. Reference: haproxy-http-2hops-mtls.
 *
 * The proxies run as plain `node` (no tsx loader) and are spawned directly,
 * so their pids are the proxies'. Same PKI as the HAProxy reference
 * (./tls.ts: ECDSA P-256, SAN-verified server certificate).
 */
import { fileURLToPath } from 'node:url';
import { freePort } from '../../deploy/local/free-port.js';
import type { Address } from './haproxy.js';
import { spawnManaged, waitForPort, type ManagedProcess } from './processes.js';
import type { Target, TargetContext, TargetSpec } from './targets.js';
import { makeBenchPki } from './tls.js';

const NAIVE_PROXY = fileURLToPath(new URL('./naive-node-proxy.mjs', import.meta.url));
/** The upstream Agent's `maxSockets` (HAProxy's pool is bounded by `maxconn 4000`; 64 load connections never reach either). */
const MAX_SOCKETS = 256;

interface RunningNodeProxy {
  process: ManagedProcess;
  listen: Address;
}

/** Starts one naive Node proxy on a fresh loopback port (3 tries: another process may take the port first). */
export async function startNaiveProxy(name: string, upstream: Address, tlsArgs: string[]): Promise<RunningNodeProxy> {
  let lastError: Error | undefined;
  for (let attempt = 1; attempt <= 3; attempt++) {
    const listen = { host: '127.0.0.1', port: await freePort() };
    const args = [NAIVE_PROXY, '--listen', `${listen.host}:${listen.port}`, '--upstream', `${upstream.host}:${upstream.port}`, '--max-sockets', String(MAX_SOCKETS), ...tlsArgs];
    const proxy = await spawnManaged(name, process.execPath, args);
    try {
      await waitForPort(listen.host, listen.port, proxy);
      return { process: proxy, listen };
    } catch (error) {
      lastError = error as Error;
      await proxy.stop();
      if (!/EADDRINUSE/.test(proxy.output())) break;
    }
  }
  throw new Error(`${name}: the naive Node proxy did not start: ${lastError?.message ?? 'unknown error'}`);
}

/** load → naive Node proxy (http, mTLS out) ⇒mTLS⇒ naive Node proxy (mTLS in, http out) → backend. */
export async function startNodeHttp2HopsMtls(ctx: TargetContext): Promise<Target> {
  const name = 'node-http-2hops-mtls';
  const pki = await makeBenchPki(ctx.dir);
  const started: RunningNodeProxy[] = [];
  const stop = async () => {
    for (const p of started) await p.process.stop(); // front to back
  };
  try {
    const second = await startNaiveProxy(`${name}.2`, ctx.backend.address, ['--listen-cert', pki.serverCrtFile, '--listen-ca', pki.caFile]);
    started.unshift(second);
    const first = await startNaiveProxy(`${name}.1`, second.listen, ['--upstream-cert', pki.clientCrtFile, '--upstream-ca', pki.caFile, '--upstream-servername', pki.serverName]);
    started.unshift(first);
    const hops = () => [
      { role: '1: node http mTLS⇒', pid: first.process.pid },
      { role: '2: node http ⇒mTLS', pid: second.process.pid },
    ];
    ctx.log(`${name}: pid ${first.process.pid} (${first.listen.host}:${first.listen.port}) ⇒mTLS⇒ pid ${second.process.pid} (${second.listen.host}:${second.listen.port}) → backend ${ctx.backend.url}`);
    return { name, url: `http://${first.listen.host}:${first.listen.port}/`, pids: () => hops().map((h) => h.pid), hops, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

export const NODE_TARGETS: TargetSpec[] = [
  {
    name: 'node-http-2hops-mtls',
    path: 'load → naive Node proxy http ⇒mTLS⇒ naive Node proxy http → backend',
    reference: 'haproxy-http-2hops-mtls',
    start: startNodeHttp2HopsMtls,
  },
];
