/**
 * W3C Trace Context level 1, `traceparent` only: parse the incoming header
 * and derive the one the proxy sends upstream (same trace, the proxy's own
 * span as parent). Pure; randomness is injected.
 *
 * `tracestate` is deliberately not handled here: the proxy forwards it
 * exactly as received (it adds no vendor entry), which the spec allows.
 * If the incoming `traceparent` is invalid and a fresh trace is started,
 * the spec says `tracestate` MAY be dropped; meshfed forwards it anyway and
 * leaves that judgement to the vendors that own its entries.
 */
import { randomFillSync } from 'node:crypto';

export interface Traceparent {
  /** Two lowercase hex digits; `00` for level 1, higher ones are future versions. */
  readonly version: string;
  /** 32 lowercase hex digits, not all zero. */
  readonly traceId: string;
  /** 16 lowercase hex digits, not all zero: the caller's span. */
  readonly parentId: string;
  /** Two lowercase hex digits; bit 0x01 is `sampled`. */
  readonly flags: string;
}

export interface ChildTraceparent {
  /** The header value to send upstream (always version 00). */
  readonly traceparent: string;
  readonly traceId: string;
  /** The proxy's span: the parent-id of `traceparent`. */
  readonly spanId: string;
  /** The incoming parent-id, absent when a fresh trace was started. */
  readonly parentSpanId?: string;
}

export type RandomBytes = (size: number) => Uint8Array;

/** Flags a fresh trace starts with: sampled. */
export const FRESH_TRACE_FLAGS = '01';

/**
 * Flag bits the proxy propagates: sampled (0x01), and random-trace-id
 * (0x02, Trace Context level 2), which stays true because the trace id is
 * kept. Level 1 requires the other, reserved bits to be sent as zero.
 */
const KNOWN_FLAG_BITS = 0x03;

/** `version-traceid-parentid-flags`, version 00's exact length. */
const LENGTH_V00 = 55;
const FIELDS = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
const ALL_ZERO = /^0+$/;
/** Optional whitespace (SP / HTAB) around a header value, as HTTP allows. */
const OWS = /^[ \t]+|[ \t]+$/g;

/**
 * Parses a `traceparent` header value strictly: lowercase hex, exact field
 * lengths, trace and parent ids not all zero, version `ff` invalid, version
 * 00 exactly 55 characters. A higher version is accepted when its first 55
 * characters parse and it either ends there or continues with `-`.
 * Returns undefined for anything else, and the caller starts a new trace.
 */
export function parseTraceparent(value: string | undefined): Traceparent | undefined {
  if (value === undefined) return undefined;
  const header = value.replace(OWS, '');
  if (header.length < LENGTH_V00) return undefined;
  const version = header.slice(0, 2);
  if (version === 'ff') return undefined;
  if (version === '00' && header.length !== LENGTH_V00) return undefined;
  if (header.length > LENGTH_V00 && header[LENGTH_V00] !== '-') return undefined;
  if (!FIELDS.test(header.slice(0, LENGTH_V00))) return undefined;
  const traceId = header.slice(3, 35);
  const parentId = header.slice(36, 52);
  if (ALL_ZERO.test(traceId) || ALL_ZERO.test(parentId)) return undefined;
  return { version, traceId, parentId, flags: header.slice(53, 55) };
}

/** Whether the caller asked for this trace to be recorded. */
export function isSampled(traceparent: Traceparent): boolean {
  return (parseInt(traceparent.flags, 16) & 0x01) === 0x01;
}

/**
 * The `traceparent` to send upstream: the incoming trace id and flags (the
 * reserved bits cleared) with a new span id as parent-id; or, when the
 * incoming header is absent or invalid, a fresh trace, sampled.
 */
/**
 * Random bytes from a pool refilled 4 KiB at a time: one system call per
 * ~170 requests instead of two per request (ids need randomness, not secrecy).
 */
const POOL_SIZE = 4096;
const pool = Buffer.alloc(POOL_SIZE);
let poolOffset = POOL_SIZE;
export function pooledRandomBytes(size: number): Uint8Array {
  if (poolOffset + size > POOL_SIZE) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const bytes = pool.subarray(poolOffset, poolOffset + size);
  poolOffset += size;
  return bytes;
}

export function childTraceparent(incoming: string | undefined, randomBytes: RandomBytes = pooledRandomBytes): ChildTraceparent {
  const parent = parseTraceparent(incoming);
  const spanId = nonZeroHex(randomBytes(8));
  if (parent) {
    const flags = (parseInt(parent.flags, 16) & KNOWN_FLAG_BITS).toString(16).padStart(2, '0');
    return { traceparent: format(parent.traceId, spanId, flags), traceId: parent.traceId, spanId, parentSpanId: parent.parentId };
  }
  const traceId = nonZeroHex(randomBytes(16));
  return { traceparent: format(traceId, spanId, FRESH_TRACE_FLAGS), traceId, spanId };
}

function format(traceId: string, spanId: string, flags: string): string {
  return `00-${traceId}-${spanId}-${flags}`;
}

/** Hex of random bytes; an all-zero draw (invalid as an id) gets its last bit set. */
function nonZeroHex(bytes: Uint8Array): string {
  const hex = (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes)).toString('hex');
  return ALL_ZERO.test(hex) ? `${hex.slice(0, -1)}1` : hex;
}
