/**
 * SVID issuance benchmark: proxies asking the zone CP for their certificate.
 *
 *   npx tsx bench/pki/run.ts [--count 2000] [--warmup 200] [--concurrency 1,8,32] [--channels 4]
 *                            [--rounds 3] [--identities 16] [--baseline 1000] [--max-seconds 900]
 *
 * Starts its own redis-server and nats-server (loopback, temp dir), a global CP
 * in this process, and ONE zone CP as its own process (`node --import tsx
 * cli/meshfed.ts zone-cp`), so the zone CP's CPU time and memory can be read
 * from /proc/<pid> apart from the load generator. The tenant `bench` is placed
 * in the zone; the bench waits for the zone's intermediate CA, takes dataplane
 * tokens from the zone API for `--identities` service accounts, pre-generates
 * the CSRs (key generation is the proxy's cost, not the zone CP's), opens up to
 * `--channels` gRPC TLS channels (each its own connection) and then, per round
 * and per concurrency level, issues `--count` SVIDs through
 * meshfed.ca.v1.CertificateService/SignCertificate with that many calls in
 * flight (closed loop), after `--warmup` unmeasured ones.
 *
 * Every returned chain is checked after the timed part: the leaf parses, names
 * exactly the requested SPIFFE ID (SAN and `spiffe_id`), carries the CSR's
 * public key, is signed by the chain's second certificate, which is the zone's
 * intermediate for the tenant (from the zone's /api/v1/state).
 *
 * Baseline, in this process, sequential, on the same zone intermediate (copied
 * from the zone's state dir) and the same CSRs: `signSvid` alone (the ECDSA
 * P-256 signature and certificate encoding), `readCsr` + `signSvid` (adds the
 * CSR's signature check), and the zone's own `SvidIssuer.issue` (adds what the
 * zone does around them). The gap between that and the zone CP's CPU per SVID
 * is gRPC, TLS, HTTP/2, protobuf and the token check.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes, webcrypto } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import { Command, InvalidArgumentError } from 'commander';
import { Registry } from 'prom-client';
import { createLogger } from '../../core/log.js';
import { CERTIFICATE_PROTO, loadGrpcPackage, type SignCertificateResponse } from '../../core/proto/load.js';
import { createCsr, readCsr, signSvid, type SigningIdentity } from '../../core/pki/authority.js';
import { SIGNING_ALGORITHM, generateKeyPair, x509 } from '../../core/pki/crypto.js';
import { freePort } from '../../deploy/local/free-port.js';
import { startLocalNats, startLocalRedis, type LocalService } from '../../deploy/local/services.js';
import { startGlobalCp, type RunningGlobalCp } from '../../global-cp/main.js';
import { IntermediateKeeper } from '../../zone-cp/certs/intermediates.js';
import { SvidIssuer } from '../../zone-cp/certs/svid-issuer.js';
import type { DataplaneClaims } from '../../zone-cp/dataplanes/tokens.js';
import { mainThreadProfile, summarizeProfile } from './profile.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

// ---------------------------------------------------------------- options

function wholeNumber(min: number) {
  return (text: string): number => {
    const n = Number(text);
    if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`must be a whole number of at least ${min}`);
    return n;
  };
}
function levelList(text: string): number[] {
  const levels = text.split(',').map((c) => c.trim());
  return levels.map((c) => wholeNumber(1)(c));
}

const program = new Command('bench/pki/run.ts')
  .description('SVIDs per second and latency of the zone CP certificate service (sign + return), with an in-process signing baseline.')
  .option('--count <n>', 'SVIDs issued per concurrency level per round (measured)', wholeNumber(1), 2000)
  .option('--warmup <n>', 'unmeasured SVIDs before each level', wholeNumber(0), 200)
  .option('--concurrency <list>', 'calls in flight, comma-separated levels (closed loop)', levelList, [1, 8, 32])
  .option('--channels <n>', 'gRPC channels (each its own TLS connection); a level uses min(level, channels)', wholeNumber(1), 4)
  .option('--rounds <n>', 'how many times to run every level (and the baseline), interleaved', wholeNumber(1), 3)
  .option('--identities <n>', 'service accounts, each with its own dataplane token, the CSRs cycle through', wholeNumber(1), 16)
  .option('--validity-seconds <n>', 'requested SVID lifetime (the zone clamps it to [5m, --svid-ttl 24h])', wholeNumber(0), 3600)
  .option('--baseline <n>', 'in-process signatures per baseline kind per round (0: no baseline)', wholeNumber(0), 1000)
  .option('--call-timeout-ms <n>', 'deadline of one SignCertificate call', wholeNumber(1), 10_000)
  .option('--zone-cpu-prof <dir>', 'run the zone CP with --cpu-prof into <dir> and print where its main thread spent the measured windows (adds profiling overhead: use for a separate run)')
  .option('--max-seconds <n>', 'stop the measurement after this long (the run then fails)', wholeNumber(1), 900)
  .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2))
  .parse();

interface Flags {
  count: number;
  warmup: number;
  concurrency: number[];
  channels: number;
  rounds: number;
  identities: number;
  validitySeconds: number;
  baseline: number;
  callTimeoutMs: number;
  maxSeconds: number;
  zoneCpuProf?: string;
}
const flags = program.opts<Flags>();

const TENANT = 'bench';
const ZONE = 'bench-zone';
const NAMESPACE = 'bench';
const TRUST_DOMAIN = `${TENANT}.mesh`;
const FEDERATION_ID = `benchpki${randomBytes(3).toString('hex')}`;
const ADMIN_TOKEN = randomBytes(24).toString('hex');
const started = Date.now();
const log = (message: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s] ${message}`);
const serviceAccount = (i: number) => `sa-${String(i).padStart(3, '0')}`;
const spiffeIdOf = (i: number) => `spiffe://${TRUST_DOMAIN}/ns/${NAMESPACE}/sa/${serviceAccount(i)}`;

// ---------------------------------------------------------------- resources

interface ZoneProcess {
  child: ChildProcess;
  pid: number;
  url: string;
  grpcAddress: string;
  caFile: string;
  stateDir: string;
  output: () => string;
}

interface Resources {
  root?: string;
  redis?: LocalService;
  nats?: LocalService;
  global?: RunningGlobalCp;
  zone?: ZoneProcess;
  clients: CertificateClient[];
}
const resources: Resources = { clients: [] };

// ---------------------------------------------------------------- /proc readings

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of a process (all its threads) in µs, or NaN. */
function processCpuMicros(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) / CLK_TCK) * 1e6;
  } catch {
    return Number.NaN;
  }
}

/** VmRSS and VmHWM (peak) of a process in MiB, or NaN. */
function processMemory(pid: number | undefined): { rssMiB: number; peakMiB: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
    return { rssMiB: kib('VmRSS') / 1024, peakMiB: kib('VmHWM') / 1024 };
  } catch {
    return { rssMiB: Number.NaN, peakMiB: Number.NaN };
  }
}

const ownCpuMicros = (since: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(since);
  return used.user + used.system;
};

// ---------------------------------------------------------------- stats

function percentile(sorted: number[], q: number): number {
  if (!sorted.length) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
function median(values: number[]): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (!sorted.length) return Number.NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '-');
const nsToMs = (ns: bigint) => Number(ns) / 1e6;

// ---------------------------------------------------------------- gRPC client

type SignReply = SignCertificateResponse;
type CertificateClient = grpc.Client & {
  SignCertificate(
    request: { csr: string; validity_seconds: number },
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: (error: grpc.ServiceError | null, reply?: SignReply) => void,
  ): grpc.ClientUnaryCall;
};
type CertificateClientConstructor = new (address: string, credentials: grpc.ChannelCredentials, options: grpc.ChannelOptions) => CertificateClient;

/**
 * A client with a channel of its own: grpc-js otherwise shares one connection
 * among clients of the same target and credentials. No proxy on loopback.
 */
function certificateClient(address: string, caPem: Buffer): CertificateClient {
  const pkg = loadGrpcPackage([CERTIFICATE_PROTO]) as unknown as { meshfed: { ca: { v1: { CertificateService: CertificateClientConstructor } } } };
  return new pkg.meshfed.ca.v1.CertificateService(address, grpc.credentials.createSsl(caPem), {
    'grpc.use_local_subchannel_pool': 1,
    'grpc.enable_http_proxy': 0,
    // The serving certificate also names localhost; an IP as TLS server name draws a deprecation warning.
    'grpc.ssl_target_name_override': 'localhost',
  });
}

function signCertificate(client: CertificateClient, metadata: grpc.Metadata, csr: string): Promise<SignReply> {
  return new Promise((resolve, reject) =>
    client.SignCertificate({ csr, validity_seconds: flags.validitySeconds }, metadata, { deadline: Date.now() + flags.callTimeoutMs }, (error, reply) =>
      error ? reject(error) : resolve(reply!),
    ),
  );
}

function waitForReady(client: CertificateClient): Promise<void> {
  return new Promise((resolve, reject) => client.waitForReady(Date.now() + 10_000, (error) => (error ? reject(error) : resolve())));
}

// ---------------------------------------------------------------- setup

async function api(base: string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as unknown) : undefined };
}
function expectOk(what: string, result: { status: number; body: unknown }): void {
  if (result.status < 200 || result.status >= 300) throw new Error(`${what}: HTTP ${result.status} ${JSON.stringify(result.body)}`);
}

/** `meshfed zone-cp` as its own process (node + tsx loader, no wrapper: the pid is the zone CP's). */
async function startZoneProcess(root: string, zoneToken: string): Promise<ZoneProcess> {
  const stateDir = join(root, 'zone-state');
  const tokenFile = join(root, 'zone-token');
  await writeFile(tokenFile, `${zoneToken}\n`, { mode: 0o600 });
  let lastError: Error | undefined;
  // A free port can be taken between asking and binding: try a few times.
  for (let attempt = 0; attempt < 3; attempt++) {
    const [httpPort, grpcPort] = [await freePort(), await freePort()];
    const child = spawn(
      process.execPath,
      [
        ...(flags.zoneCpuProf ? ['--cpu-prof', '--cpu-prof-dir', resolve(flags.zoneCpuProf)] : []),
        '--import', 'tsx', 'cli/meshfed.ts', 'zone-cp',
        '--zone', ZONE,
        '--global', resources.global!.url,
        '--token-file', tokenFile,
        '--nats', resources.nats!.url,
        '--state-dir', stateDir,
        '--listen', `127.0.0.1:${httpPort}`,
        '--grpc-listen', `127.0.0.1:${grpcPort}`,
        '--federation-id', FEDERATION_ID,
        '--log-level', 'info',
      ],
      { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const zone: ZoneProcess = { child, pid: child.pid!, url: `http://127.0.0.1:${httpPort}`, grpcAddress: `127.0.0.1:${grpcPort}`, caFile: '', stateDir, output: () => output };
    resources.zone = zone;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && child.exitCode === null && child.signalCode === null) {
      const serving = /"grpcCaFile":"([^"]+)".*"msg":"zone CP serving"|"msg":"zone CP serving".*"grpcCaFile":"([^"]+)"/.exec(output);
      if (serving) {
        zone.caFile = serving[1] ?? serving[2]!;
        return zone;
      }
      checkInterrupted();
      await new Promise((r) => setTimeout(r, 50));
    }
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      throw new Error(`zone CP did not report "zone CP serving" within 30 s:\n${output}`);
    }
    lastError = new Error(`zone CP exited (${child.exitCode ?? child.signalCode}) before serving:\n${output}`);
    resources.zone = undefined;
    if (!/EADDRINUSE|cannot listen/i.test(output)) break;
  }
  throw lastError ?? new Error('zone CP did not start');
}

interface Intermediate {
  tenant: string;
  certificatePem: string;
}

async function waitForIntermediate(zone: ZoneProcess): Promise<Intermediate> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const response = await fetch(`${zone.url}/api/v1/state`);
      if (response.ok) {
        const state = (await response.json()) as { intermediates?: Intermediate[] };
        const held = state.intermediates?.find((i) => i.tenant === TENANT);
        if (held) return held;
      }
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`zone CP holds no intermediate CA for "${TENANT}" after 30 s:\n${zone.output().slice(-4000)}`);
    if (zone.child.exitCode !== null) throw new Error(`zone CP exited (${zone.child.exitCode}):\n${zone.output().slice(-4000)}`);
    checkInterrupted();
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface PreparedCsr {
  identity: number;
  spiffeId: string;
  pem: string;
  /** DER of the CSR's SubjectPublicKeyInfo, to check the leaf carries it. */
  spki: Buffer;
}

async function prepareCsrs(n: number): Promise<PreparedCsr[]> {
  const out: PreparedCsr[] = [];
  let lastProgress = Date.now();
  for (let i = 0; i < n; i++) {
    const identity = i % flags.identities;
    const spiffeId = spiffeIdOf(identity);
    const csr = await createCsr(await generateKeyPair(), `CN=${serviceAccount(identity)}`, spiffeId);
    out.push({ identity, spiffeId, pem: csr.toString('pem'), spki: Buffer.from(csr.publicKey.rawData) });
    if (Date.now() - lastProgress >= 2000) {
      lastProgress = Date.now();
      log(`  generated ${i + 1}/${n} keys and CSRs`);
    }
    if (i % 100 === 0) checkInterrupted();
  }
  return out;
}

// ---------------------------------------------------------------- measurement

interface LevelResult {
  round: number;
  concurrency: number;
  channels: number;
  issued: number;
  failed: number;
  badChains: number;
  latenciesMs: number[]; // sorted
  wallMs: number;
  zoneCpuMicros: number;
  clientCpuMicros: number;
  zoneRssMiB: number;
  zonePeakMiB: number;
  loadAvg: number;
}

interface Problem {
  index: number;
  what: string;
}
const problems: Problem[] = [];
function problem(index: number, what: string): void {
  if (problems.length < 2000) problems.push({ index, what });
  if (problems.length <= 10) console.error(`  call #${index}: ${what}`);
}

/** `total` calls with `concurrency` in flight, CSRs from `offset`; resolves with per-call latency (NaN for a failure) and replies. */
async function issueMany(csrs: PreparedCsr[], offset: number, total: number, concurrency: number, metadata: grpc.Metadata[], channels: CertificateClient[], label: string) {
  const latencies = new Array<number>(total).fill(Number.NaN);
  const replies = new Array<SignReply | undefined>(total);
  let next = 0;
  let done = 0;
  let failed = 0;
  let lastProgress = Date.now();
  const t0 = process.hrtime.bigint();
  const worker = async (w: number) => {
    const client = channels[w % channels.length]!;
    while (next < total && !interrupted && Date.now() < deadline) {
      const i = next++;
      const csr = csrs[offset + i]!;
      const start = process.hrtime.bigint();
      try {
        replies[i] = await signCertificate(client, metadata[csr.identity]!, csr.pem);
        latencies[i] = nsToMs(process.hrtime.bigint() - start);
      } catch (error) {
        failed++;
        const e = error as grpc.ServiceError;
        problem(offset + i, `${label}: ${e.code !== undefined ? `${grpc.status[e.code]} ` : ''}${e.details ?? e.message}`);
      }
      done++;
      if (Date.now() - lastProgress >= 2000) {
        lastProgress = Date.now();
        const recent = latencies.slice(Math.max(0, i - 500), i).filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
        const seconds = nsToMs(process.hrtime.bigint() - t0) / 1000;
        log(`  ${label}: ${done}/${total}, ${fmt(done / seconds)} SVIDs/s so far, ${failed} failed; recent p50 ${fmt(percentile(recent, 0.5), 2)} ms, p99 ${fmt(percentile(recent, 0.99), 2)} ms`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  const wallMs = nsToMs(process.hrtime.bigint() - t0);
  return { latencies, replies, failed, done, wallMs };
}

/** Checks each reply against what was asked for; counts the chains that are wrong. Outside the timed part. */
async function verifyReplies(csrs: PreparedCsr[], offset: number, replies: Array<SignReply | undefined>, intermediatePem: string): Promise<number> {
  const intermediate = new x509.X509Certificate(intermediatePem);
  const expectedLifetimeMs = Math.min(86_400, Math.max(300, flags.validitySeconds || 86_400)) * 1000;
  let bad = 0;
  for (const [i, reply] of replies.entries()) {
    if (!reply) continue;
    const csr = csrs[offset + i]!;
    const fail = (what: string) => {
      bad++;
      problem(offset + i, `bad chain: ${what}`);
    };
    try {
      if (reply.spiffe_id !== csr.spiffeId) {
        fail(`spiffe_id ${reply.spiffe_id}, asked for ${csr.spiffeId}`);
        continue;
      }
      if (reply.cert_chain.length < 2) {
        fail(`chain of ${reply.cert_chain.length} certificate(s)`);
        continue;
      }
      const chain = reply.cert_chain.map((pem) => new x509.X509Certificate(pem));
      const leaf = chain[0]!;
      const uris = (leaf.getExtension(x509.SubjectAlternativeNameExtension)?.names.items ?? []).filter((n) => n.type === 'url').map((n) => n.value);
      if (uris.length !== 1 || uris[0] !== csr.spiffeId) fail(`leaf URI SANs ${uris.join(', ') || 'none'}, asked for ${csr.spiffeId}`);
      else if (!Buffer.from(leaf.publicKey.rawData).equals(csr.spki)) fail('leaf does not carry the CSR\'s public key');
      else if (chain[1]!.serialNumber !== intermediate.serialNumber || reply.cert_chain[1]!.trim() !== intermediatePem.trim()) fail('second certificate is not the zone\'s intermediate for the tenant');
      else if (leaf.issuer !== intermediate.subject) fail(`leaf issuer "${leaf.issuer}" is not the intermediate's subject`);
      else if (!(await leaf.verify({ publicKey: intermediate.publicKey, signatureOnly: true }))) fail('leaf signature does not verify with the intermediate\'s key');
      else if (Math.abs(leaf.notAfter.getTime() - leaf.notBefore.getTime() - expectedLifetimeMs - 60_000) > 5_000) fail(`lifetime ${(leaf.notAfter.getTime() - leaf.notBefore.getTime()) / 1000} s`);
      else if (!reply.trust_bundle.length) fail('empty trust bundle');
    } catch (error) {
      fail(`does not parse: ${(error as Error).message}`);
    }
  }
  return bad;
}

let deadline = Number.POSITIVE_INFINITY;
/** hrtime (ns) spans of the measured parts of every level: where the zone CP's profile is read. */
const measuredWindows: Array<[bigint, bigint]> = [];

async function runLevel(round: number, concurrency: number, csrs: PreparedCsr[], metadata: grpc.Metadata[], intermediatePem: string): Promise<LevelResult> {
  const channels = resources.clients.slice(0, Math.min(concurrency, resources.clients.length));
  const label = `round ${round}, ${concurrency} in flight`;
  log(`${label} over ${channels.length} channel(s): ${flags.warmup} warm-up, then ${flags.count} measured`);
  if (flags.warmup) {
    const warm = await issueMany(csrs, 0, flags.warmup, concurrency, metadata, channels, `${label} warm-up`);
    if (warm.failed) log(`  warm-up: ${warm.failed} failed`);
  }
  const zone = resources.zone!;
  const zoneCpu0 = processCpuMicros(zone.pid);
  const ownCpu0 = process.cpuUsage();
  const windowStart = process.hrtime.bigint();
  const run = await issueMany(csrs, flags.warmup, flags.count, concurrency, metadata, channels, label);
  measuredWindows.push([windowStart, process.hrtime.bigint()]);
  const zoneCpu = processCpuMicros(zone.pid) - zoneCpu0;
  const clientCpu = ownCpuMicros(ownCpu0);
  const memory = processMemory(zone.pid);
  const missing = flags.count - run.done;
  const badChains = await verifyReplies(csrs, flags.warmup, run.replies, intermediatePem);
  const latencies = run.latencies.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  const issued = latencies.length;
  const result: LevelResult = {
    round,
    concurrency,
    channels: channels.length,
    issued,
    failed: run.failed + missing,
    badChains,
    latenciesMs: latencies,
    wallMs: run.wallMs,
    zoneCpuMicros: zoneCpu,
    clientCpuMicros: clientCpu,
    zoneRssMiB: memory.rssMiB,
    zonePeakMiB: memory.peakMiB,
    loadAvg: loadavg()[0]!,
  };
  log(
    `  done: ${issued} issued in ${fmt(run.wallMs / 1000, 2)} s = ${fmt(issued / (run.wallMs / 1000))} SVIDs/s; p50 ${fmt(percentile(latencies, 0.5), 2)} ms, ` +
      `p99 ${fmt(percentile(latencies, 0.99), 2)} ms; zone CP ${fmt(zoneCpu / Math.max(1, run.done), 0)} µs CPU/SVID, RSS ${fmt(memory.rssMiB)} MiB; ` +
      `${result.failed} failed, ${badChains} bad chain(s)`,
  );
  return result;
}

// ---------------------------------------------------------------- baseline

interface BaselineResult {
  round: number;
  kind: string;
  n: number;
  perSecond: number;
  cpuMicrosPerOp: number;
  p50Ms: number;
  p99Ms: number;
}

interface BaselineContext {
  identity: SigningIdentity;
  /** DER of a leaf's to-be-signed part, as signSvid makes it: what the raw signature covers. */
  tbs: ArrayBuffer;
  issuer: SvidIssuer;
  claims: DataplaneClaims[];
}

/** The zone's intermediate and key, copied from its state dir into a keeper of our own; an SvidIssuer like the zone's. */
async function baselineContext(zone: ZoneProcess, root: string): Promise<BaselineContext> {
  const dir = join(root, 'baseline-state');
  await mkdir(join(dir, 'pki', TENANT), { recursive: true });
  for (const file of ['intermediate.key', 'intermediate.json']) await copyFile(join(zone.stateDir, 'pki', TENANT, file), join(dir, 'pki', TENANT, file));
  const keeper = new IntermediateKeeper({ stateDir: dir, zone: ZONE, globalUrl: 'http://127.0.0.1:9', token: 'unused', log: createLogger('bench', 'silent') });
  await keeper.sync([TENANT]);
  const signer = await keeper.signer(TENANT);
  if (!signer) throw new Error('baseline: the copied intermediate did not load');
  const issuer = new SvidIssuer({ intermediates: keeper, trustDomainOf: (t) => (t === TENANT ? TRUST_DOMAIN : undefined), defaultTtlMs: 86_400_000, registry: new Registry() });
  const now = Date.now();
  const claims = Array.from({ length: flags.identities }, (_, i): DataplaneClaims => ({
    id: randomBytes(8).toString('hex'),
    zone: ZONE,
    tenant: TENANT,
    namespace: NAMESPACE,
    serviceAccount: serviceAccount(i),
    issuedAt: now,
    expiresAt: now + 86_400_000,
  }));
  const leaf = await signSvid(signer.identity, await readCsr((await prepareCsrs(1))[0]!.pem), { spiffeId: spiffeIdOf(0), trustDomain: TRUST_DOMAIN, ttlMs: 3_600_000 });
  const tbs = AsnConvert.serialize(AsnConvert.parse(leaf.rawData, Certificate).tbsCertificate);
  return { identity: signer.identity, tbs, issuer, claims };
}

async function runBaseline(round: number, csrs: PreparedCsr[], context: BaselineContext): Promise<BaselineResult[]> {
  const n = Math.min(flags.baseline, csrs.length);
  const ttlMs = Math.min(86_400, Math.max(300, flags.validitySeconds || 86_400)) * 1000;
  // Each kind: an untimed preparation, then the timed operation. Only the operation's CPU (process.cpuUsage around it) and wall time count.
  // Parsed CSRs are made per call and dropped, so this process's heap (and GC work) stays small, like the zone CP's.
  interface Kind {
    name: string;
    prepare: (csr: PreparedCsr) => Promise<x509.Pkcs10CertificateRequest | undefined>;
    op: (csr: PreparedCsr, parsed: x509.Pkcs10CertificateRequest | undefined) => Promise<unknown>;
  }
  const none = async () => undefined;
  const kinds: Kind[] = [
    { name: 'ECDSA P-256 signature only (WebCrypto, a leaf\'s TBS)', prepare: none, op: () => webcrypto.subtle.sign(SIGNING_ALGORITHM, context.identity.privateKey, context.tbs) },
    { name: 'signSvid (signature + encoding)', prepare: (csr) => readCsr(csr.pem), op: (csr, parsed) => signSvid(context.identity, parsed!, { spiffeId: csr.spiffeId, trustDomain: TRUST_DOMAIN, ttlMs }) },
    { name: 'readCsr + signSvid', prepare: none, op: async (csr) => signSvid(context.identity, await readCsr(csr.pem), { spiffeId: csr.spiffeId, trustDomain: TRUST_DOMAIN, ttlMs }) },
    { name: 'SvidIssuer.issue (zone code, no gRPC)', prepare: none, op: (csr) => context.issuer.issue(context.claims[csr.identity]!, csr.pem, flags.validitySeconds) },
  ];
  const results: BaselineResult[] = [];
  for (const { name: kind, prepare, op } of kinds) {
    checkInterrupted();
    for (let i = 0; i < Math.min(50, n); i++) await op(csrs[i]!, await prepare(csrs[i]!)); // warm-up
    const latencies: number[] = [];
    let cpu = 0;
    for (let i = 0; i < n; i++) {
      const csr = csrs[i]!;
      const parsed = await prepare(csr);
      const cpu0 = process.cpuUsage();
      const start = process.hrtime.bigint();
      await op(csr, parsed);
      latencies.push(nsToMs(process.hrtime.bigint() - start));
      cpu += ownCpuMicros(cpu0);
    }
    const wallMs = latencies.reduce((a, b) => a + b, 0);
    latencies.sort((a, b) => a - b);
    const result = { round, kind, n, perSecond: n / (wallMs / 1000), cpuMicrosPerOp: cpu / n, p50Ms: percentile(latencies, 0.5), p99Ms: percentile(latencies, 0.99) };
    log(`  baseline round ${round}, ${kind}: ${fmt(result.perSecond)}/s sequential, ${fmt(result.cpuMicrosPerOp, 0)} µs CPU each, p50 ${fmt(result.p50Ms, 3)} ms`);
    results.push(result);
  }
  return results;
}

// ---------------------------------------------------------------- report

function report(levels: LevelResult[], baselines: BaselineResult[], idleZoneCpuPerSecond: number, commit: string): void {
  const perSvid = (r: LevelResult, micros: number) => micros / Math.max(1, r.issued + r.failed);
  console.log('');
  console.log(
    `Results: ${flags.count} SVIDs per level per round (+${flags.warmup} warm-up), ${flags.rounds} round(s), ${flags.identities} identities, ` +
      `validity ${flags.validitySeconds} s; commit ${commit}; nproc ${cpus().length}; node ${process.version}; ${new Date().toISOString()}`,
  );
  console.log('');
  console.log('| in flight (channels) | round | SVIDs/s | p50 ms | p90 ms | p99 ms | max ms | zone CP CPU µs/SVID | zone CP cores busy | bench CPU µs/SVID | zone CP RSS / peak MiB | failed | bad chains | load avg 1m |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const c of flags.concurrency) {
    const rows = levels.filter((r) => r.concurrency === c);
    for (const r of rows) {
      const l = r.latenciesMs;
      console.log(
        `| ${r.concurrency} (${r.channels}) | ${r.round} | ${fmt(r.issued / (r.wallMs / 1000))} | ${fmt(percentile(l, 0.5), 2)} | ${fmt(percentile(l, 0.9), 2)} | ${fmt(percentile(l, 0.99), 2)} | ${fmt(l.at(-1) ?? Number.NaN, 2)} | ` +
          `${fmt(perSvid(r, r.zoneCpuMicros), 0)} | ${fmt(r.zoneCpuMicros / 1000 / r.wallMs, 2)} | ${fmt(perSvid(r, r.clientCpuMicros), 0)} | ${fmt(r.zoneRssMiB, 0)} / ${fmt(r.zonePeakMiB, 0)} | ${r.failed} | ${r.badChains} | ${fmt(r.loadAvg, 2)} |`,
      );
    }
    if (rows.length > 1) {
      const m = (pick: (r: LevelResult) => number, digits: number) => fmt(median(rows.map(pick)), digits);
      console.log(
        `| **${c} median** | | **${m((r) => r.issued / (r.wallMs / 1000), 1)}** | ${m((r) => percentile(r.latenciesMs, 0.5), 2)} | ${m((r) => percentile(r.latenciesMs, 0.9), 2)} | **${m((r) => percentile(r.latenciesMs, 0.99), 2)}** | ${m((r) => r.latenciesMs.at(-1) ?? Number.NaN, 2)} | ` +
          `**${m((r) => perSvid(r, r.zoneCpuMicros), 0)}** | ${m((r) => r.zoneCpuMicros / 1000 / r.wallMs, 2)} | ${m((r) => perSvid(r, r.clientCpuMicros), 0)} | ${m((r) => r.zoneRssMiB, 0)} / ${m((r) => r.zonePeakMiB, 0)} | ${rows.reduce((n, r) => n + r.failed, 0)} | ${rows.reduce((n, r) => n + r.badChains, 0)} | |`,
      );
    }
  }
  console.log('');
  console.log(`Zone CP CPU while idle (3 s before the first round): ${fmt(idleZoneCpuPerSecond, 0)} µs/s — included in the figures above.`);

  if (baselines.length) {
    console.log('');
    console.log('In-process baseline, sequential (one call at a time), same intermediate and CSRs:');
    console.log('');
    console.log('| kind | round | per second | CPU µs each | p50 ms | p99 ms |');
    console.log('|---|---:|---:|---:|---:|---:|');
    const kinds = [...new Set(baselines.map((b) => b.kind))];
    for (const kind of kinds) {
      const rows = baselines.filter((b) => b.kind === kind);
      for (const b of rows) console.log(`| ${b.kind} | ${b.round} | ${fmt(b.perSecond)} | ${fmt(b.cpuMicrosPerOp, 0)} | ${fmt(b.p50Ms, 3)} | ${fmt(b.p99Ms, 3)} |`);
      if (rows.length > 1) console.log(`| **${kind} median** | | **${fmt(median(rows.map((b) => b.perSecond)))}** | **${fmt(median(rows.map((b) => b.cpuMicrosPerOp)), 0)}** | ${fmt(median(rows.map((b) => b.p50Ms)), 3)} | ${fmt(median(rows.map((b) => b.p99Ms)), 3)} |`);
    }
    const cpuOf = (kind: string) => median(baselines.filter((b) => b.kind === kind).map((b) => b.cpuMicrosPerOp));
    const [signature, sign, readSign, issuer] = kinds.map(cpuOf) as [number, number, number, number];
    console.log('');
    console.log('Where the zone CP\'s CPU per SVID goes, by subtraction (medians over rounds; each step = the baseline kind minus the one before; the last');
    console.log('column = zone CP minus SvidIssuer.issue in-process). Two processes measured at different moments: on a busy machine the split is rough');
    console.log('and the last column can come out negative. --zone-cpu-prof gives the split from inside the zone CP.');
    console.log('');
    console.log('| in flight | zone CP µs/SVID | ECDSA signature | rest of signSvid (certificate building) | readCsr (CSR parse + signature check) | SvidIssuer around it | gRPC, TLS, HTTP/2, protobuf, token check, idle work |');
    console.log('|---|---:|---:|---:|---:|---:|---:|');
    for (const c of flags.concurrency) {
      const zone = median(levels.filter((r) => r.concurrency === c).map((r) => r.zoneCpuMicros / Math.max(1, r.issued + r.failed)));
      const pct = (x: number) => `${fmt(x, 0)} (${fmt((100 * x) / zone, 0)} %)`;
      console.log(`| ${c} | ${fmt(zone, 0)} | ${pct(signature)} | ${pct(sign - signature)} | ${pct(readSign - sign)} | ${pct(issuer - readSign)} | ${pct(zone - issuer)} |`);
    }
  }
}

// ---------------------------------------------------------------- setup / teardown

let interrupted = false;
function checkInterrupted(): void {
  if (interrupted) throw new Error('interrupted');
}

function killChildren(): void {
  const zone = resources.zone?.child;
  if (zone && zone.exitCode === null && zone.signalCode === null) zone.kill('SIGKILL');
  for (const s of [resources.redis, resources.nats]) if (s && s.process.exitCode === null) s.process.kill('SIGKILL');
}
process.once('exit', killChildren);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) {
      console.error(`${signal} again: killing the servers and exiting`);
      killChildren();
      process.exit(130);
    }
    interrupted = true;
    console.error(`${signal}: stopping after the calls in flight`);
  });
}

async function setup(): Promise<{ intermediatePem: string; metadata: grpc.Metadata[] }> {
  resources.root = await mkdtemp(join(tmpdir(), 'meshfed-bench-pki-'));
  log(`temp dir ${resources.root}; starting redis-server and nats-server on loopback`);
  const [redis, nats] = await Promise.allSettled([startLocalRedis(join(resources.root, 'redis')), startLocalNats(join(resources.root, 'nats'))]);
  if (redis.status === 'fulfilled') resources.redis = redis.value;
  if (nats.status === 'fulfilled') resources.nats = nats.value;
  if (redis.status === 'rejected') throw redis.reason;
  if (nats.status === 'rejected') throw nats.reason;
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
  const created = await api(resources.global.url, ADMIN_TOKEN, 'POST', '/zones', { name: ZONE, region: 'region-0', location: `dc:${ZONE}`, kind: 'universal' });
  expectOk('zone', created);
  expectOk('tenant', await api(resources.global.url, ADMIN_TOKEN, 'POST', '/tenants', { name: TENANT, zones: [ZONE] }));
  const zoneToken = (created.body as { token: string }).token;
  log(`global CP ${resources.global.url} (in this process); zone "${ZONE}" and tenant "${TENANT}" registered; starting the zone CP process`);

  const zone = await startZoneProcess(resources.root, zoneToken);
  log(`zone CP pid ${zone.pid}, http ${zone.url}, gRPC ${zone.grpcAddress}; waiting for its intermediate CA for "${TENANT}"`);
  const intermediate = await waitForIntermediate(zone);
  log('intermediate CA held; taking dataplane tokens');

  const metadata: grpc.Metadata[] = [];
  for (let i = 0; i < flags.identities; i++) {
    const result = await api(zone.url, zoneToken, 'POST', '/dataplane-tokens', { tenant: TENANT, namespace: NAMESPACE, serviceAccount: serviceAccount(i) });
    expectOk(`dataplane token ${i}`, result);
    const m = new grpc.Metadata();
    m.set('authorization', `Bearer ${(result.body as { token: string }).token}`);
    metadata.push(m);
  }
  const caPem = readFileSync(zone.caFile);
  for (let c = 0; c < flags.channels; c++) resources.clients.push(certificateClient(zone.grpcAddress, caPem));
  await Promise.all(resources.clients.map(waitForReady));
  log(`${flags.identities} dataplane tokens; ${flags.channels} gRPC TLS channel(s) connected`);
  return { intermediatePem: intermediate.certificatePem, metadata };
}

let tornDown = false;
async function teardown(): Promise<void> {
  if (tornDown) return;
  tornDown = true;
  log('stopping the zone CP, global CP, nats-server, redis-server');
  for (const client of resources.clients) client.close();
  const zone = resources.zone?.child;
  if (zone && zone.exitCode === null && zone.signalCode === null) {
    const exited = once(zone, 'exit');
    zone.kill('SIGTERM');
    const timer = setTimeout(() => {
      console.error('zone CP did not stop within 10 s of SIGTERM; killing it');
      zone.kill('SIGKILL');
    }, 10_000);
    await exited;
    clearTimeout(timer);
  }
  await resources.global?.stop().catch((e: Error) => console.error(`stopping the global CP: ${e.message}`));
  await Promise.allSettled([resources.nats?.stop(), resources.redis?.stop()]);
  const alive = [resources.redis?.process, resources.nats?.process, zone].filter((p) => p && p.exitCode === null && p.signalCode === null);
  for (const p of alive) console.error(`pid ${p!.pid} still running`);
  if (resources.root) await rm(resources.root, { recursive: true, force: true });
  log(alive.length ? 'teardown incomplete' : `stopped; pids ${[zone?.pid, resources.redis?.process.pid, resources.nats?.process.pid].filter(Boolean).join(', ')} gone; temp dir removed`);
}

/** After the zone CP exited (it writes its profile then): its main thread's time in the measured windows, by category. */
function reportProfile(dir: string, pid: number): void {
  const file = mainThreadProfile(dir, pid);
  if (!file) {
    console.error(`no main-thread .cpuprofile of pid ${pid} in ${dir}: the zone CP did not exit cleanly?`);
    return;
  }
  const { shares, sampledMs, busyMs } = summarizeProfile(file, measuredWindows);
  const windowMs = measuredWindows.reduce((n, [a, b]) => n + Number(b - a) / 1e6, 0);
  console.log('');
  console.log(`Zone CP main thread, measured windows only (${fmt(windowMs / 1000, 1)} s; ${fmt(sampledMs / 1000, 1)} s sampled, ${fmt(busyMs / 1000, 1)} s not idle), from ${file}:`);
  console.log('ECDSA sign/verify run in the libuv thread pool and are not in this profile.');
  console.log('');
  console.log('| category (a sample goes to the first one, in bench/pki/profile.ts order, that any frame of its stack matches) | ms | % of busy |');
  console.log('|---|---:|---:|');
  for (const s of shares) console.log(`| ${s.category} | ${fmt(s.ms, 0)} | ${fmt(s.percent, 1)} |`);
}

function gitCommit(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8' }).trim();
    return dirty ? `${head} (+ uncommitted changes)` : head;
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<number> {
  deadline = started + flags.maxSeconds * 1000;
  const watchdog = setTimeout(() => {
    console.error(`watchdog: still running ${flags.maxSeconds + 60} s after start; killing the servers and exiting`);
    killChildren();
    process.exit(3);
  }, (flags.maxSeconds + 60) * 1000);
  watchdog.unref();
  let code = 0;
  try {
    const { intermediatePem, metadata } = await setup();
    const poolSize = flags.warmup + flags.count;
    log(`pre-generating ${poolSize} P-256 keys and CSRs (${flags.identities} identities), reused by every level and round`);
    const csrs = await prepareCsrs(Math.max(poolSize, flags.baseline));
    const baseline = flags.baseline ? await baselineContext(resources.zone!, resources.root!) : undefined;

    const idleCpu0 = processCpuMicros(resources.zone!.pid);
    await new Promise((r) => setTimeout(r, 3000));
    const idleZoneCpuPerSecond = (processCpuMicros(resources.zone!.pid) - idleCpu0) / 3;

    const levels: LevelResult[] = [];
    const baselines: BaselineResult[] = [];
    for (let round = 1; round <= flags.rounds && !interrupted && Date.now() < deadline; round++) {
      if (baseline) baselines.push(...(await runBaseline(round, csrs, baseline)));
      for (const c of flags.concurrency) {
        if (interrupted || Date.now() >= deadline) break;
        levels.push(await runLevel(round, c, csrs, metadata, intermediatePem));
      }
    }
    report(levels, baselines, idleZoneCpuPerSecond, gitCommit());
    const failed = levels.reduce((n, r) => n + r.failed, 0);
    const bad = levels.reduce((n, r) => n + r.badChains, 0);
    const expected = flags.rounds * flags.concurrency.length;
    if (failed || bad || levels.length < expected) {
      console.error('');
      console.error(`FAIL: ${failed} call(s) failed, ${bad} returned chain(s) wrong, ${expected - levels.length} level run(s) not done${interrupted ? ' (interrupted)' : Date.now() >= deadline ? ' (--max-seconds reached)' : ''}`);
      for (const p of problems.slice(0, 20)) console.error(`  #${p.index}: ${p.what}`);
      code = 1;
    } else {
      console.log('');
      console.log(`OK: every call succeeded and every returned chain names the requested SPIFFE ID, carries the CSR's key and is signed by the zone's intermediate.`);
    }
  } catch (error) {
    if (!interrupted) console.error(`bench failed: ${(error as Error).stack ?? String(error)}`);
    if (resources.zone && !interrupted) console.error(`zone CP output (last lines):\n${resources.zone.output().split('\n').slice(-15).join('\n')}`);
    code = 1;
  } finally {
    await teardown();
    clearTimeout(watchdog);
  }
  if (flags.zoneCpuProf && resources.zone && measuredWindows.length) reportProfile(resolve(flags.zoneCpuProf), resources.zone.pid);
  return code;
}

const exitCode = await main();
process.exitCode = interrupted ? 130 : exitCode;
