/**
 * Reads a V8 CPU profile (`node --cpu-prof`) of the zone CP and tells where
 * its main thread spent the measured windows, in a few categories.
 *
 * Sample times in a .cpuprofile are V8 TimeTicks in µs; on Linux both they and
 * `process.hrtime.bigint()` read CLOCK_MONOTONIC, so windows recorded by the
 * bench in another process line up with the zone CP's samples.
 *
 * Only the main JS thread is sampled: ECDSA signing and verifying run in
 * libuv's thread pool (WebCrypto jobs) and do not appear here.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Ordered: a sample goes to the first category any frame of its stack matches. */
const CATEGORIES: Array<[string, (fn: string, url: string) => boolean]> = [
  ['GC', (fn) => fn === '(garbage collector)'],
  ['signSvid: certificate building (@peculiar/x509, ASN.1), sign dispatch', (fn, url) => fn === 'signSvid' && url.includes('core/pki/authority')],
  ['readCsr: CSR parse, signature check dispatch', (fn, url) => fn === 'readCsr' && url.includes('core/pki/authority')],
  ['SvidIssuer: requestedUris (SAN parse)', (fn, url) => fn === 'requestedUris' && url.includes('core/pki/authority')],
  ['IntermediateKeeper.signer: parse of the intermediate PEM', (fn, url) => fn === 'signer' && url.includes('zone-cp/certs/intermediates')],
  ['SvidIssuer: isSelfSigned (parse of each chain PEM)', (fn, url) => fn === 'isSelfSigned' && url.includes('zone-cp/certs/svid-issuer')],
  ['SvidIssuer: rest (metrics, chain assembly)', (_fn, url) => url.includes('zone-cp/certs/svid-issuer')],
  // Work of the x509 library resumed after an await (WebCrypto calls are async) has no meshfed frame on its stack.
  ['@peculiar/x509 + ASN.1, resumed after an await (caller not on the stack)', (_fn, url) => /node_modules\/(@peculiar\/|asn1js|pvtsutils|pvutils|tsyringe|tslib|reflect-metadata)/.test(url)],
  ['WebCrypto dispatch, key import (node:internal/crypto), caller not on the stack', (_fn, url) => url.startsWith('node:internal/crypto')],
  ['dataplane token check', (fn) => fn === 'verifyDataplaneToken' || fn === 'bearerToken'],
  ['certificate service handler (rest)', (_fn, url) => url.includes('zone-cp/grpc/certificate-service')],
  ['protobuf (de)serialization', (_fn, url) => url.includes('protobufjs') || url.includes('@grpc/proto-loader')],
  ['gRPC-js + HTTP/2 (incl. TLS writes made from them)', (_fn, url) => url.includes('@grpc/grpc-js') || url.includes('internal/http2') || url.startsWith('node:http2')],
  ['TLS / net (node internals)', (_fn, url) => /node:(_tls|tls|net|internal\/tls|internal\/stream_base|internal\/streams)/.test(url) || url.includes('_tls_')],
  ['logging (pino)', (_fn, url) => url.includes('/pino')],
  ['module loading (tsx)', (_fn, url) => url.startsWith('node:internal/modules') || url.includes('node_modules/tsx/')],
  ['(program): native work outside JS frames (TLS reads, libuv, ...)', (fn) => fn === '(program)'],
  ['idle', (fn) => fn === '(idle)'],
];

export interface ProfileShare {
  category: string;
  ms: number;
  /** of the non-idle sampled time */
  percent: number;
}

/** The main thread's profile of process `pid`: files are named CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile, thread 0 is the main one (tsx's loader hooks run on a worker thread). */
export function mainThreadProfile(dir: string, pid: number): string | undefined {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile') && f.split('.')[3] === String(pid) && f.split('.')[4] === '0').sort();
  return files.length ? join(dir, files.at(-1)!) : undefined;
}

/** Sampled main-thread time per category within the windows (ns, CLOCK_MONOTONIC); also the share of samples that fell in them. */
export function summarizeProfile(file: string, windowsNs: Array<[bigint, bigint]>): { shares: ProfileShare[]; sampledMs: number; busyMs: number } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const categoryOfNode = new Map<number, string>();
  const categorize = (id: number): string => {
    const cached = categoryOfNode.get(id);
    if (cached) return cached;
    const frames: Array<[string, string]> = [];
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const frame = byId.get(cur)!.callFrame;
      frames.push([frame.functionName, frame.url]);
    }
    const found = CATEGORIES.find(([, match]) => frames.some(([fn, url]) => match(fn, url)))?.[0] ?? 'other JS';
    categoryOfNode.set(id, found);
    return found;
  };
  const windows = windowsNs.map(([a, b]) => [Number(a / 1000n), Number(b / 1000n)] as const);
  const totals = new Map<string, number>();
  let at = profile.startTime;
  let sampled = 0;
  for (const [i, id] of profile.samples.entries()) {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (!windows.some(([a, b]) => at >= a && at <= b)) continue;
    // A sample stands for the interval up to the next one.
    const weight = profile.timeDeltas[i + 1] ?? delta;
    sampled += weight;
    const category = categorize(id);
    totals.set(category, (totals.get(category) ?? 0) + weight);
  }
  const busy = sampled - (totals.get('idle') ?? 0);
  const shares = [...totals]
    .map(([category, us]) => ({ category, ms: us / 1000, percent: category === 'idle' ? Number.NaN : (100 * us) / Math.max(1, busy) }))
    .sort((a, b) => b.ms - a.ms);
  return { shares, sampledMs: sampled / 1000, busyMs: busy / 1000 };
}
