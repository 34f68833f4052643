import { describe, expect, it } from 'vitest';
import { parseCount, parseDurationFlag, parseFederationId, parseListenAddress, parseUrl } from './config.js';
import { ConfigError } from './errors.js';

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('parseDurationFlag', () => {
  it.each([
    ['250ms', 250],
    ['5s', 5000],
    ['1m', 60_000],
    ['1m30s', 90_000],
  ])('reads %s as %d ms', (text, ms) => {
    expect(parseDurationFlag('--interval', text, 0)).toBe(ms);
  });

  it('accepts exactly the minimum', () => {
    expect(parseDurationFlag('--interval', '100ms', 100)).toBe(100);
  });

  it('refuses less than the minimum, naming the flag and the minimum', () => {
    expect(configError(() => parseDurationFlag('--heartbeat-interval', '99ms', 100)).message).toBe('--heartbeat-interval: must be at least 100 ms');
  });

  it.each(['', '5', 'abc', '5 s', '-1s', '1d', 's'])('refuses %j as not a duration', (text) => {
    const message = configError(() => parseDurationFlag('--interval', text, 0)).message;
    expect(message).toBe(`--interval: "${text}" is not a duration like 500ms, 5s or 1m`);
  });
});

describe('parseCount', () => {
  it.each([
    ['1', 1],
    ['42', 42],
    ['1000000', 1_000_000],
  ])('reads %s as %d', (text, n) => {
    expect(parseCount('--zones', text)).toBe(n);
  });

  it.each(['0', '-1', '1.5', 'abc', '', 'NaN', 'Infinity'])('refuses %j, naming the flag and the value', (text) => {
    expect(configError(() => parseCount('--zones', text)).message).toBe(`--zones: "${text}" must be a whole number of at least 1`);
  });
});

describe('parseFederationId', () => {
  it.each(['meshfed', 'a', '0', 'fed_1-x', 'a'.repeat(32)])('accepts %j', (id) => {
    expect(parseFederationId(id)).toBe(id);
  });

  it.each(['', 'Meshfed', '-fed', '_fed', 'a.b', 'a b', 'a*', 'a>', 'a'.repeat(33), 'fed\n'])('refuses %j', (id) => {
    expect(configError(() => parseFederationId(id)).message).toMatch(/^--federation-id: .* must be 1-32 lowercase letters, digits, - or _$/s);
  });
});

describe('parseListenAddress', () => {
  it.each([
    ['127.0.0.1:5681', { host: '127.0.0.1', port: 5681 }],
    ['[::1]:5681', { host: '::1', port: 5681 }],
    ['[::]:80', { host: '::', port: 80 }],
    [':5681', { host: '0.0.0.0', port: 5681 }],
    ['localhost:1', { host: 'localhost', port: 1 }],
    ['0.0.0.0:65535', { host: '0.0.0.0', port: 65535 }],
    ['127.0.0.1:0', { host: '127.0.0.1', port: 0 }],
  ])('reads %s', (text, address) => {
    expect(parseListenAddress('--listen', text)).toEqual(address);
  });

  it.each(['5681', '127.0.0.1', '127.0.0.1:', '127.0.0.1:65536', '127.0.0.1:99999', '127.0.0.1:123456', '::1:5681', '[::1]5681', '127.0.0.1:-1', 'host:port', '', '[zz]:80'])(
    'refuses %j, naming the flag and giving an example',
    (text) => {
      expect(configError(() => parseListenAddress('--xds-listen', text)).message).toBe(`--xds-listen: "${text}" is not host:port (e.g. 127.0.0.1:5681)`);
    },
  );
});

describe('parseUrl', () => {
  it('returns the parsed URL when the scheme is allowed', () => {
    const url = parseUrl('--redis', 'redis://:secret@127.0.0.1:6380/2', ['redis', 'rediss']);
    expect(url).toBeInstanceOf(URL);
    expect(url.hostname).toBe('127.0.0.1');
    expect(url.port).toBe('6380');
    expect(parseUrl('--redis', 'rediss://cache.example:6379', ['redis', 'rediss']).protocol).toBe('rediss:');
  });

  it('refuses another scheme, listing the allowed ones', () => {
    expect(configError(() => parseUrl('--nats', 'http://127.0.0.1:4222', ['nats', 'tls'])).message).toBe('--nats: "http://127.0.0.1:4222" must use nats:// or tls://');
  });

  it('refuses what is not a URL, with an example in the first scheme', () => {
    expect(configError(() => parseUrl('--nats', '127.0.0.1:4222x y', ['nats'])).message).toBe('--nats: "127.0.0.1:4222x y" is not a URL (e.g. nats://127.0.0.1)');
    expect(configError(() => parseUrl('--global', '', ['http', 'https'])).message).toBe('--global: "" is not a URL (e.g. http://127.0.0.1)');
  });
});
