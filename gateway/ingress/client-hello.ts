/**
 * Reads the server name (SNI) and ALPN protocols out of the first bytes a
 * TLS client sends, without terminating TLS (DESIGN.md, Data flow 5). Pure
 * and defensive: any input gives a result, never an exception, and the work
 * per call is linear in the input.
 *
 * Wire format (RFC 8446 §4.1.2, RFC 5246 §7.4.1.2, RFC 6066 §3, RFC 7301):
 *   record:     type(1)=22 version(2) length(2) fragment — a ClientHello may span several records
 *   handshake:  msg_type(1)=1 length(3) body
 *   body:       legacy_version(2) random(32) session_id<0..32> cipher_suites<2..2^16-2>
 *               compression_methods<1..2^8-1> [extensions<0..2^16-1>]
 */

export type ClientHelloResult =
  | { status: 'need-more' }
  | { status: 'ok'; sni: string | undefined; alpn: string[] }
  | { status: 'not-tls' | 'malformed'; reason: string };

/** Largest ClientHello accepted, record headers included. Real ones are 0.2–2 KiB (post-quantum key shares ~1.5 KiB). */
export const MAX_CLIENT_HELLO_BYTES = 16 * 1024;

const RECORD_HEADER = 5;
const HANDSHAKE_HEADER = 4;
const MAX_RECORD_FRAGMENT = 16 * 1024; // 2^14, RFC 8446 §5.1
const CONTENT_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;
const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;
const NAME_TYPE_HOST_NAME = 0;

const malformed = (reason: string): ClientHelloResult => ({ status: 'malformed', reason });
const notTls = (reason: string): ClientHelloResult => ({ status: 'not-tls', reason });
const NEED_MORE: ClientHelloResult = { status: 'need-more' };

/**
 * Decides what the bytes received so far are: a complete ClientHello (with
 * its SNI and ALPN), the start of one (`need-more`), something else
 * (`not-tls`), or a broken or oversized one (`malformed`). Bytes after the
 * ClientHello (early data, a ChangeCipherSpec) are ignored.
 */
export function parseClientHello(data: Uint8Array, options: { maxBytes?: number } = {}): ClientHelloResult {
  const maxBytes = options.maxBytes ?? MAX_CLIENT_HELLO_BYTES;
  const first = checkFirstRecordStart(data);
  if (first) return first;

  // Walk the record headers only (cheap), so a ClientHello arriving byte by byte costs O(records) per call.
  const fragments: Array<[start: number, end: number]> = [];
  let handshakeBytes = 0;
  let messageLength: number | undefined;
  let offset = 0;
  for (;;) {
    if (messageLength !== undefined && handshakeBytes >= HANDSHAKE_HEADER + messageLength) break;
    if (offset + RECORD_HEADER > maxBytes) return malformed(`ClientHello larger than ${maxBytes} bytes`);
    if (data.length < offset + RECORD_HEADER) return NEED_MORE;
    const type = data[offset]!;
    const major = data[offset + 1]!;
    const length = (data[offset + 3]! << 8) | data[offset + 4]!;
    if (type !== CONTENT_HANDSHAKE) return malformed(`record of type ${type} inside the ClientHello`);
    if (major !== 3) return malformed(`record version ${major}.${data[offset + 2]!} inside the ClientHello`);
    if (length === 0) return malformed('empty handshake record');
    if (length > MAX_RECORD_FRAGMENT) return malformed(`record of ${length} bytes exceeds 2^14`);
    const start = offset + RECORD_HEADER;
    offset = start + length;
    if (offset > maxBytes) return malformed(`ClientHello larger than ${maxBytes} bytes`);
    const end = Math.min(offset, data.length);
    fragments.push([start, end]);
    handshakeBytes += end - start;
    if (messageLength === undefined && handshakeBytes >= HANDSHAKE_HEADER) {
      const header = readSpan(data, fragments, 0, HANDSHAKE_HEADER);
      if (header[0] !== HANDSHAKE_CLIENT_HELLO) return malformed(`handshake message of type ${header[0]!}, not ClientHello`);
      messageLength = (header[1]! << 16) | (header[2]! << 8) | header[3]!;
      // Smallest room the records could take: one header per 2^14 bytes of handshake.
      const minimumTotal = HANDSHAKE_HEADER + messageLength + RECORD_HEADER * Math.ceil((HANDSHAKE_HEADER + messageLength) / MAX_RECORD_FRAGMENT);
      if (minimumTotal > maxBytes) return malformed(`ClientHello of ${messageLength} bytes exceeds ${maxBytes}`);
    }
    if (end < offset) return NEED_MORE;
  }
  const message = readSpan(data, fragments, HANDSHAKE_HEADER, messageLength);
  return parseClientHelloBody(message);
}

/** `not-tls` as early as the first bytes allow (an HTTP request is known from its first byte). */
function checkFirstRecordStart(data: Uint8Array): ClientHelloResult | undefined {
  if (data.length === 0) return NEED_MORE;
  const type = data[0]!;
  if (type & 0x80) return notTls('SSL 2.0 style ClientHello');
  if (type !== CONTENT_HANDSHAKE) return notTls(`first byte 0x${type.toString(16).padStart(2, '0')} is not a TLS handshake record`);
  if (data.length > 1 && data[1] !== 3) return notTls(`record version major ${data[1]!} is not 3`);
  if (data.length > 2 && data[2]! > 4) return notTls(`record version 3.${data[2]!} is unknown`);
  return undefined;
}

/** Bytes [from, from+length) of the handshake stream that `fragments` of `data` make up. */
function readSpan(data: Uint8Array, fragments: Array<[number, number]>, from: number, length: number): Uint8Array {
  if (fragments.length === 1) return data.subarray(fragments[0]![0] + from, fragments[0]![0] + from + length);
  const out = new Uint8Array(length);
  let skipped = 0;
  let written = 0;
  for (const [start, end] of fragments) {
    if (written === length) break;
    const size = end - start;
    if (skipped + size <= from) {
      skipped += size;
      continue;
    }
    const begin = start + Math.max(0, from - skipped);
    const take = Math.min(end - begin, length - written);
    out.set(data.subarray(begin, begin + take), written);
    written += take;
    skipped += size;
  }
  return out;
}

/** A bounds-checked reader: every read past the end sets `overrun` and yields zeros instead of throwing. */
class Reader {
  overrun = false;
  constructor(
    private readonly bytes: Uint8Array,
    public offset = 0,
    private readonly end = bytes.length,
  ) {}

  get remaining(): number {
    return this.end - this.offset;
  }

  u8(): number {
    if (this.remaining < 1) return this.fail();
    return this.bytes[this.offset++]!;
  }

  u16(): number {
    if (this.remaining < 2) return this.fail();
    const value = (this.bytes[this.offset]! << 8) | this.bytes[this.offset + 1]!;
    this.offset += 2;
    return value;
  }

  /** A sub-reader over the next `length` bytes (advancing past them). */
  take(length: number): Reader {
    if (this.remaining < length) {
      this.fail();
      return new Reader(this.bytes, this.end, this.end);
    }
    const sub = new Reader(this.bytes, this.offset, this.offset + length);
    this.offset += length;
    return sub;
  }

  bytesOf(length: number): Uint8Array {
    const sub = this.take(length);
    return this.bytes.subarray(sub.offset, sub.end);
  }

  private fail(): number {
    this.overrun = true;
    this.offset = this.end;
    return 0;
  }
}

function parseClientHelloBody(body: Uint8Array): ClientHelloResult {
  const r = new Reader(body);
  const truncated = malformed('ClientHello body truncated');
  const major = r.u8();
  r.u8(); // legacy_version minor: 1.0 to 1.2 seen in practice, TLS 1.3 pins it at 3.3
  if (r.overrun) return truncated;
  if (major !== 3) return malformed(`ClientHello version major ${major}`);
  r.take(32); // random
  const sessionIdLength = r.u8();
  if (r.overrun) return truncated;
  if (sessionIdLength > 32) return malformed(`session id of ${sessionIdLength} bytes`);
  r.take(sessionIdLength);
  const cipherSuitesLength = r.u16();
  if (r.overrun) return truncated;
  if (cipherSuitesLength < 2 || cipherSuitesLength % 2 !== 0) return malformed(`cipher suites length ${cipherSuitesLength}`);
  r.take(cipherSuitesLength);
  const compressionLength = r.u8();
  if (r.overrun) return truncated;
  if (compressionLength < 1) return malformed('no compression methods');
  r.take(compressionLength);
  if (r.overrun) return truncated;
  if (r.remaining === 0) return { status: 'ok', sni: undefined, alpn: [] }; // no extensions (pre-TLS 1.2 clients)

  const extensionsLength = r.u16();
  if (r.overrun || extensionsLength !== r.remaining) return malformed('extensions length does not match the ClientHello');
  const extensions = r.take(extensionsLength);
  const seen = new Set<number>();
  let sni: string | undefined;
  let alpn: string[] = [];
  while (extensions.remaining > 0) {
    const type = extensions.u16();
    const data = extensions.take(extensions.u16());
    if (extensions.overrun) return malformed('extension truncated');
    if (seen.has(type)) return malformed(`extension ${type} appears twice`);
    seen.add(type);
    if (type === EXT_SERVER_NAME) {
      const parsed = parseServerName(data);
      if (typeof parsed !== 'string' && parsed !== undefined) return parsed;
      sni = parsed;
    } else if (type === EXT_ALPN) {
      const parsed = parseAlpn(data);
      if (!Array.isArray(parsed)) return parsed;
      alpn = parsed;
    }
  }
  return { status: 'ok', sni, alpn };
}

/** server_name (RFC 6066 §3): the one host_name, if any; other name types are skipped. */
function parseServerName(data: Reader): string | undefined | ClientHelloResult {
  if (data.remaining === 0) return undefined; // the empty form a server echoes; tolerated from a client
  const listLength = data.u16();
  if (data.overrun || listLength !== data.remaining || listLength === 0) return malformed('server_name list length');
  let hostName: string | undefined;
  while (data.remaining > 0) {
    const nameType = data.u8();
    const name = data.bytesOf(data.u16());
    if (data.overrun) return malformed('server_name entry truncated');
    if (nameType !== NAME_TYPE_HOST_NAME) continue;
    if (hostName !== undefined) return malformed('more than one host_name in server_name');
    if (name.length === 0 || name.length > 255) return malformed(`host_name of ${name.length} bytes`);
    if (!name.every((b) => b > 0x20 && b < 0x7f)) return malformed('host_name is not printable ASCII');
    hostName = String.fromCharCode(...name);
  }
  return hostName;
}

/** application_layer_protocol_negotiation (RFC 7301 §3.1): a non-empty list of non-empty names. */
function parseAlpn(data: Reader): string[] | ClientHelloResult {
  const listLength = data.u16();
  if (data.overrun || listLength !== data.remaining || listLength < 2) return malformed('ALPN list length');
  const protocols: string[] = [];
  while (data.remaining > 0) {
    const name = data.bytesOf(data.u8());
    if (data.overrun || name.length === 0) return malformed('ALPN protocol name empty or truncated');
    protocols.push(Buffer.from(name).toString('latin1'));
  }
  return protocols;
}
