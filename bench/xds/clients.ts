/**
 * The xDS benchmark's ADS clients, in their own process (started by run.ts
 * over fork IPC) so their CPU is not the server's.
 *
 * Each stream is a minimal state-of-the-world client, as proxyless gRPC (or
 * Envoy) behaves: subscribe LDS and CDS by wildcard (node on the first
 * request only), ACK every response with its version_info and nonce, and
 * subscribe RDS with the route configuration names the listeners name and
 * EDS with the EDS clusters' service names (or cluster names). Streams share
 * a handful of channels (separate HTTP/2 connections; grpc-js multiplexes
 * the streams of one channel). Responses are read with a hand-written
 * partial decoder (see wire.ts): only names, versions and nonces.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as grpc from '@grpc/grpc-js';
import { ADS_METHOD, BENCH_METADATA, TYPE, hrMs, type FromClient, type ReceivedMessage, type StartMessage, type ToClient } from './protocol.js';
import { clusterEdsName, encodeRequest, firstStringField, listenerRouteNames, parseResponse, type Request, type RequestNode } from './wire.js';
import { LOCAL_LOCALITIES, makeEndpoint, namespaceOf, sidecarEndpointIndex } from './world.js';

// grpc-js honours proxy variables: never send loopback through one.
process.env.no_grpc_proxy = '127.0.0.1,localhost';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const send = (message: FromClient) => process.send?.(message);
// The parent is gone (killed, crashed): nothing left to measure for.
process.on('disconnect', () => process.exit(0));

interface TypeState {
  version: string;
  nonce: string;
  /** RDS/EDS: the names subscribed, sorted; LDS/CDS: wildcard (empty). */
  names: string[];
  namesKey: string;
  /** Resources in the last response. */
  count: number;
  responses: number;
  /** RDS/EDS: every name received so far (responses may carry only what changed). */
  have: Set<string>;
}

/** One copy of each name, however many streams learn it. */
const interned = new Map<string, string>();
const intern = (name: string) => {
  const known = interned.get(name);
  if (known !== undefined) return known;
  interned.set(name, name);
  return name;
};

const stats = { opened: 0, ready: 0, responses: 0, bytes: 0, failed: 0, failures: [] as string[], largest: {} as Record<string, number> };

interface Armed {
  change: number;
  left: number;
  responses: number;
  bytes: number;
  otherTypeResponses: number;
  edsBytes: number;
  cpu: NodeJS.CpuUsage;
  reported: boolean;
}
let armed: Armed | undefined;
let streams: AdsStream[] = [];
let openedAt = 0;
let readyCpu: NodeJS.CpuUsage = process.cpuUsage();
let readySent = false;

class AdsStream {
  private call: grpc.ClientDuplexStream<Buffer, Buffer> | undefined;
  private readonly types = new Map<string, TypeState>();
  readyAt = Number.NaN;
  failed = false;
  private edsBaseline: string | undefined;
  edsReceivedAt = Number.NaN;

  constructor(
    readonly index: number,
    private readonly client: grpc.Client,
    private readonly node: RequestNode,
  ) {
    for (const type of Object.values(TYPE)) this.types.set(type, { version: '', nonce: '', names: [], namesKey: '', count: 0, responses: 0, have: new Set() });
  }

  open(): void {
    const call = this.client.makeBidiStreamRequest(ADS_METHOD, (b: Buffer) => b, (b: Buffer) => b);
    this.call = call;
    call.on('data', (buf: Buffer) => this.onResponse(buf));
    call.on('error', (error: grpc.ServiceError) => this.fail(`${grpc.status[error.code] ?? error.code}: ${error.details || error.message}`));
    call.on('end', () => this.fail('stream ended by the server'));
    stats.opened++;
    this.write({ versionInfo: '', node: this.node, resourceNames: [], typeUrl: TYPE.listener, responseNonce: '' });
    this.write({ versionInfo: '', resourceNames: [], typeUrl: TYPE.cluster, responseNonce: '' });
  }

  close(): void {
    this.call?.cancel();
  }

  arm(): void {
    this.edsBaseline = this.types.get(TYPE.endpoint)!.version;
    this.edsReceivedAt = Number.NaN;
  }

  private fail(message: string): void {
    if (this.failed || stopping) return;
    this.failed = true;
    stats.failed++;
    if (stats.failures.length < 5) stats.failures.push(`stream ${this.index}: ${message}`);
    if (stats.ready + stats.failed === streams.length) reportReady();
    if (armed && !armed.reported && Number.isNaN(this.edsReceivedAt) && --armed.left === 0) reportArmed();
  }

  private write(request: Request): void {
    this.call!.write(encodeRequest(request));
  }

  private onResponse(buf: Buffer): void {
    const at = hrMs();
    stats.responses++;
    stats.bytes += buf.length;
    const response = parseResponse(buf);
    const type = response.typeUrl;
    const state = this.types.get(type);
    if (!state) return;
    if (buf.length > (stats.largest[type] ?? 0)) stats.largest[type] = buf.length;
    if (armed && !armed.reported) {
      armed.responses++;
      armed.bytes += buf.length;
      if (type !== TYPE.endpoint) armed.otherTypeResponses++;
    }
    const changed = response.versionInfo !== state.version;
    state.version = response.versionInfo;
    state.nonce = response.nonce;
    state.count = response.resources.length;
    state.responses++;
    if (type === TYPE.route || type === TYPE.endpoint) for (const r of response.resources) state.have.add(intern(firstStringField(buf, r.start, r.end)));
    // ACK first, with the subscription as it stands.
    this.write({ versionInfo: state.version, resourceNames: state.names, typeUrl: type, responseNonce: state.nonce });

    if (type === TYPE.listener && changed) {
      const names: string[] = [];
      for (const r of response.resources) listenerRouteNames(buf, r.start, r.end, names);
      this.subscribe(TYPE.route, names);
    } else if (type === TYPE.cluster && changed) {
      const names: string[] = [];
      for (const r of response.resources) {
        const name = clusterEdsName(buf, r.start, r.end);
        if (name !== undefined) names.push(name);
      }
      this.subscribe(TYPE.endpoint, names);
    } else if (type === TYPE.endpoint && armed && !armed.reported && Number.isNaN(this.edsReceivedAt) && response.versionInfo !== this.edsBaseline) {
      this.edsReceivedAt = at;
      if (this.index === 0) armed.edsBytes = buf.length;
      if (--armed.left === 0) reportArmed();
    }
    if (Number.isNaN(this.readyAt) && this.complete()) {
      this.readyAt = at;
      stats.ready++;
      if (stats.ready + stats.failed === streams.length) reportReady();
    }
  }

  /** RDS/EDS: (re)subscribe when the set of names changed, as the version and nonce last seen. */
  private subscribe(type: string, found: string[]): void {
    const names = [...new Set(found)].sort().map(intern);
    const key = names.join('\n');
    const state = this.types.get(type)!;
    if (key === state.namesKey) return;
    state.names = names;
    state.namesKey = key;
    this.write({ versionInfo: state.version, resourceNames: names, typeUrl: type, responseNonce: state.nonce });
  }

  /** LDS and CDS received, RDS and EDS received for every name subscribed (all exist in this world). */
  private complete(): boolean {
    const [lds, rds, cds, eds] = [TYPE.listener, TYPE.route, TYPE.cluster, TYPE.endpoint].map((t) => this.types.get(t)!);
    const all = (s: TypeState) => s.names.length > 0 && s.names.every((n) => s.have.has(n));
    return lds!.responses > 0 && cds!.responses > 0 && all(rds!) && all(eds!);
  }

  resourceCounts(): Record<string, number> {
    // LDS/CDS: the last (complete) response; RDS/EDS: every name received.
    return Object.fromEntries([...this.types].map(([type, s]) => [type, type === TYPE.route || type === TYPE.endpoint ? s.have.size : s.count]));
  }
}

function reportReady(): void {
  if (readySent) return;
  readySent = true;
  const cpu = process.cpuUsage(readyCpu);
  send({
    type: 'ready',
    openedAt,
    readyAt: streams.map((s) => s.readyAt),
    responses: stats.responses,
    bytes: stats.bytes,
    largest: { ...stats.largest },
    resourceCounts: streams[0]?.resourceCounts() ?? {},
    cpuMicros: cpu.user + cpu.system,
    failed: stats.failed,
    failures: [...stats.failures],
  });
}

function reportArmed(): void {
  if (!armed || armed.reported) return;
  armed.reported = true;
  const cpu = process.cpuUsage(armed.cpu);
  const message: ReceivedMessage = {
    type: 'received',
    change: armed.change,
    at: streams.map((s) => s.edsReceivedAt),
    responses: armed.responses,
    bytes: armed.bytes,
    otherTypeResponses: armed.otherTypeResponses,
    edsBytes: armed.edsBytes,
    cpuMicros: cpu.user + cpu.system,
    failed: stats.failed,
  };
  send(message);
}

function nodeFor(p: number, start: StartMessage): RequestNode {
  const metadata: Record<string, string> = {};
  let locality = LOCAL_LOCALITIES[p % LOCAL_LOCALITIES.length]!;
  if (start.kind === 'sidecar') {
    const endpoint = makeEndpoint(sidecarEndpointIndex(p, start.services, start.endpoints), start.services);
    Object.assign(metadata, {
      'meshfed.io/kind': 'sidecar',
      'meshfed.io/service': endpoint.service,
      'meshfed.io/instance': endpoint.instance,
      [BENCH_METADATA.namespace]: endpoint.namespace,
      [BENCH_METADATA.serviceAccount]: endpoint.serviceAccount,
    });
    locality = endpoint.locality;
  } else {
    Object.assign(metadata, { 'meshfed.io/kind': 'proxyless', [BENCH_METADATA.namespace]: namespaceOf(p), [BENCH_METADATA.serviceAccount]: `client-${p}` });
  }
  if (start.mtls) metadata['meshfed.io/mtls'] = 'true';
  return { id: `proxy-${String(p).padStart(5, '0')}`, cluster: 'bench', locality: { region: locality.region, zone: locality.zone }, metadata, userAgentName: 'meshfed-bench-ads' };
}

let clients: grpc.Client[] = [];
let stopping = false;
let progressTimer: NodeJS.Timeout | undefined;

function start(message: StartMessage): void {
  clients = Array.from(
    { length: message.channels },
    () =>
      new grpc.Client(message.address, grpc.credentials.createInsecure(), {
        // Own subchannel pool: each channel is its own HTTP/2 connection, as separate proxies would have.
        'grpc.use_local_subchannel_pool': 1,
        'grpc.max_receive_message_length': -1,
      }),
  );
  streams = Array.from({ length: message.proxies }, (_, p) => new AdsStream(p, clients[p % clients.length]!, nodeFor(p, message)));
  readyCpu = process.cpuUsage();
  openedAt = hrMs();
  for (const stream of streams) stream.open();
  progressTimer = setInterval(() => send({ type: 'progress', opened: stats.opened, ready: stats.ready, responses: stats.responses, bytes: stats.bytes, failed: stats.failed }), 1000);
}

function stop(): void {
  stopping = true;
  clearInterval(progressTimer);
  for (const stream of streams) stream.close();
  for (const client of clients) client.close();
  setTimeout(() => process.exit(0), 200).unref();
}

process.on('message', (message: ToClient) => {
  switch (message.type) {
    case 'start':
      start(message);
      break;
    case 'arm':
      armed = { change: message.change, left: streams.filter((s) => !s.failed).length, responses: 0, bytes: 0, otherTypeResponses: 0, edsBytes: 0, cpu: process.cpuUsage(), reported: false };
      for (const stream of streams) stream.arm();
      send({ type: 'armed', change: message.change });
      break;
    case 'collect':
      if (armed?.change === message.change) reportArmed();
      break;
    case 'memory':
      // A full GC, a pause (array buffer memory is freed on a background thread), another GC.
      gc();
      setTimeout(() => {
        gc();
        const m = process.memoryUsage();
        send({ type: 'memory', heapUsed: m.heapUsed, heapTotal: m.heapTotal, rss: m.rss, external: m.external, arrayBuffers: m.arrayBuffers, maxRss: process.resourceUsage().maxRSS * 1024 });
      }, 1000);
      break;
    case 'stop':
      stop();
      break;
  }
});

process.on('uncaughtException', (error) => {
  send({ type: 'failed', message: error.stack ?? String(error) });
  process.exit(1);
});
