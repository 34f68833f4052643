/**
 * What the dataplane bench measures: a *target* is a URL that the load
 * generator hits and that ends at the bench's backend, plus the processes that
 * count as "the proxy" on the way.
 *
 * HAProxy targets (the reference, Debian's haproxy, `nbthread 1`, keep-alive on
 * both sides) are here; meshfed's are in ./meshfed-targets.ts; a naive Node.js
 * proxy pair doing sidecar-sidecar's hops (`node-http-2hops-mtls`, the floor of
 * what Node's own HTTP/TLS stack costs) in ./node-targets.ts. The TLS
 * targets (`direct-tls`, `haproxy-tcp-tls`, meshfed's `ingress-tls`) end at a
 * TLS backend of their own (./tls-backend.ts) and are compared with
 * `direct-tls` instead of `direct`. To add one: write a `start(ctx)` that
 * spawns its processes with `spawnManaged` (or `startHaproxy`), waits for the
 * port, and returns a `Target`; then list it in `ALL_TARGETS` below with the
 * HAProxy target that does the same hop as its `reference`. What several
 * targets share (the mesh, the TLS backend) is a `ctx.shared(...)` resource.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Backend } from './backend.js';
import { startHaproxy, type Address, type RunningHaproxy } from './haproxy.js';
import { MESHFED_TARGETS } from './meshfed-targets.js';
import { NODE_TARGETS } from './node-targets.js';
import { sharedTlsBackend } from './tls-backend.js';
import { makeBenchPki, type BenchPki } from './tls.js';

export interface Target {
  name: string;
  /**
   * What the load generator requests (HTTP/1.1 on loopback, keep-alive). Its host is the request's
   * authority (Host header, and SNI for https); when that is a name that does not resolve (a mesh
   * name), `connectTo` says where to connect.
   */
  url: string;
  /** Where to connect instead of the URL's host (h2load `--connect-to`; wrk gets it as its URL and the authority as `Host`). */
  connectTo?: Address;
  /** The processes whose CPU counts as "the proxy" (every hop; not the backend). */
  pids(): number[];
  /** The same processes with their role in the chain, front to back: CPU per hop is reported from these. */
  hops(): Hop[];
  /** The processes behind the proxy when they are not the bench's backend (the TLS targets' own backend). */
  backendPids?(): number[];
  /** `--profile`: starts the CPU profiler in the target's Node processes (called before its first measurement). */
  startProfiling?(): void;
  stop(): Promise<void>;
}

export interface Hop {
  role: string;
  pid: number;
}

/** Something several targets use and the run starts once, on first use (the meshfed control planes, the TLS backend). */
export interface SharedResource<T> {
  value: T;
  stop(): Promise<void>;
}

export interface TargetContext {
  /** A directory of its own inside the bench's temp dir (configs, certificates, state). */
  dir: string;
  /** Where the target must send the requests in the end. */
  backend: Backend;
  /** Progress on stderr. */
  log(message: string): void;
  /** Set (`--profile <dir>`): run Node proxies with `--cpu-prof`, their profiles written there. */
  profileDir?: string;
  /** The resource `name`, started by `start` (in a directory of its own) the first time any target asks; stopped by the run after every target. */
  shared<T>(name: string, start: (dir: string) => Promise<SharedResource<T>>): Promise<T>;
}

export interface TargetSpec {
  name: string;
  /** The path of a request, shown in the report. */
  path: string;
  /** The HAProxy target that does the same hop(s): the reference for ratios. Unset for HAProxy targets and the baselines. */
  reference?: string;
  /** What "added latency" and "× direct" are measured against; default `direct`. */
  baseline?: string;
  /** A baseline itself (`direct`, `direct-tls`): no proxy. */
  isBaseline?: boolean;
  start(ctx: TargetContext): Promise<Target>;
}

/** Shared resources of one run: started once, on first use; stopped in reverse order by `stopAll`. */
export class SharedResources {
  private readonly started: Array<{ name: string; stop: () => Promise<void> }> = [];
  private readonly pending = new Map<string, Promise<unknown>>();

  constructor(private readonly root: string) {}

  get<T>(name: string, start: (dir: string) => Promise<SharedResource<T>>): Promise<T> {
    let value = this.pending.get(name) as Promise<T> | undefined;
    if (!value) {
      value = (async () => {
        const dir = join(this.root, `shared-${name}`);
        await mkdir(dir, { recursive: true });
        const resource = await start(dir);
        this.started.push({ name, stop: () => resource.stop() });
        return resource.value;
      })();
      this.pending.set(name, value);
    }
    return value;
  }

  /** Stops what was started, last first; returns the failures. */
  async stopAll(): Promise<string[]> {
    const failures: string[] = [];
    while (this.started.length) {
      const { name, stop } = this.started.pop()!;
      await stop().catch((e: Error) => failures.push(`stopping ${name}: ${e.message}`));
    }
    return failures;
  }
}

const urlOf = (a: Address) => `http://${a.host}:${a.port}/`;

/** A target made of HAProxy processes; `hops[0]` is the one the load hits. */
function haproxyTarget(name: string, hops: RunningHaproxy[], roles: string[], load?: { url: string; connectTo: Address }): Target {
  return {
    name,
    url: load?.url ?? urlOf(hops[0]!.listen),
    ...(load ? { connectTo: load.connectTo } : {}),
    pids: () => hops.map((h) => h.process.pid),
    hops: () => hops.map((h, i) => ({ role: roles[i] ?? `hop ${i + 1}`, pid: h.process.pid })),
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
    return haproxyTarget(name, running, hops.map(hopRole));
  } catch (error) {
    for (const h of running) await h.process.stop();
    throw error;
  }
}

/** "1: http ⇒mTLS", "2: tcp (SNI)", … : what one hop of a chain does, for the per-hop table. */
function hopRole(hop: HopSpec, i: number): string {
  const tls = hop.tlsListen && hop.tlsToUpstream ? ' mTLS⇒mTLS' : hop.tlsListen ? ' ⇒mTLS' : hop.tlsToUpstream ? ' mTLS⇒' : '';
  return `${i + 1}: ${hop.mode}${hop.sniRoute ? ' (SNI)' : ''}${tls}`;
}

/** No proxy: the load generator hits the backend. */
export async function startDirect(ctx: TargetContext): Promise<Target> {
  return { name: 'direct', url: ctx.backend.url, pids: () => [], hops: () => [], stop: async () => {} };
}

/** No proxy, over TLS: the load generator's TLS connections end at the TLS backend (the baseline of the TLS targets). */
export async function startDirectTls(ctx: TargetContext): Promise<Target> {
  const backend = await sharedTlsBackend(ctx);
  return { name: 'direct-tls', url: backend.url, connectTo: backend.address, pids: () => [], hops: () => [], backendPids: backend.pids, stop: async () => {} };
}

/** One HAProxy in tcp mode routing TLS by SNI (without terminating it) to the TLS backend: what the ingress does, done by HAProxy. */
export async function startHaproxyTcpTls(ctx: TargetContext): Promise<Target> {
  const backend = await sharedTlsBackend(ctx);
  const h = await startHaproxy(ctx.dir, 'haproxy-tcp-tls', (listen) => ({ kind: 'proxy', mode: 'tcp', listen, upstream: backend.address, sniSuffix: backend.sni }));
  ctx.log(`haproxy-tcp-tls: pid ${h.process.pid} (${h.configFile}) → TLS backend ${backend.address.host}:${backend.address.port}`);
  return { ...haproxyTarget('haproxy-tcp-tls', [h], ['1: tcp (SNI), TLS passed through'], { url: backend.url, connectTo: h.listen }), backendPids: backend.pids };
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
  { name: 'direct', path: 'load → backend', isBaseline: true, start: startDirect },
  { name: 'haproxy-http', path: 'load → HAProxy http → backend', start: startHaproxyHttp },
  { name: 'haproxy-http-2hops', path: 'load → HAProxy http → HAProxy http → backend', start: startHaproxyHttp2Hops },
  { name: 'haproxy-http-2hops-mtls', path: 'load → HAProxy http ⇒mTLS⇒ HAProxy http → backend', start: startHaproxyHttp2HopsMtls },
  { name: 'haproxy-tcp', path: 'load → HAProxy tcp → backend', start: startHaproxyTcp },
  { name: 'haproxy-http-tcp-http', path: 'load → HAProxy http → HAProxy tcp → HAProxy http → backend', start: startHaproxyHttpTcpHttp },
  { name: 'haproxy-http-tcp-http-mtls', path: 'load → HAProxy http ⇒mTLS⇒ HAProxy tcp (SNI) ⇒ HAProxy http → backend', start: startHaproxyHttpTcpHttpMtls },
  { name: 'direct-tls', path: 'load ⇒TLS⇒ TLS backend', isBaseline: true, start: startDirectTls },
  { name: 'haproxy-tcp-tls', path: 'load ⇒TLS (SNI)⇒ HAProxy tcp ⇒ TLS backend', baseline: 'direct-tls', start: startHaproxyTcpTls },
];

/** Every target the bench knows, in report order. */
export const ALL_TARGETS: TargetSpec[] = [...HAPROXY_TARGETS, ...NODE_TARGETS, ...MESHFED_TARGETS];

/** Starts one target in its own directory under `root`. */
export async function startTarget(spec: TargetSpec, root: string, backend: Backend, shared: SharedResources, log: (m: string) => void, profileDir?: string): Promise<Target> {
  const dir = join(root, spec.name);
  await mkdir(dir, { recursive: true });
  return spec.start({ dir, backend, log, shared: (name, start) => shared.get(name, start), ...(profileDir ? { profileDir } : {}) });
}
