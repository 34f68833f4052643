import { describe, expect, it } from 'vitest';
import { redactUrl } from '../../core/config.js';
import { ConfigError } from '../../core/errors.js';
import { parseRedisTarget } from './redis-target.js';

function configError(value: string): string {
  try {
    parseRedisTarget(value);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  }
  throw new Error(`expected a ConfigError for ${value}`);
}

describe('parseRedisTarget: one Redis', () => {
  it.each([
    ['redis://127.0.0.1:6379', { host: '127.0.0.1', port: 6379 }],
    ['redis://redis.internal', { host: 'redis.internal', port: 6379 }],
    ['redis://127.0.0.1:6380/', { host: '127.0.0.1', port: 6380 }],
    ['redis://[::1]:6379/2', { host: '::1', port: 6379, db: 2 }],
    ['redis://:s%40cret@h:1/0', { host: 'h', port: 1, password: 's@cret', db: 0 }],
    ['redis://meshfed:pw@h', { host: 'h', port: 6379, username: 'meshfed', password: 'pw' }],
    ['rediss://h:6380', { host: 'h', port: 6380, tls: {} }],
    ['REDIS://h', { host: 'h', port: 6379 }],
  ])('%s', (url, options) => {
    const target = parseRedisTarget(url);
    expect(target.mode).toBe('standalone');
    expect(target.options).toEqual(options);
  });

  it.each([
    ['redis://h:6379/x', 'has the path "x", which is not a database number'],
    ['redis://h:6379/1/2', 'has the path "1/2", which is not a database number'],
    ['redis://h:6379?db=1', 'takes no query parameters (the database goes in the path'],
    ['redis://h:0', 'has port 0'],
    ['redis:///0', 'names no host'],
    ['redis://:pa/ss@h', 'has an "@" after its host: percent-encode'],
    ['redis://h:99999', 'is not a URL'],
  ])('refuses %s', (url, problem) => {
    expect(configError(url)).toContain(problem);
  });
});

describe('parseRedisTarget: Redis Sentinel', () => {
  it('reads sentinels, master name, passwords, db and tls into ioredis Sentinel options', () => {
    const target = parseRedisTarget('redis-sentinel://:p%40ss@10.0.0.1:26379,10.0.0.2,[fd00::3]:26380/my-master?db=3&sentinelPassword=s%26p&sentinelUsername=watcher&tls=true');
    expect(target.mode).toBe('sentinel');
    expect(target.options).toEqual({
      sentinels: [
        { host: '10.0.0.1', port: 26379 },
        { host: '10.0.0.2', port: 26379 },
        { host: 'fd00::3', port: 26380 },
      ],
      name: 'my-master',
      password: 'p@ss',
      db: 3,
      sentinelPassword: 's&p',
      sentinelUsername: 'watcher',
      tls: {},
      enableTLSForSentinelMode: true,
      sentinelTLS: {},
      failoverDetector: true,
    });
    expect(target.shown).toBe('redis-sentinel://:***@10.0.0.1:26379,10.0.0.2,[fd00::3]:26380/my-master?db=3&sentinelPassword=***&sentinelUsername=watcher&tls=true');
  });

  it('needs only one sentinel and the master name', () => {
    expect(parseRedisTarget('redis-sentinel://127.0.0.1/mymaster').options).toEqual({ sentinels: [{ host: '127.0.0.1', port: 26379 }], name: 'mymaster', failoverDetector: true });
    expect(parseRedisTarget('redis-sentinel://u:pw@s1:1/m?tls=false').options).toEqual({ sentinels: [{ host: 's1', port: 1 }], name: 'm', username: 'u', password: 'pw', failoverDetector: true });
  });

  it.each([
    ['redis-sentinel:///mymaster', 'names no sentinel'],
    ['redis-sentinel://h1:26379', 'names no master'],
    ['redis-sentinel://h1:26379/', 'names no master'],
    ['redis-sentinel://h1:26379/mymaster/2', 'has a bad master name "mymaster/2": the path is the master name only; choose a database with ?db=N'],
    ['redis-sentinel://h1:26379,,h2/mymaster', 'has a bad sentinel address ""'],
    ['redis-sentinel://h1:26379,h2:x/mymaster', 'has a bad sentinel address "h2:x"'],
    ['redis-sentinel://h1:70000/mymaster', 'has a bad sentinel address "h1:70000"'],
    ['redis-sentinel://h1:0/mymaster', 'has a bad sentinel address "h1:0"'],
    ['redis-sentinel://h1/mymaster?db=two', 'has db "two", which is not a database number'],
    ['redis-sentinel://h1/mymaster?db=1&db=2', 'gives "db" twice'],
    ['redis-sentinel://h1/mymaster?role=slave', 'has an unknown parameter "role" (known: db, sentinelPassword, sentinelUsername, tls)'],
    ['redis-sentinel://h1/mymaster?tls=yes', 'has tls that is neither true nor false'],
    ['redis-sentinel://h1/mymaster?sentinelPassword=', 'has an empty "sentinelPassword"'],
    ['redis-sentinel://:%zz@h1/mymaster', 'has a badly percent-encoded password'],
    ['rediss-sentinel://h1/mymaster', 'for Sentinel over TLS write redis-sentinel://…?tls=true'],
    ['redis-sentinel://h1/mymaster?sentinelUsername=a@b', 'has an "@" after its host: percent-encode "@"'],
  ])('refuses %s', (url, problem) => {
    expect(configError(url)).toContain(problem);
  });
});

describe('parseRedisTarget: everything else', () => {
  it('refuses Redis Cluster, saying why and what to use instead', () => {
    const message = configError('redis-cluster://:pw@h1:7000,h2:7000');
    expect(message).toMatch(/^--redis: "redis-cluster:\/\/:\*\*\*@h1:7000,h2:7000" asks for Redis Cluster, which meshfed does not support/);
    expect(message).toContain('Lua script');
    expect(message).toContain('redis-sentinel://');
  });

  it.each([
    ['http://x', '--redis: "http://x" must use redis://, rediss:// or redis-sentinel://'],
    ['127.0.0.1:6379', '--redis: "127.0.0.1:6379" is not a URL'],
    ['', '--redis: "" is not a URL'],
  ])('refuses %s', (url, message) => {
    expect(configError(url)).toContain(message);
  });

  it('names the flag it was given', () => {
    expect(() => parseRedisTarget('http://x', 'MESHFED_REDIS_URL')).toThrow(/^MESHFED_REDIS_URL: /);
  });

  it('never shows a password in an error', () => {
    const secrets = ['hunter2', 'sentinel-secret'];
    for (const url of [
      'redis://:hunter2@h:6379/x',
      'redis://:hunter2@h:6379?db=1',
      'rediss://user:hunter2@:6379',
      'redis-sentinel://:hunter2@h1:x/m',
      'redis-sentinel://:hunter2@h1/m?sentinelPassword=sentinel-secret&bad=1',
      'redis-sentinel://:hunter2@h1/m?db=x&sentinelPassword=sentinel-secret',
      'redis-sentinel://:hunter2@h1/m#frag',
      'redis-cluster://:hunter2@h1:7000',
      'redis://:hunt#er2@h:6379',
      'redis://:hunt/er2@h:6379',
      'redis-sentinel://:hunt?er2@h1/m',
    ]) {
      const message = configError(url);
      for (const secret of secrets) expect(message, url).not.toContain(secret);
      expect(message, url).not.toMatch(/hunt|er2@/);
    }
  });
});

describe('redactUrl', () => {
  it.each([
    ['redis://127.0.0.1:6379', 'redis://127.0.0.1:6379'],
    ['redis://:pw@h:6379/0', 'redis://:***@h:6379/0'],
    ['redis://user:pw@h', 'redis://user:***@h'],
    ['redis://user@h', 'redis://user@h'],
    ['redis://user:@h', 'redis://user:@h'],
    ['nats://127.0.0.1:4222', 'nats://127.0.0.1:4222'],
    ['http://x', 'http://x'],
    ['redis-sentinel://:pw@h1:26379,h2:26379/mymaster?db=2&sentinelPassword=spw', 'redis-sentinel://:***@h1:26379,h2:26379/mymaster?db=2&sentinelPassword=***'],
    ['redis-sentinel://h1/m?sentinelPassword=spw&tls=true', 'redis-sentinel://h1/m?sentinelPassword=***&tls=true'],
    ['redis://:p@ss@h', 'redis://:***@h'],
    ['redis://:pa/ss@h:6379', 'redis://***@h:6379'],
    ['redis://:pa#ss@h', 'redis://***@h'],
    ['not a url', 'not a url'],
  ])('%s → %s', (value, shown) => {
    expect(redactUrl(value)).toBe(shown);
  });
});
