/**
 * Policy propagation benchmark: global CP API → Redis → NATS JetStream KV → N zone CPs.
 *
 *   npx tsx bench/propagation/run.ts [--zones 10] [--writes 1000] [--services 100]
 *                                    [--concurrency 1[,8]] [--timeout-ms 10000] [--max-seconds 150]
 *
 * Starts its own redis-server and nats-server (loopback, temp dir), a global CP
 * with federation, and N real zone CPs in this process, each with its own NATS
 * connection and state dir. Then it writes policies through the REST API and,
 * for every write, measures when ALL zones have applied it.
 *
 * How "applied" is observed without touching product code: each zone CP's
 * `tenants()` returns the live record the zone's sync writes to
 * (`tenants[name] = applyTenantEntry(...)`). After the initial sync the bench
 * turns the tenant's property of that record into an accessor property, so the
 * moment a zone assigns a new view the bench sees it (same tick, hrtime) —
 * no polling delay. Reads of the property return exactly what was assigned.
 *
 * Everything runs in one Node process (global CP, 10 zone CPs, the load
 * generator): the CPU figure is the whole process, per write.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connect, type NatsConnection } from 'nats';
import { natsNames } from '../../core/federation/names.js';
import { startLocalNats, startLocalRedis, type LocalService } from '../../deploy/local/services.js';
import { startGlobalCp, type RunningGlobalCp } from '../../global-cp/main.js';
import { startZoneCp, type RunningZoneCp } from '../../zone-cp/main.js';
import type { TenantView } from '../../zone-cp/sync/tenant-view.js';

// ---------------------------------------------------------------- options

const { values: flags } = parseArgs({
  options: {
    zones: { type: 'string', default: '10' },
    writes: { type: 'string', default: '1000' },
    services: { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '1' },
    'timeout-ms': { type: 'string', default: '10000' },
    'max-seconds': { type: 'string', default: '150' },
    help: { type: 'boolean', default: false },
  },
  strict: true,
});
if (flags.help) {
  console.log('usage: npx tsx bench/propagation/run.ts [--zones 10] [--writes 1000] [--services 100] [--concurrency 1[,8]] [--timeout-ms 10000] [--max-seconds 150]');
  process.exit(0);
}
function positiveInt(name: string, text: string): number {
  const n = Number(text);
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(n) || n < 1) {
    console.error(`--${name}: "${text}" must be a whole number of at least 1`);
    process.exit(2);
  }
  return n;
}
const ZONES = positiveInt('zones', flags.zones);
const WRITES = positiveInt('writes', flags.writes);
const SERVICES = positiveInt('services', flags.services);
const CONCURRENCY = flags.concurrency.split(',').map((c) => positiveInt('concurrency', c.trim()));
const TIMEOUT_MS = positiveInt('timeout-ms', flags['timeout-ms']);
const MAX_SECONDS = positiveInt('max-seconds', flags['max-seconds']);
if (SERVICES > 1000) {
  console.error('--services: at most 1000 (the tenant policy quota)');
  process.exit(2);
}

const TENANT = 'bench';
const FEDERATION_ID = `bench${randomBytes(3).toString('hex')}`;
const ADMIN_TOKEN = randomBytes(24).toString('hex');
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;
const log = (message: string) => console.log(`[${elapsed().padStart(6)}] ${message}`);

// ---------------------------------------------------------------- state

interface Resources {
  root?: string;
  redis?: LocalService;
  nats?: LocalService;
  observer?: NatsConnection;
  global?: RunningGlobalCp;
  zones: RunningZoneCp[];
}
const resources: Resources = { zones: [] };

/** Per zone, per policy id ("Kind/name"): the resourceVersions it applied, with when. Versions of one policy only grow. */
const seen: Array<Map<string, Array<{ rv: number; at: bigint }>>> = [];

interface Waiter {
  rv: number;
  zonesLeft: Set<number>;
  appliedAt: Array<bigint | undefined>;
  resolve: () => void;
}
const waiters = new Map<string, Set<Waiter>>();

/** Per policy id: the resourceVersions a plain NATS subscriber saw published to the tenant bucket, with when. */
const published = new Map<string, Array<{ rv: number; at: bigint }>>();

/** Watches the bucket's subjects with core NATS: when the publisher's put reached the NATS server, before any zone. */
async function watchPublished(nc: NatsConnection): Promise<void> {
  const prefix = `$KV.${natsNames(FEDERATION_ID).tenantBucket(TENANT)}.policy.`;
  for await (const message of nc.subscribe(`${prefix}>`)) {
    const at = process.hrtime.bigint();
    const [kind, name] = message.subject.slice(prefix.length).split('.');
    try {
      const rv = Number(message.json<{ metadata: { resourceVersion: string } }>().metadata.resourceVersion);
      const id = `${kind}/${name}`;
      let list = published.get(id);
      if (!list) published.set(id, (list = []));
      list.push({ rv, at });
    } catch {
      // a delete marker (no body)
    }
  }
}

const policyKind = (service: number) => (service % 2 === 0 ? 'Timeout' : 'Retry');
const serviceName = (service: number) => `svc-${String(service).padStart(4, '0')}`;
const policyId = (service: number) => `${policyKind(service)}/${serviceName(service)}`;

function policyBody(service: number, version: number): unknown {
  const targetRef = { kind: 'Service', name: serviceName(service), namespace: 'default' };
  // Every write changes the spec (an unchanged PUT is a no-op that publishes nothing).
  return policyKind(service) === 'Timeout'
    ? { spec: { targetRef, request: `${version + 1}ms` } }
    : { spec: { targetRef, attempts: (version % 10) + 1, perTryTimeout: `${version + 1}ms`, retryOn: ['5xx'] } };
}

/** Called synchronously whenever zone `z` assigns a new view of the tenant. */
function onZoneView(z: number, previous: TenantView | undefined, next: TenantView): void {
  if (previous && previous.policies === next.policies) return;
  const now = process.hrtime.bigint();
  for (const [id, doc] of Object.entries(next.policies)) {
    if (previous?.policies[id] === doc) continue;
    const rv = Number(doc.metadata.resourceVersion);
    let list = seen[z]!.get(id);
    if (!list) seen[z]!.set(id, (list = []));
    list.push({ rv, at: now });
    for (const waiter of waiters.get(id) ?? []) {
      if (rv >= waiter.rv && waiter.zonesLeft.delete(z)) {
        waiter.appliedAt[z] = now;
        if (waiter.zonesLeft.size === 0) waiter.resolve();
      }
    }
  }
}

/** Turns the zone's tenant entry into an accessor so every assignment is seen as it happens. */
function hookZone(z: number, zone: RunningZoneCp): void {
  const record = zone.tenants();
  let current = record[TENANT];
  if (!current) throw new Error(`zone ${z}: tenant not synced yet`);
  seen[z] = new Map();
  onZoneView(z, undefined, current);
  Object.defineProperty(record, TENANT, {
    configurable: true,
    enumerable: true,
    get: () => current,
    set: (view: TenantView) => {
      const previous = current;
      current = view;
      onZoneView(z, previous, view);
    },
  });
}

/** Resolves with per-zone apply times once every zone holds `id` at `rv` or later; earlier applies (before the response was read) count. */
function waitApplied(id: string, rv: number): { done: Promise<void>; waiter: Waiter } {
  let resolve!: () => void;
  const done = new Promise<void>((r) => (resolve = r));
  const waiter: Waiter = { rv, zonesLeft: new Set(), appliedAt: new Array<bigint | undefined>(ZONES), resolve };
  for (let z = 0; z < ZONES; z++) {
    const hit = seen[z]!.get(id)?.find((e) => e.rv >= rv);
    if (hit) waiter.appliedAt[z] = hit.at;
    else waiter.zonesLeft.add(z);
  }
  if (waiter.zonesLeft.size === 0) resolve();
  else {
    let set = waiters.get(id);
    if (!set) waiters.set(id, (set = new Set()));
    set.add(waiter);
  }
  return { done, waiter };
}

// ---------------------------------------------------------------- helpers

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${resources.global!.url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as unknown) : undefined };
}

function expectOk(what: string, result: { status: number; body: unknown }): void {
  if (result.status < 200 || result.status >= 300) throw new Error(`${what}: HTTP ${result.status} ${JSON.stringify(result.body)}`);
}

const resourceVersionOf = (body: unknown) => Number((body as { metadata: { resourceVersion: string } }).metadata.resourceVersion);

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of a child process in µs (Linux /proc), or NaN. */
function childCpuMicros(service: LocalService | undefined): number {
  try {
    const stat = readFileSync(`/proc/${service!.process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) / CLK_TCK) * 1e6;
  } catch {
    return Number.NaN;
  }
}

function percentile(sorted: number[], q: number): number {
  if (!sorted.length) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
const ms = (ns: bigint | number) => Number(ns) / 1e6;
const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '-');

// ---------------------------------------------------------------- phases

interface WriteSample {
  index: number;
  /** request start, ms after the phase started */
  atMs: number;
  requestMs: number; // request start → response read
  responseToAllMs: number; // response read → last zone applied (negative: applied before the response was read)
  startToAllMs: number; // request start → last zone applied
  responseToFirstMs: number;
  /** response read → the policy seen on NATS by a plain subscriber of the bucket's subjects (NaN if not seen). */
  responseToNatsMs: number;
  /** that sighting → last zone applied. */
  natsToAllMs: number;
}

interface PhaseResult {
  concurrency: number;
  writes: number;
  missing: number;
  samples: WriteSample[];
  wallMs: number; // first request start → last write applied everywhere
  apiMs: number; // first request start → last response
  cpuMicros: number;
  redisCpuMicros: number;
  natsCpuMicros: number;
}

let version = 1;

async function runPhase(concurrency: number, deadline: number): Promise<PhaseResult> {
  log(`phase: ${WRITES} policy writes over ${SERVICES} services, ${concurrency} writer(s), ${ZONES} zones`);
  const samples: WriteSample[] = [];
  const inFlight: Array<Promise<void>> = [];
  let missing = 0;
  let issued = 0;
  let lastApplied = 0n;
  let lastResponse = 0n;
  let lastProgress = Date.now();
  const cpu0 = process.cpuUsage();
  const [redis0, nats0] = [childCpuMicros(resources.redis), childCpuMicros(resources.nats)];
  const t0 = process.hrtime.bigint();

  const progress = (what: string) => {
    const recent = samples.slice(-200).map((s) => s.responseToAllMs).sort((a, b) => a - b);
    log(`  ${what}: ${issued}/${WRITES} written, ${samples.length} applied at all zones, ${missing} missing; last 200: p50 ${fmt(percentile(recent, 0.5))} ms, p99 ${fmt(percentile(recent, 0.99))} ms`);
  };

  const writer = async () => {
    while (issued < WRITES && Date.now() < deadline && !interrupted) {
      const n = issued++;
      const service = n % SERVICES;
      const id = policyId(service);
      const start = process.hrtime.bigint();
      const result = await api('PUT', `/tenants/${TENANT}/policies/${policyKind(service)}/${serviceName(service)}`, policyBody(service, version++));
      const end = process.hrtime.bigint();
      if (end > lastResponse) lastResponse = end;
      expectOk(`write ${n}`, result);
      const rv = resourceVersionOf(result.body);
      const { done, waiter } = waitApplied(id, rv);
      inFlight.push(
        (async () => {
          let timer: NodeJS.Timeout | undefined;
          const timedOut = await Promise.race([
            done.then(() => false),
            new Promise<boolean>((r) => (timer = setTimeout(() => r(true), TIMEOUT_MS))),
          ]);
          clearTimeout(timer);
          waiters.get(id)?.delete(waiter);
          if (timedOut) {
            missing++;
            console.error(`write ${n} (${id} rv ${rv}) not applied within ${TIMEOUT_MS} ms at zones ${[...waiter.zonesLeft].join(', ')}`);
            return;
          }
          const times = waiter.appliedAt as bigint[];
          const last = times.reduce((a, b) => (b > a ? b : a));
          const first = times.reduce((a, b) => (b < a ? b : a));
          if (last > lastApplied) lastApplied = last;
          // The subscriber is another connection: give its copy a moment to be read before looking it up.
          await new Promise((r) => setTimeout(r, 20));
          const onNats = published.get(id)?.find((e) => e.rv >= rv)?.at;
          samples.push({
            index: n,
            atMs: ms(start - t0),
            requestMs: ms(end - start),
            responseToAllMs: ms(last - end),
            startToAllMs: ms(last - start),
            responseToFirstMs: ms(first - end),
            responseToNatsMs: onNats === undefined ? Number.NaN : ms(onNats - end),
            natsToAllMs: onNats === undefined ? Number.NaN : ms(last - onNats),
          });
        })(),
      );
      if (Date.now() - lastProgress >= 2000) {
        lastProgress = Date.now();
        progress('progress');
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, writer));
  progress('all written');
  await Promise.all(inFlight);
  const cpu = process.cpuUsage(cpu0);
  const [redis1, nats1] = [childCpuMicros(resources.redis), childCpuMicros(resources.nats)];
  if (issued < WRITES) {
    console.error(`phase stopped (${interrupted ? 'interrupted' : '--max-seconds'}) after ${issued} of ${WRITES} writes`);
    missing += WRITES - issued;
  }
  const done = samples.length;
  log(`  done: ${done} writes applied at all ${ZONES} zones, ${missing} missing`);
  return {
    concurrency,
    writes: done,
    missing,
    samples,
    wallMs: ms((lastApplied > lastResponse ? lastApplied : lastResponse) - t0),
    apiMs: ms(lastResponse - t0),
    cpuMicros: cpu.user + cpu.system,
    redisCpuMicros: redis1 - redis0,
    natsCpuMicros: nats1 - nats0,
  };
}

function report(results: PhaseResult[]): void {
  const rows: Array<[string, ...string[]]> = [
    ['writers (closed loop)', ...results.map((r) => String(r.concurrency))],
    ['writes applied at all zones', ...results.map((r) => `${r.writes}/${r.writes + r.missing}`)],
  ];
  const stat = (label: string, pick: (s: WriteSample) => number, q: number | 'max', clamp = false) =>
    rows.push([
      label,
      ...results.map((r) => {
        const values = r.samples.map(pick).filter((v) => !Number.isNaN(v)).map((v) => (clamp ? Math.max(0, v) : v)).sort((a, b) => a - b);
        return fmt(q === 'max' ? (values.at(-1) ?? Number.NaN) : percentile(values, q), 2);
      }),
    ]);
  stat('response → all zones p50 (ms)', (s) => s.responseToAllMs, 0.5, true);
  stat('response → all zones p90 (ms)', (s) => s.responseToAllMs, 0.9, true);
  stat('response → all zones p99 (ms)', (s) => s.responseToAllMs, 0.99, true);
  stat('response → all zones max (ms)', (s) => s.responseToAllMs, 'max', true);
  stat('request start → all zones p50 (ms)', (s) => s.startToAllMs, 0.5);
  stat('request start → all zones p99 (ms)', (s) => s.startToAllMs, 0.99);
  stat('request start → all zones max (ms)', (s) => s.startToAllMs, 'max');
  stat('response → first zone p50 (ms)', (s) => s.responseToFirstMs, 0.5, true);
  stat('response → on NATS p50 (ms)', (s) => s.responseToNatsMs, 0.5, true);
  stat('response → on NATS p99 (ms)', (s) => s.responseToNatsMs, 0.99, true);
  stat('on NATS → all zones p50 (ms)', (s) => s.natsToAllMs, 0.5, true);
  stat('on NATS → all zones p99 (ms)', (s) => s.natsToAllMs, 0.99, true);
  stat('API request p50 (ms)', (s) => s.requestMs, 0.5);
  stat('API request p99 (ms)', (s) => s.requestMs, 0.99);
  rows.push(['applied everywhere before response read', ...results.map((r) => String(r.samples.filter((s) => s.responseToAllMs <= 0).length))]);
  rows.push(['writes/s accepted by the API', ...results.map((r) => fmt((r.writes + r.missing) / (r.apiMs / 1000)))]);
  rows.push(['writes/s sustained (applied at all zones)', ...results.map((r) => fmt(r.writes / (r.wallMs / 1000)))]);
  rows.push(['whole-process CPU µs/write (global CP + zones + bench)', ...results.map((r) => fmt(r.cpuMicros / (r.writes + r.missing), 0))]);
  rows.push(['redis-server CPU µs/write', ...results.map((r) => fmt(r.redisCpuMicros / (r.writes + r.missing), 0))]);
  rows.push(['nats-server CPU µs/write', ...results.map((r) => fmt(r.natsCpuMicros / (r.writes + r.missing), 0))]);
  const width = Math.max(...rows.map((r) => r[0].length));
  const colWidth = 12;
  console.log('');
  console.log(`Results: ${ZONES} zones, ${WRITES} writes, ${SERVICES} services, nproc ${cpus().length}, node ${process.version}`);
  console.log(`| ${'metric'.padEnd(width)} | ${results.map(() => 'value'.padStart(colWidth)).join(' | ')} |`);
  console.log(`|${'-'.repeat(width + 2)}|${results.map(() => '-'.repeat(colWidth + 2)).join('|')}|`);
  for (const [label, ...cells] of rows) console.log(`| ${label.padEnd(width)} | ${cells.map((c) => c.padStart(colWidth)).join(' | ')} |`);
  for (const r of results) {
    const worst = [...r.samples].sort((a, b) => b.responseToAllMs - a.responseToAllMs).slice(0, 5);
    console.log(
      `slowest with ${r.concurrency} writer(s): ${worst.map((w) => `#${w.index} at +${(w.atMs / 1000).toFixed(2)}s ${fmt(w.responseToAllMs)} ms (on NATS after ${fmt(w.responseToNatsMs)} ms)`).join('; ')}`,
    );
  }
  console.log('');
  console.log('"response" = the global CP\'s 2xx response fully read by the client. Negative response → all zones times (the zones applied');
  console.log('the write before the client got to read its response: same event loop) are counted as 0 in the percentiles.');
}

// ---------------------------------------------------------------- setup / teardown

async function setup(): Promise<void> {
  resources.root = await mkdtemp(join(tmpdir(), 'meshfed-bench-'));
  log(`temp dir ${resources.root}; starting redis-server and nats-server on loopback`);
  const [redis, nats] = await Promise.allSettled([startLocalRedis(join(resources.root, 'redis')), startLocalNats(join(resources.root, 'nats'))]);
  if (redis.status === 'fulfilled') resources.redis = redis.value;
  if (nats.status === 'fulfilled') resources.nats = nats.value;
  if (redis.status === 'rejected') throw redis.reason;
  if (nats.status === 'rejected') throw nats.reason;
  log(`redis ${resources.redis!.url} (pid ${resources.redis!.process.pid}), nats ${resources.nats!.url} (pid ${resources.nats!.process.pid})`);

  resources.global = await startGlobalCp({
    listen: { host: '127.0.0.1', port: 0 },
    redisUrl: resources.redis!.url,
    redisPrefix: `${FEDERATION_ID}:`,
    adminToken: ADMIN_TOKEN,
    masterKey: randomBytes(32),
    logLevel: 'silent',
    version: 'bench',
    nats: { url: resources.nats!.url, federationId: FEDERATION_ID, reconcileIntervalMs: 600_000 },
    offlineAfterMissed: 3,
  });
  await resources.global.federation!.ready;
  checkInterrupted();
  log(`global CP ${resources.global.url} (federation id ${FEDERATION_ID})`);
  resources.observer = await connect({ servers: resources.nats!.url, name: 'meshfed-bench-observer' });
  void watchPublished(resources.observer);

  const zoneNames = Array.from({ length: ZONES }, (_, i) => `zone-${String(i).padStart(3, '0')}`);
  const tokens: string[] = [];
  for (const [i, name] of zoneNames.entries()) {
    const created = await api('POST', '/zones', { name, region: `region-${i % 3}`, location: `dc:${name}`, kind: 'universal' });
    expectOk(`zone ${name}`, created);
    checkInterrupted();
    tokens.push((created.body as { token: string }).token);
  }
  expectOk('tenant', await api('POST', '/tenants', { name: TENANT, zones: zoneNames }));
  log(`registered ${ZONES} zones and tenant "${TENANT}" placed in all of them`);

  // Create every policy once before measuring, so measured writes are all updates.
  const created: Array<[string, number]> = [];
  for (let s = 0; s < SERVICES; s++) {
    const result = await api('PUT', `/tenants/${TENANT}/policies/${policyKind(s)}/${serviceName(s)}`, policyBody(s, version++));
    expectOk(`policy ${s}`, result);
    checkInterrupted();
    created.push([policyId(s), resourceVersionOf(result.body)]);
  }
  log(`created ${SERVICES} policies; starting ${ZONES} zone CPs`);

  for (const [i, name] of zoneNames.entries()) {
    const zone = await startZoneCp({
      zone: name,
      globalUrl: resources.global.url,
      token: tokens[i]!,
      natsUrl: resources.nats!.url,
      stateDir: join(resources.root, 'zones', name),
      listen: { host: '127.0.0.1', port: 0 },
      federationId: FEDERATION_ID,
      heartbeatIntervalMs: 1000,
      reauthIntervalMs: 600_000,
      version: 'bench',
      logLevel: 'silent',
    });
    resources.zones.push(zone);
    checkInterrupted();
  }
  // Initial sync: every zone holds the tenant with every policy at the version just written.
  const syncDeadline = Date.now() + 30_000;
  for (const [i, zone] of resources.zones.entries()) {
    for (;;) {
      const view = zone.tenants()[TENANT];
      if (view && created.every(([id, rv]) => Number(view.policies[id]?.metadata.resourceVersion ?? 0) >= rv)) break;
      if (Date.now() > syncDeadline) throw new Error(`zone ${zoneNames[i]} did not sync within 30 s`);
      checkInterrupted();
      await new Promise((r) => setTimeout(r, 20));
    }
    hookZone(i, zone);
  }
  log(`all ${ZONES} zones synced (${SERVICES} policies each); hooked their tenant views`);
}

let tornDown = false;
async function teardown(): Promise<void> {
  if (tornDown) return;
  tornDown = true;
  log('stopping zone CPs, global CP, nats-server, redis-server');
  const step = async (what: string, action: () => Promise<unknown>) => {
    const t = Date.now();
    await action().catch((e: Error) => console.error(`${what}: ${e.message}`));
    if (Date.now() - t > 2000) log(`  ${what} took ${((Date.now() - t) / 1000).toFixed(1)} s`);
  };
  await step('stopping the zone CPs', () => Promise.allSettled(resources.zones.map((z) => z.stop())));
  await step('stopping the global CP', async () => resources.global?.stop());
  await step('closing the NATS observer', async () => resources.observer?.close());
  await step('stopping nats-server and redis-server', () => Promise.allSettled([resources.nats?.stop(), resources.redis?.stop()]));
  const alive = [resources.redis, resources.nats].filter((s) => s && s.process.exitCode === null && s.process.signalCode === null);
  for (const s of alive) console.error(`${s!.name} (pid ${s!.process.pid}) still running`);
  if (resources.root) await rm(resources.root, { recursive: true, force: true });
  log(alive.length ? 'teardown incomplete' : `stopped; pids ${[resources.redis, resources.nats].filter(Boolean).map((s) => s!.process.pid).join(', ')} gone; temp dir removed`);
}

/** Last resort: whatever happens, the servers this bench started do not outlive it. */
function killChildren(): void {
  for (const s of [resources.redis, resources.nats]) if (s && s.process.exitCode === null) s.process.kill('SIGKILL');
}
process.once('exit', killChildren);
// A signal stops the writers; main() then reports what it has and tears down in order (a request still
// in flight when the global CP closes would hold its close for the keep-alive timeout). A second one kills.
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) {
      console.error(`${signal} again: killing the servers and exiting`);
      killChildren();
      process.exit(130);
    }
    interrupted = true;
    console.error(`${signal}: stopping after the requests in flight`);
  });
}
function checkInterrupted(): void {
  if (interrupted) throw new Error('interrupted');
}

async function main(): Promise<number> {
  const deadline = started + MAX_SECONDS * 1000;
  // Hard stop: a hung step must not keep the bench (or its servers) alive.
  const watchdog = setTimeout(() => {
    console.error(`watchdog: still running ${MAX_SECONDS + 30} s after start; killing the servers and exiting`);
    killChildren();
    process.exit(3);
  }, (MAX_SECONDS + 30) * 1000);
  watchdog.unref();
  let code = 0;
  try {
    await setup();
    const results: PhaseResult[] = [];
    for (const c of CONCURRENCY) if (!interrupted) results.push(await runPhase(c, deadline));
    report(results);
    const missing = results.reduce((n, r) => n + r.missing, 0);
    if (missing) {
      console.error(`FAIL: ${missing} write(s) never arrived at every zone`);
      code = 1;
    }
  } catch (error) {
    if (!interrupted) console.error(`bench failed: ${(error as Error).stack ?? String(error)}`);
    code = 1;
  } finally {
    await teardown();
    clearTimeout(watchdog);
  }
  return code;
}

const exitCode = await main();
process.exitCode = interrupted ? 130 : exitCode;
