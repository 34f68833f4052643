/**
 * xDS push benchmark: time to generate and push config to N proxies, and to
 * push one endpoint change to all of them; memory used.
 *
 *   npx tsx bench/xds/run.ts [--proxies 1000] [--services 1000] [--endpoints 10000]
 *                            [--changes 10] [--debounce 0[,100]] [--channels 10]
 *                            [--kind proxyless|sidecar] [--mtls] [--profile FILE]
 *                            [--timeout-ms 120000] [--max-seconds 1800]
 *
 * Server side, in this process, wired as zone-cp/xds/start.ts wires it:
 * TenantModels → ProxySnapshots (debounced rebuild, each shared resource
 * encoded once) → AdsServer (state-of-the-world ADS) on a plaintext
 * grpc.Server bound to 127.0.0.1:0 — with this benchmark's own identify()
 * (every stream accepted as tenant acme) and a synthetic world (world.ts).
 * Clients: N ADS streams in a child process (clients.ts) over --channels
 * HTTP/2 connections.
 *
 * Phases: (a) every stream opens at once and gets its full config (LDS, CDS,
 * then RDS and EDS for every name learned), all ACKed; (b) --changes times:
 * flip one endpoint's health and call invalidate() as start.ts does
 * (models.invalidate(); snapshots.invalidate()), then wait until every stream
 * got an EDS response with a new version. Times are CLOCK_MONOTONIC
 * (process.hrtime) in both processes, so they compare across them.
 *
 * Where the rebuild time goes is measured from outside the product code:
 * generate() is this file's closure, push() is wrapped in watch(), the
 * rebuild is wrapped around snapshots.rebuildNow, and call.write is wrapped
 * per stream (serialization happens inside it).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as grpc from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { createLogger } from '../../core/log.js';
import { ADS_PROTO, loadGrpcPackage } from '../../core/proto/load.js';
import { envoyRoot, type EncodedAny } from '../../core/xds/protos.js';
import { endpointKey, type LocalEndpoint } from '../../zone-cp/discovery/model.js';
import { ProxySnapshots } from '../../zone-cp/xds/cache/proxy-snapshots.js';
import { TenantModels, generateProxyResources, proxyShareKey } from '../../zone-cp/xds/generation.js';
import { describeProxy, nodeMetadataString, type ProxyDescription } from '../../zone-cp/xds/identify.js';
import { AdsServer, type IdentifyOutcome, type XdsNode } from '../../zone-cp/xds/server/ads-server.js';
import type { DiscoveryRequest, DiscoveryResponse, ProxySnapshot } from '../../zone-cp/xds/server/stream-state.js';
import type { TenantView } from '../../zone-cp/sync/tenant-view.js';
import { BENCH_METADATA, TYPE, hrMs, type FromClient, type MemoryMessage, type ProxyKindFlag, type ReadyMessage, type ReceivedMessage, type ToClient } from './protocol.js';
import { LOCAL_LOCALITIES, REGION, TENANT, ZONE, makeEndpoints, makeTenantView } from './world.js';

// ---------------------------------------------------------------- options

const USAGE =
  'usage: npx tsx bench/xds/run.ts [--proxies 1000] [--services 1000] [--endpoints 10000] [--changes 10] [--debounce 0[,100]] [--channels 10] [--kind proxyless|sidecar] [--mtls] [--profile FILE] [--timeout-ms 120000] [--max-seconds 1800]';
const { values: flags } = parseArgs({
  options: {
    proxies: { type: 'string', default: '1000' },
    services: { type: 'string', default: '1000' },
    endpoints: { type: 'string', default: '10000' },
    changes: { type: 'string', default: '10' },
    debounce: { type: 'string', default: '0' },
    channels: { type: 'string', default: '10' },
    kind: { type: 'string', default: 'proxyless' },
    mtls: { type: 'boolean', default: false },
    profile: { type: 'string' },
    'timeout-ms': { type: 'string', default: '120000' },
    'max-seconds': { type: 'string', default: '1800' },
    help: { type: 'boolean', default: false },
  },
  strict: true,
});
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}
function wholeNumber(name: string, text: string, min: number): number {
  const n = Number(text);
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(n) || n < min) {
    console.error(`--${name}: "${text}" must be a whole number of at least ${min}\n${USAGE}`);
    process.exit(2);
  }
  return n;
}
const PROXIES = wholeNumber('proxies', flags.proxies, 1);
const SERVICES = wholeNumber('services', flags.services, 1);
const ENDPOINTS = wholeNumber('endpoints', flags.endpoints, 1);
const CHANGES = wholeNumber('changes', flags.changes, 0);
const DEBOUNCES = flags.debounce.split(',').map((d) => wholeNumber('debounce', d.trim(), 0));
const CHANNELS = Math.min(PROXIES, wholeNumber('channels', flags.channels, 1));
const TIMEOUT_MS = wholeNumber('timeout-ms', flags['timeout-ms'], 1);
const MAX_SECONDS = wholeNumber('max-seconds', flags['max-seconds'], 1);
if (flags.kind !== 'proxyless' && flags.kind !== 'sidecar') {
  console.error(`--kind: "${flags.kind}" must be proxyless or sidecar\n${USAGE}`);
  process.exit(2);
}
const KIND: ProxyKindFlag = flags.kind;
if (ENDPOINTS > 16_000_000) {
  console.error('--endpoints: at most 16,000,000 (10.0.0.0/8 addresses)');
  process.exit(2);
}

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const started = hrMs();
const log = (message: string) => console.log(`[${((hrMs() - started) / 1000).toFixed(1).padStart(6)}s] ${message}`);
const MB = 1024 * 1024;
const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '-');
const mb = (bytes: number) => fmt(bytes / MB, 1);
function percentile(sorted: readonly number[], q: number): number {
  if (!sorted.length) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
const median = (values: readonly number[]) => percentile([...values].sort((a, b) => a - b), 0.5);
const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;

// ---------------------------------------------------------------- server side, wired as start.ts does

const registry = new Registry();
const serverLog = createLogger('bench-xds', 'warn');
let endpoints: LocalEndpoint[] = makeEndpoints(ENDPOINTS, SERVICES);
const tenants: Record<string, TenantView> = { [TENANT]: makeTenantView(SERVICES) };
const zoneLocality = () => ({ region: REGION, zone: ZONE });

/** Time spent inside the product's pieces during one rebuild (or the initial phase), ms. */
const timing = { model: 0, modelCalls: 0, modelRebuilds: 0, generate: 0, push: 0, write: 0, writes: 0, writeBytes: 0, firstModelMs: Number.NaN };
const resetTiming = () => Object.assign(timing, { model: 0, modelCalls: 0, modelRebuilds: 0, generate: 0, push: 0, write: 0, writes: 0, writeBytes: 0 });

const models = new TenantModels({ zone: ZONE, tenants: () => tenants, endpoints: () => endpoints }, serverLog);
{
  // Timing wrapper on this instance: model() rebuilds the tenant's model when dirty, else returns the cached one.
  const model = models.model.bind(models);
  let known: unknown;
  models.model = (tenant: string) => {
    const t = hrMs();
    const result = model(tenant);
    const spent = hrMs() - t;
    timing.model += spent;
    timing.modelCalls++;
    if (result !== known) {
      known = result;
      timing.modelRebuilds++;
      if (Number.isNaN(timing.firstModelMs)) timing.firstModelMs = spent;
    }
    return result;
  };
}

/** The debounce is read at each invalidate(): this object is the one ProxySnapshots holds. */
const snapshotOptions = { debounceMs: DEBOUNCES[0]!, log: serverLog, registry, shareKey: proxyShareKey };
const snapshots = new ProxySnapshots<ProxyDescription>((proxy) => {
  const t = hrMs();
  try {
    return generateProxyResources(models, proxy);
  } finally {
    timing.generate += hrMs() - t;
  }
}, snapshotOptions);

const rebuild = { start: Number.NaN, end: Number.NaN, count: 0 };
{
  const rebuildNow = snapshots.rebuildNow.bind(snapshots);
  snapshots.rebuildNow = () => {
    rebuild.start = hrMs();
    rebuildNow();
    rebuild.end = hrMs();
    rebuild.count++;
  };
}

// As start.ts: look a sidecar's registered dataplane up among the endpoints.
const findRegistered = (tenant: string, namespace: string) => (service: string, instance: string) =>
  endpoints.find((e) => endpointKey(e) === endpointKey({ tenant, namespace, service, instance }));

const ads = new AdsServer<ProxyDescription>({
  registry,
  log: serverLog,
  watch: (proxy, push) =>
    snapshots.watch(proxy, (snapshot: ProxySnapshot) => {
      const t = hrMs();
      push(snapshot);
      timing.push += hrMs() - t;
    }),
  // Every stream is accepted as tenant acme; the claims a dataplane token would carry come from node metadata.
  identify: async (_call, node: XdsNode, port): Promise<IdentifyOutcome<ProxyDescription>> => {
    const view = tenants[TENANT]!;
    const namespace = nodeMetadataString(node, BENCH_METADATA.namespace) ?? 'default';
    const serviceAccount = nodeMetadataString(node, BENCH_METADATA.serviceAccount) ?? 'default';
    // A workload token's claims (ingress: false spelled out, as a token that says nothing may not be read as false everywhere).
    const claims = { id: `bench-${node.id ?? ''}`, zone: ZONE, tenant: TENANT, namespace, serviceAccount, issuedAt: 0, expiresAt: Number.MAX_SAFE_INTEGER, ingress: false };
    const described = describeProxy(node, claims, view.trustDomain, zoneLocality(), findRegistered(TENANT, namespace), port);
    if ('error' in described) return { ok: false, code: grpc.status.INVALID_ARGUMENT, message: described.error };
    return { ok: true, proxy: described };
  },
});

const invalidate = () => {
  // Exactly start.ts's RunningXds.invalidate().
  models.invalidate();
  snapshots.invalidate();
};

/** Encoded size of a DiscoveryResponse's resources (the Anys), without the few bytes of framing. */
const responseBytes = (response: DiscoveryResponse) => response.resources.reduce((n: number, r: EncodedAny) => n + r.value.length + r.type_url.length + 6, 0);

function serviceOf(pkg: grpc.GrpcObject, path: string): grpc.ServiceDefinition {
  let node: unknown = pkg;
  for (const part of path.split('.')) node = (node as Record<string, unknown>)[part];
  return (node as { service: grpc.ServiceDefinition }).service;
}

async function startServer(): Promise<{ server: grpc.Server; address: string }> {
  const pkg = loadGrpcPackage([ADS_PROTO]);
  const adsService = serviceOf(pkg, 'envoy.service.discovery.v3.AggregatedDiscoveryService');
  const handlers = ads.handlers('plaintext');
  const serve = handlers.StreamAggregatedResources as (call: grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>) => void;
  const server = new grpc.Server();
  server.addService(adsService, {
    ...handlers,
    // Counting wrapper: call.write serializes the response and queues it on the HTTP/2 stream.
    StreamAggregatedResources: (call: grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>) => {
      const write = call.write.bind(call) as (response: DiscoveryResponse) => boolean;
      call.write = ((response: DiscoveryResponse) => {
        const t = hrMs();
        const result = write(response);
        timing.write += hrMs() - t;
        timing.writes++;
        timing.writeBytes += responseBytes(response);
        return result;
      }) as typeof call.write;
      serve(call);
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return { server, address: `127.0.0.1:${port}` };
}

/** Diagnostic only: sizes of what the server keeps per connected proxy (reads StreamState's private fields). */
function retainedPerProxy(): { snapshotEntries: number; sentContentChars: number } {
  let snapshotEntries = 0;
  let sentContentChars = 0;
  for (const connected of ads.connected()) {
    for (const resources of connected.snapshot()?.values() ?? []) snapshotEntries += resources.size;
    const types = (connected.state as unknown as { types?: Map<string, { sentContent?: string }> }).types;
    for (const t of types?.values() ?? []) sentContentChars += t.sentContent?.length ?? 0;
  }
  return { snapshotEntries, sentContentChars };
}

/** After a full GC, a pause (V8 frees array buffer memory on a background thread) and another GC. */
async function serverMemory(): Promise<MemoryMessage> {
  gc();
  await new Promise((r) => setTimeout(r, 1000));
  gc();
  const m = process.memoryUsage();
  return { type: 'memory', heapUsed: m.heapUsed, heapTotal: m.heapTotal, rss: m.rss, external: m.external, arrayBuffers: m.arrayBuffers, maxRss: process.resourceUsage().maxRSS * 1024 };
}

// ---------------------------------------------------------------- the client process

let child: ChildProcess | undefined;
const waiting = new Map<string, (message: FromClient) => void>();
let lastProgress: Extract<FromClient, { type: 'progress' }> | undefined;
let childFailure: string | undefined;
/** The client process is being stopped on purpose: its exit is not a failure. */
let stopping = false;

function startChild(): ChildProcess {
  const here = dirname(fileURLToPath(import.meta.url));
  const proc = fork(join(here, 'clients.ts'), [], {
    cwd: join(here, '..', '..'),
    execArgv: ['--import', 'tsx'],
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  proc.on('message', (message: FromClient) => {
    if (message.type === 'progress') lastProgress = message;
    else if (message.type === 'failed') childFailure = message.message;
    const wait = waiting.get(message.type);
    if (wait) {
      waiting.delete(message.type);
      wait(message);
    }
  });
  proc.on('exit', (code, signal) => {
    if (!stopping) childFailure ??= `client process exited (${signal ?? code})`;
    for (const wait of waiting.values()) wait({ type: 'failed', message: childFailure ?? 'client process exited' });
    waiting.clear();
  });
  return proc;
}

function toChild(message: ToClient): void {
  if (child?.connected) child.send(message);
}

/** Waits for the child's next message of `type`; rejects on timeout or if the child fails. */
function expect<T extends FromClient['type']>(type: T, timeoutMs: number, onTimeout?: () => void): Promise<Extract<FromClient, { type: T }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      if (onTimeout) return onTimeout();
      waiting.delete(type);
      reject(new Error(`no "${type}" from the client process within ${timeoutMs} ms`));
    }, timeoutMs);
    waiting.set(type, (message) => {
      clearTimeout(timer);
      if (message.type === 'failed') reject(new Error(`client process: ${message.message}`));
      else resolve(message as Extract<FromClient, { type: T }>);
    });
  });
}

// ---------------------------------------------------------------- phases

interface InitialResult {
  ready: ReadyMessage;
  allReadyMs: number;
  perProxyMs: number[];
  serverCpuMs: number;
  serverWrites: number;
  serverWriteBytes: number;
  firstModelMs: number;
  generateMs: number;
  writeMs: number;
  before: MemoryMessage;
  after: MemoryMessage;
  client: MemoryMessage;
  retained: { snapshotEntries: number; sentContentChars: number };
  peakRss: number;
}

async function initialPhase(address: string, before: MemoryMessage): Promise<Omit<InitialResult, 'after' | 'client' | 'retained' | 'peakRss'>> {
  log(`phase (a): ${PROXIES} ${KIND} streams over ${CHANNELS} channels connect at once and get their full config`);
  resetTiming();
  const cpu0 = process.cpuUsage();
  const progress = setInterval(() => {
    const p = lastProgress;
    if (p) log(`  ${p.opened} streams open, ${p.ready} with full config ACKed, ${p.failed} failed; ${p.responses} responses, ${mb(p.bytes)} MB received`);
  }, 2000);
  let ready: ReadyMessage;
  try {
    const readyPromise = expect('ready', TIMEOUT_MS * 5);
    toChild({ type: 'start', address, proxies: PROXIES, channels: CHANNELS, services: SERVICES, endpoints: ENDPOINTS, kind: KIND, mtls: flags.mtls });
    ready = await readyPromise;
  } finally {
    clearInterval(progress);
  }
  const cpu = process.cpuUsage(cpu0);
  if (ready.failed) throw new Error(`${ready.failed} stream(s) failed during the initial push: ${ready.failures.join('; ')}`);
  const perProxyMs = ready.readyAt.map((t) => t - ready.openedAt).sort((a, b) => a - b);
  log(`  all ${PROXIES} streams have their full config: ${fmt(perProxyMs.at(-1)!, 0)} ms after opening; ${ready.responses} responses, ${mb(ready.bytes)} MB`);
  const result = {
    ready,
    allReadyMs: perProxyMs.at(-1)!,
    perProxyMs,
    serverCpuMs: cpuMs(cpu),
    serverWrites: timing.writes,
    serverWriteBytes: timing.writeBytes,
    firstModelMs: timing.firstModelMs,
    generateMs: timing.generate,
    writeMs: timing.write,
    before,
  };
  return result;
}

async function weighAfterInitial(): Promise<Pick<InitialResult, 'after' | 'client' | 'retained' | 'peakRss'>> {
  // Let the last ACKs arrive before weighing memory.
  await new Promise((r) => setTimeout(r, 500));
  const peakRss = process.resourceUsage().maxRSS * 1024;
  const after = await serverMemory();
  const clientMemory = expect('memory', 30_000);
  toChild({ type: 'memory' });
  const client = await clientMemory;
  const retained = retainedPerProxy();
  log(`  server heap ${mb(after.heapUsed)} MB, RSS ${mb(after.rss)} MB, peak RSS ${mb(peakRss)} MB; client heap ${mb(client.heapUsed)} MB, RSS ${mb(client.rss)} MB`);
  return { after, client, retained, peakRss };
}

interface ChangeResult {
  change: number;
  debounceMs: number;
  endpoint: string;
  healthy: boolean;
  received: ReceivedMessage;
  complete: number;
  /** Per proxy, sorted: from the trigger (invalidate) / from the start of the rebuild. */
  fromTriggerMs: number[];
  fromRebuildMs: number[];
  debounceWaitMs: number;
  rebuildMs: number;
  modelMs: number;
  generateMs: number;
  pushMs: number;
  writeMs: number;
  encodeDiffMs: number;
  afterRebuildToAllMs: number;
  serverWrites: number;
  serverWriteBytes: number;
  serverCpuMs: number;
  heapAfter: number;
}

const changed = new Set<number>();
function pickEndpoint(change: number): number {
  // Spread over services and localities; never the same endpoint twice in a run.
  let j = (change * 7919 + 4242) % ENDPOINTS;
  while (changed.has(j) && changed.size < ENDPOINTS) j = (j + 1) % ENDPOINTS;
  changed.add(j);
  return j;
}

async function changePhase(change: number, debounceMs: number): Promise<ChangeResult> {
  snapshotOptions.debounceMs = debounceMs;
  const j = pickEndpoint(change);
  gc();
  await new Promise((r) => setTimeout(r, 50));
  const armed = expect('armed', 30_000);
  toChild({ type: 'arm', change });
  await armed;

  const received = expect('received', TIMEOUT_MS, () => toChild({ type: 'collect', change }));
  resetTiming();
  const rebuildsBefore = rebuild.count;
  const cpu0 = process.cpuUsage();
  const t0 = hrMs();
  const before = endpoints[j]!;
  const next = endpoints.slice();
  next[j] = { ...before, healthy: !before.healthy };
  endpoints = next;
  invalidate();
  const message = await received;
  const cpu = process.cpuUsage(cpu0);
  if (rebuild.count !== rebuildsBefore + 1) throw new Error(`change ${change}: expected one rebuild, saw ${rebuild.count - rebuildsBefore}`);
  const times = message.at.filter((t) => Number.isFinite(t));
  const rebuildMs = rebuild.end - rebuild.start;
  const result: ChangeResult = {
    change,
    debounceMs,
    endpoint: `${before.service}/${before.instance} (${before.locality.zone})`,
    healthy: !before.healthy,
    received: message,
    complete: times.length,
    fromTriggerMs: times.map((t) => t - t0).sort((a, b) => a - b),
    fromRebuildMs: times.map((t) => t - rebuild.start).sort((a, b) => a - b),
    debounceWaitMs: rebuild.start - t0,
    rebuildMs,
    modelMs: timing.model,
    generateMs: timing.generate - timing.model,
    pushMs: timing.push - timing.write,
    writeMs: timing.write,
    encodeDiffMs: rebuildMs - timing.generate - timing.push,
    afterRebuildToAllMs: (times.length ? Math.max(...times) : Number.NaN) - rebuild.end,
    serverWrites: timing.writes,
    serverWriteBytes: timing.writeBytes,
    serverCpuMs: cpuMs(cpu),
    heapAfter: process.memoryUsage().heapUsed,
  };
  const label = `change ${change} (debounce ${debounceMs} ms, ${result.endpoint} → ${result.healthy ? 'healthy' : 'unhealthy'})`;
  if (result.complete < PROXIES) {
    console.error(`${label}: only ${result.complete}/${PROXIES} streams got the new EDS version within ${TIMEOUT_MS} ms`);
  }
  log(
    `  ${label}: all ${result.complete} proxies in ${fmt(result.fromTriggerMs.at(-1)!, 0)} ms (rebuild ${fmt(rebuildMs, 0)} ms, then ${fmt(result.afterRebuildToAllMs, 0)} ms to the last proxy); ${message.responses} responses, ${mb(message.bytes)} MB; server CPU ${fmt(result.serverCpuMs, 0)} ms`,
  );
  // The ACKs of this change reach the server before the next one starts.
  await new Promise((r) => setTimeout(r, 300));
  return result;
}

// ---------------------------------------------------------------- profile

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
}

let session: Session | undefined;
async function startProfile(): Promise<void> {
  if (!flags.profile) return;
  if (!session) {
    session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 500 });
  }
  await session.post('Profiler.start');
}

async function stopProfile(phase: string): Promise<{ phase: string; profile: CpuProfile } | undefined> {
  if (!session || !flags.profile) return undefined;
  const { profile } = await session.post('Profiler.stop');
  const file = `${flags.profile}.${phase}.cpuprofile`;
  writeFileSync(file, JSON.stringify(profile));
  log(`CPU profile of phase ${phase} written to ${file}`);
  return { phase, profile };
}

function summarizeProfile(phase: string, profile: CpuProfile): void {
  const idle = new Set(['(idle)', '(program)']);
  const busy = profile.nodes.reduce((n, node) => n + (idle.has(node.callFrame.functionName) ? 0 : (node.hitCount ?? 0)), 0) || 1;
  const all = profile.nodes.reduce((n, node) => n + (node.hitCount ?? 0), 0) || 1;
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  const short = (url: string) => url.replace(/^file:\/\//, '').replace(`${process.cwd()}/`, '').replace(/^.*node_modules\//, 'node_modules/');
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  /** An anonymous function is named after its nearest named caller (tsx puts each file on one line, so lines say nothing). */
  const nameOf = (node: ProfileNode): string => {
    if (node.callFrame.functionName) return node.callFrame.functionName;
    for (let id = parentOf.get(node.id); id !== undefined; id = parentOf.get(id)) {
      const caller = byId.get(id)!.callFrame.functionName;
      if (caller) return `(anonymous, in ${caller})`;
    }
    return '(anonymous)';
  };
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    const { functionName, url, lineNumber } = node.callFrame;
    if (!hits || idle.has(functionName)) continue;
    // Functions without a URL: V8's own entries ("(garbage collector)") or code compiled at run time (protobufjs' generated codecs).
    const file = url ? short(url) : functionName.startsWith('(') ? functionName : '(generated code: protobufjs codecs)';
    const fn = `${nameOf(node)} — ${file}${url && lineNumber > 0 ? `:${lineNumber + 1}` : ''}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + hits);
    byFile.set(file, (byFile.get(file) ?? 0) + hits);
  }
  const top = (map: Map<string, number>, n: number) => [...map].sort((a, b) => b[1] - a[1]).slice(0, n);
  const wallMs = (profile.endTime - profile.startTime) / 1000;
  console.log(`\nCPU profile of phase ${phase} (server process): ${fmt(wallMs, 0)} ms, busy ${fmt((100 * busy) / all, 0)} % of samples; share of busy samples, self time:\n`);
  console.log('| % | function — file |\n|---:|---|');
  for (const [fn, hits] of top(byFunction, 25)) console.log(`| ${fmt((100 * hits) / busy)} | ${fn} |`);
  console.log('\n| % | file |\n|---:|---|');
  for (const [file, hits] of top(byFile, 15)) console.log(`| ${fmt((100 * hits) / busy)} | ${file} |`);
}

// ---------------------------------------------------------------- report

function report(initial: InitialResult, changes: ChangeResult[], idle: MemoryMessage | undefined): void {
  const r = initial.ready;
  const per = initial.perProxyMs;
  const row = (label: string, value: string) => console.log(`| ${label} | ${value} |`);
  console.log('');
  console.log(
    `Results: ${PROXIES} ${KIND} proxies${flags.mtls ? ' (mTLS clusters)' : ''} over ${CHANNELS} channels, ${SERVICES} services, ${ENDPOINTS} endpoints, ${LOCAL_LOCALITIES.length} local localities + 2 remote zones; nproc ${cpus().length}, ${mb(totalmem())} MB RAM, node ${process.version}`,
  );
  console.log(`1-minute load average: ${loads.map(([when, load]) => `${when} ${fmt(load, 2)}`).join(', ')}${flags.profile ? '; CPU profiler on (timings inflated)' : ''}`);
  console.log('\n(a) initial push, all streams opened at once\n');
  console.log('| metric | value |\n|---|---:|');
  row('resources per proxy (LDS / RDS / CDS / EDS)', [TYPE.listener, TYPE.route, TYPE.cluster, TYPE.endpoint].map((t) => String(r.resourceCounts[t] ?? 0)).join(' / '));
  row('largest response (LDS / RDS / CDS / EDS), KB', [TYPE.listener, TYPE.route, TYPE.cluster, TYPE.endpoint].map((t) => fmt((r.largest[t] ?? 0) / 1024, 0)).join(' / '));
  row('**all proxies with full config ACKed (ms)**', `**${fmt(initial.allReadyMs, 0)}**`);
  row('per proxy first / p50 / p99 (ms)', `${fmt(per[0]!, 0)} / ${fmt(percentile(per, 0.5), 0)} / ${fmt(percentile(per, 0.99), 0)}`);
  row('responses / MB received by the clients', `${r.responses} / ${mb(r.bytes)}`);
  row('server: Envoy proto load before the phase, not included (ms)', fmt(protoLoadMs, 0));
  row('server: first tenant model build (ms)', fmt(initial.firstModelMs, 0));
  row('server: generate() total, incl. model (ms)', fmt(initial.generateMs, 0));
  row('server: call.write total, serialize + queue (ms)', fmt(initial.writeMs, 0));
  row('server CPU (ms) / client process CPU (ms)', `${fmt(initial.serverCpuMs, 0)} / ${fmt(r.cpuMicros / 1000, 0)}`);
  console.log('\n(d) memory after the initial push (after a forced GC)\n');
  console.log('| process | heap used (MB) | RSS (MB) | external + array buffers (MB) | peak RSS (MB) |\n|---|---:|---:|---:|---:|');
  const b = initial.before;
  console.log(`| server, before any proxy (world built) | ${mb(b.heapUsed)} | ${mb(b.rss)} | ${mb(b.external)} | ${mb(b.maxRss)} |`);
  const a = initial.after;
  console.log(`| server, ${PROXIES} proxies connected | ${mb(a.heapUsed)} | ${mb(a.rss)} | ${mb(a.external)} | ${mb(initial.peakRss)} |`);
  const c = initial.client;
  console.log(`| client process (${PROXIES} streams) | ${mb(c.heapUsed)} | ${mb(c.rss)} | ${mb(c.external)} | ${mb(c.maxRss)} |`);
  if (idle) console.log(`| server, at the end, every proxy disconnected (caches warm) | ${mb(idle.heapUsed)} | ${mb(idle.rss)} | ${mb(idle.external)} | ${mb(idle.maxRss)} |`);
  console.log(
    `\nserver heap per proxy: ${fmt((a.heapUsed - b.heapUsed) / PROXIES / 1024, 0)} KB; retained per proxy: ${fmt(initial.retained.snapshotEntries / PROXIES, 0)} snapshot entries, ${fmt(initial.retained.sentContentChars / PROXIES / 1024, 0)} K chars of StreamState sentContent (${mb(initial.retained.sentContentChars)} MB in all, 1 byte/char)`,
  );
  if (!changes.length) return;

  console.log('\n(b)(c) one endpoint health flip → every proxy has the new EDS version\n');
  console.log(
    '| # | debounce (ms) | all proxies, from invalidate() (ms) | all proxies, from rebuild start (ms) | per proxy p50 / p99 from rebuild start (ms) | rebuild (ms): model / generate / encode+diff / StreamState / call.write | last write → last proxy (ms) | responses | MB sent | server CPU (ms) | client CPU (ms) |',
  );
  console.log('|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|');
  for (const x of changes) {
    console.log(
      `| ${x.change} | ${x.debounceMs} | ${fmt(x.fromTriggerMs.at(-1)!, 0)}${x.complete < PROXIES ? ` (${x.complete}/${PROXIES})` : ''} | ${fmt(x.fromRebuildMs.at(-1)!, 0)} | ${fmt(percentile(x.fromRebuildMs, 0.5), 0)} / ${fmt(percentile(x.fromRebuildMs, 0.99), 0)} | ${fmt(x.rebuildMs, 0)}: ${fmt(x.modelMs, 0)} / ${fmt(x.generateMs, 0)} / ${fmt(x.encodeDiffMs, 0)} / ${fmt(x.pushMs, 0)} / ${fmt(x.writeMs, 0)} | ${fmt(x.afterRebuildToAllMs, 0)} | ${x.received.responses} | ${mb(x.received.bytes)} | ${fmt(x.serverCpuMs, 0)} | ${fmt(x.received.cpuMicros / 1000, 0)} |`,
    );
  }
  for (const debounce of DEBOUNCES) {
    const xs = changes.filter((x) => x.debounceMs === debounce);
    if (!xs.length) continue;
    const stat = (pick: (x: ChangeResult) => number) => {
      const v = xs.map(pick).sort((p, q) => p - q);
      return `${fmt(median(v), 0)} / ${fmt(v[0]!, 0)} / ${fmt(v.at(-1)!, 0)}`;
    };
    console.log(`\nSummary over ${xs.length} changes, debounce ${debounce} ms (median / min / max)\n`);
    console.log('| metric | median / min / max |\n|---|---:|');
    row('**all proxies have the change, from invalidate() (ms)**', `**${stat((x) => x.fromTriggerMs.at(-1)!)}**`);
    row('all proxies, excluding the debounce (from rebuild start) (ms)', stat((x) => x.fromRebuildMs.at(-1)!));
    row('per proxy p50, from rebuild start (ms)', stat((x) => percentile(x.fromRebuildMs, 0.5)));
    row('per proxy p99, from rebuild start (ms)', stat((x) => percentile(x.fromRebuildMs, 0.99)));
    row('debounce wait, invalidate() → rebuild start (ms)', stat((x) => x.debounceWaitMs));
    row('rebuildNow() (ms)', stat((x) => x.rebuildMs));
    row('… tenant model rebuild (ms)', stat((x) => x.modelMs));
    row('… generate() for every proxy, excl. model (ms)', stat((x) => x.generateMs));
    row('… encode + diff (ProxySnapshots) (ms)', stat((x) => x.encodeDiffMs));
    row('… StreamState.responseFor etc. (push minus write) (ms)', stat((x) => x.pushMs));
    row('… call.write: serialize + queue (ms)', stat((x) => x.writeMs));
    row('last write → last proxy received (ms)', stat((x) => x.afterRebuildToAllMs));
    row('responses sent by the server', stat((x) => x.serverWrites));
    row('MB sent by the server (resources)', stat((x) => x.serverWriteBytes / MB));
    row('EDS response size per proxy (KB)', stat((x) => x.received.edsBytes / 1024));
    row('non-EDS responses after the change', stat((x) => x.received.otherTypeResponses));
    row('server CPU per change (ms)', stat((x) => x.serverCpuMs));
    row('client process CPU per change (ms)', stat((x) => x.received.cpuMicros / 1000));
    row('server heap used after the change, before GC (MB)', stat((x) => x.heapAfter / MB));
  }
}

// ---------------------------------------------------------------- main

/** Stops the clients and weighs the server once every stream is gone: what is shared (models, caches) vs per proxy. */
async function disconnectedMemory(): Promise<MemoryMessage | undefined> {
  if (childFailure) return undefined;
  stopping = true;
  toChild({ type: 'stop' });
  const deadline = hrMs() + 10_000;
  while (ads.connected().length && hrMs() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (ads.connected().length) {
    console.error(`${ads.connected().length} streams still connected 10 s after the clients stopped`);
    return undefined;
  }
  return serverMemory();
}

let server: grpc.Server | undefined;
let tornDown = false;
let protoLoadMs = Number.NaN;
/** 1-minute load average at points of the run: the machine is shared. */
const loads: Array<[string, number]> = [];

function teardown(): void {
  if (tornDown) return;
  tornDown = true;
  stopping = true;
  toChild({ type: 'stop' });
  snapshots.stop();
  ads.closeAll();
  server?.forceShutdown();
  setTimeout(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }, 1000).unref();
}
process.once('exit', () => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) {
      console.error(`${signal} again: exiting`);
      process.exit(130);
    }
    interrupted = true;
    console.error(`${signal}: stopping after the current phase`);
  });
}

async function main(): Promise<number> {
  const watchdog = setTimeout(() => {
    console.error(`watchdog: still running after ${MAX_SECONDS} s; exiting`);
    process.exit(3);
  }, MAX_SECONDS * 1000);
  watchdog.unref();
  try {
    log(`world: ${SERVICES} services, ${ENDPOINTS} endpoints, ${Object.keys(tenants[TENANT]!.policies).length} policies, 2 remote zones; ${PROXIES} ${KIND} proxies`);
    const listening = await startServer();
    server = listening.server;
    log(`ADS (plaintext) on ${listening.address}; starting the client process`);
    child = startChild();
    // Loaded lazily by the first encode in the product; loaded here first so phase (a) measures generation and push.
    const t = hrMs();
    envoyRoot();
    protoLoadMs = hrMs() - t;
    log(`Envoy protos for encoding loaded in ${fmt(protoLoadMs, 0)} ms (the zone CP pays this on the first proxy after a start)`);
    const before = await serverMemory();
    loads.push(['start', loadavg()[0]!]);
    const profiles: Array<{ phase: string; profile: CpuProfile }> = [];
    await startProfile();
    const pushed = await initialPhase(listening.address, before);
    const initialProfile = await stopProfile('initial');
    if (initialProfile) profiles.push(initialProfile);
    loads.push(['after (a)', loadavg()[0]!]);
    const initial: InitialResult = { ...pushed, ...(await weighAfterInitial()) };
    const results: ChangeResult[] = [];
    let n = 0;
    for (const debounce of DEBOUNCES) {
      if (!CHANGES) break;
      log(`phase (b): ${CHANGES} endpoint changes, debounce ${debounce} ms`);
      await startProfile();
      for (let i = 0; i < CHANGES && !interrupted && !childFailure; i++) results.push(await changePhase(++n, debounce));
      const changeProfile = await stopProfile(`changes-debounce-${debounce}`);
      if (changeProfile) profiles.push(changeProfile);
      loads.push([`after (b) debounce ${debounce}`, loadavg()[0]!]);
    }
    session?.disconnect();
    const idle = await disconnectedMemory();
    report(initial, results, idle);
    for (const p of profiles) summarizeProfile(p.phase, p.profile);
    if (childFailure) throw new Error(childFailure);
    const incomplete = results.filter((x) => x.complete < PROXIES).length;
    if (incomplete) {
      console.error(`FAIL: ${incomplete} change(s) did not reach every proxy within ${TIMEOUT_MS} ms`);
      return 1;
    }
    return interrupted ? 130 : 0;
  } catch (error) {
    console.error(`bench failed: ${(error as Error).stack ?? String(error)}`);
    return 1;
  } finally {
    teardown();
    clearTimeout(watchdog);
  }
}

process.exitCode = await main();
