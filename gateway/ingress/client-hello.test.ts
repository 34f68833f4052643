import net from 'node:net';
import tls from 'node:tls';
import { beforeAll, describe, expect, it } from 'vitest';
import { MAX_CLIENT_HELLO_BYTES, parseClientHello, type ClientHelloResult } from './client-hello.js';

const SNI = '8443.echo.demo.acme.mesh';

/**
 * What `tls.connect` really sends: a plain `net` server takes the bytes of
 * the first flight (the client waits for a ServerHello after it) and hangs up.
 */
async function captureClientHello(options: tls.ConnectionOptions): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      server.once('connection', (socket) => {
        const chunks: Buffer[] = [];
        let quiet: NodeJS.Timeout | undefined;
        socket.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          clearTimeout(quiet);
          quiet = setTimeout(() => {
            socket.destroy();
            resolve(Buffer.concat(chunks));
          }, 100);
        });
      });
      const client = tls.connect({ host: '127.0.0.1', port, ...options });
      client.on('error', () => undefined);
      setTimeout(() => reject(new Error('no ClientHello within 5 s')), 5_000).unref();
    });
  } finally {
    server.close();
  }
}

/** Rewrites a ClientHello's records so that the handshake message is cut into fragments of these sizes (the last one takes the rest). */
function refragment(hello: Buffer, sizes: number[]): Buffer {
  const handshake: Buffer[] = [];
  for (let offset = 0; offset < hello.length; ) {
    const length = hello.readUInt16BE(offset + 3);
    handshake.push(hello.subarray(offset + 5, offset + 5 + length));
    offset += 5 + length;
  }
  const message = Buffer.concat(handshake);
  const records: Buffer[] = [];
  let offset = 0;
  for (const size of sizes) {
    if (offset >= message.length) break;
    records.push(record(message.subarray(offset, offset + size)));
    offset += size;
  }
  if (offset < message.length) records.push(record(message.subarray(offset)));
  return Buffer.concat(records);
}

function record(fragment: Buffer, type = 22): Buffer {
  const header = Buffer.from([type, 3, 1, 0, 0]);
  header.writeUInt16BE(fragment.length, 3);
  return Buffer.concat([header, fragment]);
}

const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
const vec8 = (b: Buffer) => Buffer.concat([Buffer.from([b.length]), b]);
const vec16 = (b: Buffer) => Buffer.concat([u16(b.length), b]);

interface HelloParts {
  version?: Buffer;
  sessionId?: Buffer;
  cipherSuites?: Buffer;
  compression?: Buffer;
  /** Each extension as [type, data]; undefined leaves the extensions block out entirely. */
  extensions?: Array<[number, Buffer]>;
  /** Raw bytes after compression methods, instead of `extensions`. */
  tail?: Buffer;
}

/** A ClientHello handshake message (header included) from parts, for the cases no real client sends. */
function handshakeMessage(parts: HelloParts = {}): Buffer {
  const body = Buffer.concat([
    parts.version ?? Buffer.from([3, 3]),
    Buffer.alloc(32, 7),
    vec8(parts.sessionId ?? Buffer.alloc(32, 1)),
    parts.cipherSuites ?? vec16(Buffer.from([0x13, 0x01, 0x13, 0x02])),
    parts.compression ?? vec8(Buffer.from([0])),
    parts.tail ?? (parts.extensions ? vec16(Buffer.concat(parts.extensions.map(([type, data]) => Buffer.concat([u16(type), vec16(data)])))) : Buffer.alloc(0)),
  ]);
  const header = Buffer.from([1, 0, 0, 0]);
  header.writeUIntBE(body.length, 1, 3);
  return Buffer.concat([header, body]);
}

const sniExtension = (...names: Array<string | [number, string]>): [number, Buffer] => [
  0,
  vec16(Buffer.concat(names.map((n): [number, string] => (typeof n === 'string' ? [0, n] : n)).map(([type, name]) => Buffer.concat([Buffer.from([type]), vec16(Buffer.from(name, 'latin1'))])))),
];
const alpnExtension = (...protocols: string[]): [number, Buffer] => [16, vec16(Buffer.concat(protocols.map((p) => vec8(Buffer.from(p)))))];
const hello = (parts: HelloParts = {}) => record(handshakeMessage(parts));

/** A small deterministic PRNG (mulberry32), so a failing fuzz case can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Parses fuzz input; fails with the case's label if the parser throws or answers something outside its type. Plain checks: `expect` is slow in loops of 20,000. */
function parseFuzzed(input: Uint8Array, label: string): void {
  let result: ClientHelloResult;
  try {
    result = parseClientHello(input);
  } catch (error) {
    throw new Error(`${label}: parser threw ${String(error)} on ${Buffer.from(input).toString('hex')}`);
  }
  const valid =
    result.status === 'need-more' ||
    (result.status === 'ok' && (result.sni === undefined || typeof result.sni === 'string') && result.alpn.every((p) => typeof p === 'string')) ||
    ((result.status === 'not-tls' || result.status === 'malformed') && typeof result.reason === 'string' && result.reason.length > 0);
  if (!valid) throw new Error(`${label}: unexpected result ${JSON.stringify(result)}`);
}

describe('parseClientHello on ClientHellos captured from Node tls.connect', () => {
  const captured: Record<string, Buffer> = {};

  beforeAll(async () => {
    captured.tls13 = await captureClientHello({ servername: SNI, minVersion: 'TLSv1.3' });
    captured.tls13alpn = await captureClientHello({ servername: SNI, ALPNProtocols: ['h2', 'http/1.1'] });
    captured.tls12 = await captureClientHello({ servername: SNI, maxVersion: 'TLSv1.2', ALPNProtocols: ['http/1.1'] });
    captured.noSni = await captureClientHello({}); // an IP host: Node sends no server_name
  });

  it('reads SNI and ALPN from TLS 1.3 and TLS 1.2 ClientHellos', () => {
    expect(parseClientHello(captured.tls13!)).toEqual({ status: 'ok', sni: SNI, alpn: [] });
    expect(parseClientHello(captured.tls13alpn!)).toEqual({ status: 'ok', sni: SNI, alpn: ['h2', 'http/1.1'] });
    expect(parseClientHello(captured.tls12!)).toEqual({ status: 'ok', sni: SNI, alpn: ['http/1.1'] });
    expect(parseClientHello(captured.noSni!)).toEqual({ status: 'ok', sni: undefined, alpn: [] });
    expect(captured.tls12![2]).toBe(1); // record version 3.1 even for TLS 1.2/1.3 clients
  });

  it('answers need-more for every strict prefix, the same result for the whole, and ignores what follows', () => {
    for (const name of ['tls13', 'tls13alpn', 'tls12', 'noSni']) {
      const bytes = captured[name]!;
      const whole = parseClientHello(bytes);
      for (let cut = 0; cut < bytes.length; cut++) expect(parseClientHello(bytes.subarray(0, cut)), `${name} cut at ${cut}`).toEqual({ status: 'need-more' });
      const changeCipherSpec = record(Buffer.from([1]), 20);
      expect(parseClientHello(Buffer.concat([bytes, changeCipherSpec, Buffer.from('early data')]))).toEqual(whole);
    }
  });

  it('reassembles a ClientHello split across several TLS records, even through its handshake header', () => {
    const bytes = captured.tls13alpn!;
    const expected = { status: 'ok', sni: SNI, alpn: ['h2', 'http/1.1'] };
    for (const sizes of [[1], [2, 1, 1], [3], [4], [100, 100], Array<number>(400).fill(1), [7, 13, 29, 50]]) {
      const split = refragment(bytes, sizes);
      expect(split.length).toBeGreaterThan(bytes.length);
      expect(parseClientHello(split), `sizes ${sizes.slice(0, 5).join(',')}`).toEqual(expected);
      for (let cut = 0; cut < split.length; cut += 3) expect(parseClientHello(split.subarray(0, cut))).toEqual({ status: 'need-more' });
    }
  });

  it('gets the same answer when the bytes arrive in TCP chunks of any size', () => {
    const random = prng(42);
    const bytes = refragment(captured.tls12!, [60, 10, 200]);
    for (let round = 0; round < 200; round++) {
      let received = Buffer.alloc(0);
      let result: ClientHelloResult = { status: 'need-more' };
      for (let offset = 0; offset < bytes.length; ) {
        const size = 1 + Math.floor(random() * 40);
        received = Buffer.concat([received, bytes.subarray(offset, offset + size)]);
        offset += size;
        result = parseClientHello(received);
        if (offset < bytes.length) expect(result.status).toBe('need-more');
      }
      expect(result).toEqual({ status: 'ok', sni: SNI, alpn: ['http/1.1'] });
    }
  });

  it('refuses a real ClientHello larger than the configured cap', () => {
    const bytes = captured.tls13!;
    expect(parseClientHello(bytes, { maxBytes: bytes.length - 1 }).status).toBe('malformed');
    expect(parseClientHello(bytes, { maxBytes: bytes.length }).status).toBe('ok');
    // Known too large from the first record header already, before the rest arrives.
    expect(parseClientHello(bytes.subarray(0, 9), { maxBytes: 100 }).status).toBe('malformed');
  });

  it('never throws on mutations and truncations of real ClientHellos', () => {
    const random = prng(7);
    const sources = Object.values(captured).map((b) => refragment(b, [30, 200]));
    for (let i = 0; i < 50_000; i++) {
      const source = sources[i % sources.length]!;
      const bytes = Buffer.from(source);
      const flips = 1 + Math.floor(random() * 4);
      for (let f = 0; f < flips; f++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
      const cut = random() < 0.3 ? Math.floor(random() * bytes.length) : bytes.length;
      parseFuzzed(bytes.subarray(0, cut), `seed 7 case ${i}`);
    }
  });
});

describe('parseClientHello on crafted input', () => {
  it('reads SNI, ALPN and the TLS 1.0-style ClientHello without extensions', () => {
    expect(parseClientHello(hello({ extensions: [sniExtension('a.example'), alpnExtension('h2')] }))).toEqual({ status: 'ok', sni: 'a.example', alpn: ['h2'] });
    expect(parseClientHello(hello())).toEqual({ status: 'ok', sni: undefined, alpn: [] });
    expect(parseClientHello(hello({ extensions: [[0xff01, Buffer.from([0])], [0, Buffer.alloc(0)]] }))).toEqual({ status: 'ok', sni: undefined, alpn: [] });
    // Unknown name types are skipped; the host_name is still found.
    expect(parseClientHello(hello({ extensions: [sniExtension([7, 'x'], 'b.example')] }))).toMatchObject({ status: 'ok', sni: 'b.example' });
    expect(parseClientHello(hello({ sessionId: Buffer.alloc(0) }))).toMatchObject({ status: 'ok' });
  });

  it('tells what is not TLS at the first bytes', () => {
    for (const text of ['GET / HTTP/1.1\r\nHost: x\r\n\r\n', 'SSH-2.0-OpenSSH_9.2\r\n', 'PRI * HTTP/2.0\r\n', '\0']) {
      expect(parseClientHello(Buffer.from(text)).status, text).toBe('not-tls');
    }
    expect(parseClientHello(Buffer.from([0x80, 0x2e, 0x01, 0x03, 0x01])).status).toBe('not-tls'); // SSL 2.0 framing
    expect(parseClientHello(Buffer.from([0x17])).status).toBe('not-tls'); // application data first
    expect(parseClientHello(Buffer.from([0x16, 0x02])).status).toBe('not-tls');
    expect(parseClientHello(Buffer.from([0x16, 0x03, 0x09])).status).toBe('not-tls');
    expect(parseClientHello(Buffer.from([0x16])).status).toBe('need-more');
    expect(parseClientHello(Buffer.alloc(0)).status).toBe('need-more');
  });

  const malformedCases: Array<[string, Buffer, string]> = [
    ['a handshake other than ClientHello', record(Buffer.from([2, 0, 0, 4, 3, 3, 0, 0])), 'not ClientHello'],
    ['an empty handshake record', Buffer.concat([record(Buffer.alloc(0)), hello()]), 'empty handshake record'],
    ['a record over 2^14 bytes', Buffer.from([22, 3, 1, 0x40, 0x01]), 'exceeds 2^14'],
    ['an alert between the fragments', Buffer.concat([record(handshakeMessage().subarray(0, 10)), record(Buffer.from([2, 40]), 21)]), 'record of type 21'],
    ['a second record of another version', Buffer.concat([record(handshakeMessage().subarray(0, 10)), Buffer.from([22, 2, 0, 0, 1, 0])]), 'record version 2.0'],
    ['a handshake length beyond the cap', Buffer.from([22, 3, 1, 0, 4, 1, 0, 0x50, 0]), 'exceeds 16384'],
    ['a ClientHello version major not 3', hello({ version: Buffer.from([2, 0]) }), 'version major 2'],
    ['a 33-byte session id', hello({ sessionId: Buffer.alloc(33) }), 'session id of 33'],
    ['an odd cipher suites length', hello({ cipherSuites: vec16(Buffer.from([0x13, 0x01, 0x13])) }), 'cipher suites length 3'],
    ['no cipher suites', hello({ cipherSuites: vec16(Buffer.alloc(0)) }), 'cipher suites length 0'],
    ['no compression methods', hello({ compression: vec8(Buffer.alloc(0)) }), 'no compression methods'],
    ['a truncated body', record(Buffer.concat([Buffer.from([1, 0, 0, 16, 3, 3]), Buffer.alloc(14, 7)])), 'truncated'],
    ['an extensions length too long', hello({ tail: Buffer.concat([u16(50), u16(0), u16(0)]) }), 'extensions length'],
    ['an extensions length too short', hello({ tail: Buffer.concat([u16(2), u16(0), u16(0)]) }), 'extensions length'],
    ['one lone byte of extensions', hello({ tail: Buffer.from([0]) }), 'extensions length'],
    ['an extension overrunning the block', hello({ tail: vec16(Buffer.concat([u16(0), u16(9), Buffer.alloc(3)])) }), 'extension truncated'],
    ['a duplicated extension', hello({ extensions: [alpnExtension('h2'), alpnExtension('h2')] }), 'appears twice'],
    ['two host_names', hello({ extensions: [sniExtension('a.example', 'b.example')] }), 'more than one host_name'],
    ['an empty host_name', hello({ extensions: [sniExtension('')] }), 'host_name of 0 bytes'],
    ['a host_name with a NUL', hello({ extensions: [sniExtension('a.example\0.evil')] }), 'printable ASCII'],
    ['a host_name with a space', hello({ extensions: [sniExtension('a example')] }), 'printable ASCII'],
    ['a non-ASCII host_name', hello({ extensions: [sniExtension('é.example')] }), 'printable ASCII'],
    ['a host_name over 255 bytes', hello({ extensions: [sniExtension('a'.repeat(256))] }), 'host_name of 256 bytes'],
    ['a server_name list length off by one', hello({ extensions: [[0, Buffer.concat([u16(10), Buffer.from([0]), vec16(Buffer.from('a.example'))])]] }), 'server_name list length'],
    ['an empty server_name list', hello({ extensions: [[0, u16(0)]] }), 'server_name list length'],
    ['a server_name entry overrunning its list', hello({ extensions: [[0, vec16(Buffer.concat([Buffer.from([0]), u16(40), Buffer.from('abc')]))]] }), 'server_name entry truncated'],
    ['an empty ALPN list', hello({ extensions: [[16, vec16(Buffer.alloc(0))]] }), 'ALPN list length'],
    ['an empty ALPN protocol', hello({ extensions: [alpnExtension('h2', '')] }), 'ALPN protocol name'],
    ['an ALPN name overrunning its list', hello({ extensions: [[16, vec16(Buffer.from([5, 0x68, 0x32]))]] }), 'ALPN protocol name'],
    ['an ALPN extension without its list', hello({ extensions: [[16, Buffer.from([0])]] }), 'ALPN list length'],
  ];

  it.each(malformedCases)('refuses %s as malformed', (_name, bytes, reason) => {
    expect(parseClientHello(bytes)).toMatchObject({ status: 'malformed', reason: expect.stringContaining(reason) });
  });

  it('enforces the 16 KiB cap across many records', () => {
    const big = handshakeMessage({ extensions: [sniExtension('a.example'), [0xfe00, Buffer.alloc(15_000)]] });
    expect(parseClientHello(refragment(record(big), [8_000]))).toMatchObject({ status: 'ok', sni: 'a.example' });
    expect(parseClientHello(refragment(record(big), [100]))).toMatchObject({ status: 'ok' }); // 151 records: 755 header bytes, still under 16 KiB
    const tooBig = handshakeMessage({ extensions: [[0xfe00, Buffer.alloc(16_400)]] });
    expect(parseClientHello(refragment(record(tooBig), [8_000]))).toMatchObject({ status: 'malformed' });
    // Tiny records: the header bytes push it over the cap, noticed without waiting for the rest.
    const tiny = refragment(record(big), [4, ...Array<number>(5_000).fill(1)]);
    expect(parseClientHello(tiny)).toMatchObject({ status: 'malformed' });
    expect(parseClientHello(tiny.subarray(0, MAX_CLIENT_HELLO_BYTES + 1))).toMatchObject({ status: 'malformed' });
  });

  it('never throws on random bytes', () => {
    const random = prng(1234);
    for (let i = 0; i < 50_000; i++) {
      const length = Math.floor(random() * (i % 10 === 0 ? 20_000 : 600));
      const bytes = Buffer.alloc(length);
      for (let j = 0; j < length; j++) bytes[j] = Math.floor(random() * 256);
      // Most random bytes fail at byte 0; make half of them look like a handshake record to reach deeper.
      if (i % 2 === 0 && length >= 9) {
        bytes.set([22, 3, Math.floor(random() * 5)], 0);
        bytes.writeUInt16BE(Math.min(length - 5, Math.floor(random() * 17_000)), 3);
        bytes[5] = 1;
      }
      parseFuzzed(bytes, `seed 1234 case ${i}`);
    }
  });
});
