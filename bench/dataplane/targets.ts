/**
 * What the dataplane bench measures: a *target* is a URL that the load
 * generator hits and that ends at the bench's backend, plus the processes that
 * count as "the proxy" on the way.
 *
 * HAProxy targets (the reference, Debian's haproxy, `nbthread 1`, keep-alive on
 * both sides) are here; meshfed's are in ./meshfed-targets.ts. To add one:
 * write a `start(ctx)` that spawns its processes with `spawnManaged` (or
 * `startHaproxy`), waits for the port, and returns a `Target`; then list it in
 * `ALL_TARGETS` below with the HAProxy target that does the same hop as its
 * `reference`.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Backend } from './backend.js';
import { startHaproxy, type Address, type RunningHaproxy } from './haproxy.js';
import { MESHFED_TARGETS } from './meshfed-targets.js';
import { makeBenchPki, type BenchPki } from './tls.js';

export interface Target {
  name: string;
  /** What the load generator hits (plain HTTP/1.1 on loopback). */
  url: string;
  /** The processes whose CPU counts as "the proxy" (every hop; not the backend). */
  pids(): number[];
  stop(): Promise<void>;
}

export interface TargetContext {
  /** A directory of its own inside the bench's temp dir (configs, certificates, state). */
  dir: string;
  /** Where the target must send the requests in the end. */
  backend: Backend;
  /** Progress on stderr. */
  log(message: string): void;
}

export interface TargetSpec {
  name: string;
  /** The path of a request, shown in the report. */
  path: string;
  /** The HAProxy target that does the same hop(s): the reference for ratios. Unset for HAProxy targets and `direct`. */
  reference?: string;
  start(ctx: TargetContext): Promise<Target>;
}

const urlOf = (a: Address) => `http://${a.host}:${a.port}/`;

/** A target made of HAProxy processes; `hops[0]` is the one the load hits. */
function haproxyTarget(name: string, hops: RunningHaproxy[]): Target {
  return {
    name,
    url: urlOf(hops[0]!.listen),
    pids: () => hops.map((h) => h.process.pid),
    // front to back, so no hop sees its upstream vanish while it still has clients
    stop: async () => {
      for (const hop of hops) await hop.process.stop();
    },
  };
}

/** Starts a chain of HAProxy hops back to front (each needs its upstream's port); `hops[0]` faces the load. */
interface HopSpec {
  mode: 'http' | 'tcp';
  /** originate mTLS to the next hop */
  tlsToUpstream?: boolean;
  /** terminate mTLS from the previous hop (client certificate required) */
  tlsListen?: boolean;
  /** tcp mode: forward only ClientHellos whose SNI ends with the bench's mesh domain (as the ingress routes) */
  sniRoute?: boolean;
}

async function startHaproxyChain(ctx: TargetContext, name: string, hops: HopSpec[]): Promise<Target> {
  const pki: BenchPki | undefined = hops.some((h) => h.tlsToUpstream || h.tlsListen) ? await makeBenchPki(ctx.dir) : undefined;
  if (hops.at(-1)?.tlsToUpstream || hops[0]?.tlsListen) throw new Error(`${name}: the load generator and the backend speak plaintext`);
  const running: RunningHaproxy[] = [];
  try {
    let upstream = ctx.backend.address;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i]!;
      const hopName = hops.length === 1 ? name : `${name}.${i + 1}`;
      const upstreamTls = hop.tlsToUpstream && pki ? { caFile: pki.caFile, crtFile: pki.clientCrtFile, serverName: pki.serverName } : undefined;
      const listenTls = hop.tlsListen && pki ? { caFile: pki.caFile, crtFile: pki.serverCrtFile } : undefined;
      const h = await startHaproxy(ctx.dir, hopName, (listen) => ({
        kind: 'proxy',
        mode: hop.mode,
        listen,
        upstream,
        tls: { ...(listenTls ? { listen: listenTls } : {}), ...(upstreamTls ? { upstream: upstreamTls } : {}) },
        ...(hop.sniRoute && pki ? { sniSuffix: pki.serverName.slice(pki.serverName.indexOf('.')) } : {}),
      }));
      running.unshift(h);
      upstream = h.listen;
    }
    ctx.log(`${name}: ${running.map((h) => `pid ${h.process.pid} (${h.configFile})`).join(' → ')} → backend ${urlOf(ctx.backend.address)}`);
    return haproxyTarget(name, running);
  } catch (error) {
    for (const h of running) await h.process.stop();
    throw error;
  }
}

/** No proxy: the load generator hits the backend. */
export async function startDirect(ctx: TargetContext): Promise<Target> {
  return { name: 'direct', url: ctx.backend.url, pids: () => [], stop: async () => {} };
}

/** One HAProxy hop in http mode: the reference for one sidecar. */
export async function startHaproxyHttp(ctx: TargetContext): Promise<Target> {
  return startHaproxyChain(ctx, 'haproxy-http', [{ mode: 'http' }]);
}

/** Two HAProxy processes chained, plaintext: stands in for sidecar → sidecar. */
export async function startHaproxyHttp2Hops(ctx: TargetContext): Promise<Target> {
  return startHaproxyChain(ctx, 'haproxy-http-2hops', [{ mode: 'http' }, { mode: 'http' }]);
}

/** Two HAProxy processes chained with mTLS between them (ECDSA P-256, HTTP/1.1): sidecar → sidecar as meshfed does it. */
export async function startHaproxyHttp2HopsMtls(ctx: TargetContext): Promise<Target> {
  return startHaproxyChain(ctx, 'haproxy-http-2hops-mtls', [{ mode: 'http', tlsToUpstream: true }, { mode: 'http', tlsListen: true }]);
}

/** One HAProxy hop in tcp mode: the reference for the ingress (which forwards by SNI, never parsing HTTP). */
export async function startHaproxyTcp(ctx: TargetContext): Promise<Target> {
  return startHaproxyChain(ctx, 'haproxy-tcp', [{ mode: 'tcp' }]);
}

/** http → tcp → http, plaintext: stands in for sidecar → ingress → sidecar. */
export async function startHaproxyHttpTcpHttp(ctx: TargetContext): Promise<Target> {
  return startHaproxyChain(ctx, 'haproxy-http-tcp-http', [{ mode: 'http' }, { mode: 'tcp' }, { mode: 'http' }]);
}

/** http ⇒ mTLS through a tcp hop that routes by SNI ⇒ http: sidecar → ingress → sidecar as meshfed does it. */
export async function startHaproxyHttpTcpHttpMtls(ctx: TargetContext): Promise<Target> {
  return startHaproxyChain(ctx, 'haproxy-http-tcp-http-mtls', [{ mode: 'http', tlsToUpstream: true }, { mode: 'tcp', sniRoute: true }, { mode: 'http', tlsListen: true }]);
}

export const HAPROXY_TARGETS: TargetSpec[] = [
  { name: 'direct', path: 'load → backend', start: startDirect },
  { name: 'haproxy-http', path: 'load → HAProxy http → backend', start: startHaproxyHttp },
  { name: 'haproxy-http-2hops', path: 'load → HAProxy http → HAProxy http → backend', start: startHaproxyHttp2Hops },
  { name: 'haproxy-http-2hops-mtls', path: 'load → HAProxy http ⇒mTLS⇒ HAProxy http → backend', start: startHaproxyHttp2HopsMtls },
  { name: 'haproxy-tcp', path: 'load → HAProxy tcp → backend', start: startHaproxyTcp },
  { name: 'haproxy-http-tcp-http', path: 'load → HAProxy http → HAProxy tcp → HAProxy http → backend', start: startHaproxyHttpTcpHttp },
  { name: 'haproxy-http-tcp-http-mtls', path: 'load → HAProxy http ⇒mTLS⇒ HAProxy tcp (SNI) ⇒ HAProxy http → backend', start: startHaproxyHttpTcpHttpMtls },
];

/** Every target the bench knows, in report order. */
export const ALL_TARGETS: TargetSpec[] = [...HAPROXY_TARGETS, ...MESHFED_TARGETS];

/** Starts one target in its own directory under `root`. */
export async function startTarget(spec: TargetSpec, root: string, backend: Backend, log: (m: string) => void): Promise<Target> {
  const dir = join(root, spec.name);
  await mkdir(dir, { recursive: true });
  return spec.start({ dir, backend, log });
}
