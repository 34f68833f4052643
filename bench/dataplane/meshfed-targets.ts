/**
 * meshfed's targets: `meshfed gateway` processes in a real mesh (./mesh.ts:
 * Redis, NATS, global CP and zone CPs "zone-a" / "zone-b" in the bench
 * process, zone-b's ingress as its own process), started once, on the
 * first of these targets, and stopped after every target.
 *
 * - sidecar-sidecar: load → client sidecar's outbound listener (plain
 *   HTTP/1.1, Host `svc-local.bench.mesh:8080`) ⇒mTLS⇒ server sidecar's
 *   inbound → backend. Both in zone-a. Reference: haproxy-http-2hops-mtls.
 * - sidecar-ingress-sidecar: the same, but the service's only endpoint is in
 *   zone-b: client sidecar (zone-a) ⇒mTLS through zone-b's ingress (SNI
 *   passthrough)⇒ server sidecar (zone-b) → backend. Reference:
 *   haproxy-http-tcp-http-mtls.
 * - ingress-tls: the ingress alone: load ⇒TLS, SNI
 *   `<port>.svc-tls.bench.bench.mesh`⇒ ingress ⇒ TLS backend (./tls-backend.ts),
 *   registered in zone-b as the service's endpoint with no sidecar.
 *   Reference: haproxy-tcp-tls (HAProxy tcp routing by SNI to the same
 *   backend); baseline direct-tls.
 *
 * No `sidecar` target: a single meshfed hop cannot be measured alone. The
 * outbound side always speaks mTLS to an inbound sidecar, and the inbound
 * side only accepts mTLS with a mesh SVID, which h2load and wrk cannot
 * present. The report gives per-hop figures instead: CPU µs/req of each
 * gateway process (client and server sidecar apart), and an *estimate* of
 * one hop's added latency, sidecar-sidecar's added p50 ÷ 2.
 *
 * Each sidecar is registered with the backend as its application
 * (`targetPort` = the backend's port on 127.0.0.1, where the sidecar's
 * health probe looks) and binds its own loopback addresses (127.0.33.x).
 */
import { join } from 'node:path';
import type { DataplaneRegistration } from '../../core/schemas/dataplane.js';
import { BACKEND_BODY } from './backend.js';
import { spawnGateway, waitUntilReady, type GatewayProcess } from './gateway-process.js';
import type { Address } from './haproxy.js';
import { waitUntilAnswers } from './http-check.js';
import { MESH_NAMESPACE, MESH_REGION, MESH_TENANT, startBenchMesh, type BenchMesh, type ZoneName } from './mesh.js';
import { sharedTlsBackend, TLS_SERVICE } from './tls-backend.js';
import type { Target, TargetContext, TargetSpec } from './targets.js';

/** Kept for run.ts: a target whose start throws this is skipped with a note. */
export const NOT_WIRED = 'meshfed gateway not wired yet';

/** Targets that were planned and dropped, with why (run.ts refuses them with this). */
export const DROPPED_TARGETS: Record<string, string> = {
  sidecar:
    'a single meshfed hop cannot be measured alone: the outbound side always speaks mTLS to an inbound sidecar, and the inbound side accepts only mTLS with a mesh SVID, ' +
    'which h2load and wrk cannot present. Run sidecar-sidecar: the report shows each sidecar\'s CPU µs/req apart and estimates one hop\'s added latency as its added p50 ÷ 2.',
};

const SERVICE_PORT = 8080;
/** The client sidecars' own (unused) inbound port. */
const CLIENT_PORT = 9000;
const ROUTE_TIMEOUT_MS = 60_000;

function sharedMesh(ctx: TargetContext): Promise<BenchMesh> {
  return ctx.shared('mesh', async (dir) => {
    const mesh = await startBenchMesh({ dir, log: (m) => ctx.log(m), ...(ctx.profileDir ? { profileDir: ctx.profileDir } : {}) });
    return { value: mesh, stop: () => mesh.stop() };
  });
}

interface SidecarPlan {
  target: string;
  role: 'client-sidecar' | 'server-sidecar';
  zone: ZoneName;
  service: string;
  /** The workload's address: inbound listeners bind here. */
  address: string;
  /** Outbound listeners bind here. */
  outboundAddress: string;
  port: number;
}

async function startSidecar(ctx: TargetContext, mesh: BenchMesh, plan: SidecarPlan): Promise<GatewayProcess> {
  const dataplane: DataplaneRegistration = {
    tenant: MESH_TENANT,
    namespace: MESH_NAMESPACE,
    service: plan.service,
    instance: `${plan.service}-1`,
    address: plan.address,
    ports: [{ port: plan.port, targetPort: ctx.backend.address.port, protocol: 'http' }],
    locality: { region: MESH_REGION, zone: plan.zone },
  };
  return spawnGateway({
    name: `${plan.role.replace('-', ' ')} (${plan.target}, ${plan.zone})`,
    role: `${plan.target}.${plan.role}`,
    mode: 'sidecar',
    dir: join(ctx.dir, plan.role),
    zone: mesh.zones[plan.zone].cp,
    token: mesh.dataplaneToken(plan.zone, plan.service),
    dataplane,
    outboundAddress: plan.outboundAddress,
    ...(ctx.profileDir ? { profileDir: ctx.profileDir } : {}),
  });
}

const gone = (gateways: GatewayProcess[]) => () => {
  const dead = gateways.find((g) => g.process.exited());
  return dead ? `${dead.process.name} (pid ${dead.pid}) exited:\n${dead.process.output().trim()}` : undefined;
};

/** Client sidecar in zone-a → server sidecar in `serverZone` (through zone-b's ingress when that is zone-b). */
async function startSidecarChain(ctx: TargetContext, name: string, serverZone: ZoneName, service: string, subnet: number): Promise<Target> {
  const mesh = await sharedMesh(ctx);
  const started: GatewayProcess[] = [];
  const stop = async () => {
    for (const g of [...started].reverse()) await g.stop();
  };
  try {
    const server = await startSidecar(ctx, mesh, { target: name, role: 'server-sidecar', zone: serverZone, service, address: `127.0.33.${subnet + 1}`, outboundAddress: `127.0.33.${subnet + 2}`, port: SERVICE_PORT });
    started.push(server);
    const client = await startSidecar(ctx, mesh, { target: name, role: 'client-sidecar', zone: 'zone-a', service: `client-${name}`, address: `127.0.33.${subnet + 3}`, outboundAddress: `127.0.33.${subnet + 4}`, port: CLIENT_PORT });
    started.unshift(client);
    await Promise.all([waitUntilReady(server), waitUntilReady(client)]);
    const through = serverZone === 'zone-b';
    if (through) await mesh.waitForIngress();
    const url = `http://${service}.${MESH_NAMESPACE}.mesh:${SERVICE_PORT}/`;
    const connectTo: Address = { host: `127.0.33.${subnet + 4}`, port: SERVICE_PORT };
    await waitUntilAnswers(url, connectTo, BACKEND_BODY, ROUTE_TIMEOUT_MS, gone([...started, ...(through ? [mesh.ingress] : [])]));
    if (through && (await ingressForwarded(mesh, service)) === 0) throw new Error(`${name}: answered, but zone-b's ingress forwarded nothing: the request did not cross zones`);
    const hops = () => [
      { role: 'client sidecar', pid: client.pid },
      ...(through ? [{ role: 'ingress', pid: mesh.ingress.pid }] : []),
      { role: 'server sidecar', pid: server.pid },
    ];
    ctx.log(`${name}: ${hops().map((h) => `${h.role} pid ${h.pid}`).join(' → ')} → backend; load → ${connectTo.host}:${connectTo.port} Host ${new URL(url).host}`);
    const profiled = [client, server, ...(through ? [mesh.ingress] : [])];
    return { name, url, connectTo, pids: () => hops().map((h) => h.pid), hops, startProfiling: () => profiled.forEach((g) => g.startProfiling()), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Connections to `service` that zone-b's ingress forwarded so far (its /metrics). */
async function ingressForwarded(mesh: BenchMesh, service: string): Promise<number> {
  const text = await (await fetch(`${mesh.ingress.adminUrl}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith('meshfed_ingress_connections_total{') && line.includes('result="ok"') && line.includes(`service="${service}.${MESH_NAMESPACE}"`))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}

/** load → sidecar (outbound) ⇒mTLS⇒ sidecar (inbound) → backend: service to service in one zone. */
export function startSidecarSidecar(ctx: TargetContext): Promise<Target> {
  return startSidecarChain(ctx, 'sidecar-sidecar', 'zone-a', 'svc-local', 10);
}

/** load → sidecar (zone-a) ⇒mTLS through zone-b's ingress (SNI)⇒ sidecar (zone-b) → backend: the cross-zone path. */
export function startSidecarIngressSidecar(ctx: TargetContext): Promise<Target> {
  return startSidecarChain(ctx, 'sidecar-ingress-sidecar', 'zone-b', 'svc-remote', 20);
}

/** load ⇒TLS (SNI)⇒ zone-b's ingress ⇒ the TLS backend, registered as svc-tls's endpoint in zone-b. */
export async function startIngressTls(ctx: TargetContext): Promise<Target> {
  const [mesh, backend] = await Promise.all([sharedMesh(ctx), sharedTlsBackend(ctx)]);
  const instance = `${TLS_SERVICE}-1`;
  await mesh.registerWithoutSidecar('zone-b', {
    tenant: MESH_TENANT,
    namespace: MESH_NAMESPACE,
    service: TLS_SERVICE,
    instance,
    address: backend.address.host,
    ports: [{ port: backend.address.port, protocol: 'tcp' }],
    locality: { region: MESH_REGION, zone: 'zone-b' },
  });
  const stop = () => mesh.deregister('zone-b', TLS_SERVICE, instance);
  try {
    await mesh.waitForIngress();
    await waitUntilAnswers(backend.url, mesh.ingressAddress, BACKEND_BODY, ROUTE_TIMEOUT_MS, gone([mesh.ingress]));
    ctx.log(`ingress-tls: ingress pid ${mesh.ingress.pid} on ${mesh.ingressAddress.host}:${mesh.ingressAddress.port} → TLS backend ${backend.address.host}:${backend.address.port} (SNI ${backend.sni})`);
    return {
      name: 'ingress-tls',
      url: backend.url,
      connectTo: mesh.ingressAddress,
      pids: () => [mesh.ingress.pid],
      hops: () => [{ role: 'ingress', pid: mesh.ingress.pid }],
      backendPids: backend.pids,
      startProfiling: () => mesh.ingress.startProfiling(),
      stop,
    };
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
}

export const MESHFED_TARGETS: TargetSpec[] = [
  { name: 'sidecar-sidecar', path: 'load → sidecar ⇒mTLS⇒ sidecar → backend (zone-a)', reference: 'haproxy-http-2hops-mtls', start: startSidecarSidecar },
  {
    name: 'sidecar-ingress-sidecar',
    path: 'load → sidecar (zone-a) ⇒mTLS⇒ ingress (zone-b, SNI) ⇒ sidecar (zone-b) → backend',
    reference: 'haproxy-http-tcp-http-mtls',
    start: startSidecarIngressSidecar,
  },
  { name: 'ingress-tls', path: 'load ⇒TLS (SNI)⇒ meshfed ingress ⇒ TLS backend', reference: 'haproxy-tcp-tls', baseline: 'direct-tls', start: startIngressTls },
];
