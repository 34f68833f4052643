import type { RedisOptions } from 'ioredis';
import { redactUrl } from '../../core/config.js';
import { ConfigError } from '../../core/errors.js';

/**
 * Where the global CP keeps its store: one Redis server, or the primary of a
 * group that Redis Sentinel watches (followed across failovers).
 */
export interface RedisTarget {
  mode: 'standalone' | 'sentinel';
  /** Where and how to connect, for `new Redis(options)`; timeouts and retries are the caller's. */
  options: RedisOptions;
  /** The URL with its passwords hidden, for logs and errors. */
  shown: string;
}

const SENTINEL_PARAMETERS = ['db', 'sentinelPassword', 'sentinelUsername', 'tls'] as const;

type Fail = (problem: string) => ConfigError;

/**
 * Reads a --redis URL into ioredis connection options:
 *
 * - `redis://[user:password@]host[:6379][/db]`, `rediss://…` for TLS;
 * - `redis-sentinel://[user:password@]host[:26379][,host[:26379]…]/master-name[?db=N&sentinelPassword=…&sentinelUsername=…&tls=true]`:
 *   the user and password are the data nodes' (primary and replicas), `sentinelPassword`/`sentinelUsername`
 *   the sentinels' own; `tls=true` encrypts both the sentinel and the data connections.
 *
 * `redis-cluster://` is refused: the store's Lua scripts touch several keys, which Cluster allows only in one hash slot.
 * Errors start with `flag` and never show a password.
 */
export function parseRedisTarget(value: string, flag = '--redis'): RedisTarget {
  const shown = redactUrl(value);
  const fail: Fail = (problem) => new ConfigError(`${flag}: "${shown}" ${problem}`);
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(value)?.[1]?.toLowerCase();
  // An unencoded "/", "?" or "#" in a password ends the host part early; then the pieces named in an error could be the password's.
  const afterScheme = value.replace(/^[^:]*:\/\//, '');
  if (scheme && !/^[^/?#]*@/.test(afterScheme) && afterScheme.includes('@')) {
    throw fail('has an "@" after its host: percent-encode "@", "/", "?" and "#" in user names and passwords (%40, %2F, %3F, %23)');
  }
  switch (scheme) {
    case 'redis':
    case 'rediss':
      return { mode: 'standalone', options: standaloneOptions(value, scheme === 'rediss', fail), shown };
    case 'redis-sentinel':
      return { mode: 'sentinel', options: sentinelOptions(value, fail), shown };
    case 'redis-cluster':
      throw fail(
        'asks for Redis Cluster, which meshfed does not support: the store writes several keys in one Lua script, which Cluster allows only within one hash slot. Use one Redis, or Redis Sentinel for high availability (redis-sentinel://host:26379/master-name)',
      );
    case 'rediss-sentinel':
      throw fail('is not a known scheme: for Sentinel over TLS write redis-sentinel://…?tls=true');
    case undefined:
      throw fail(`is not a URL (e.g. redis://127.0.0.1:6379 or redis-sentinel://127.0.0.1:26379/mymaster)`);
    default:
      throw fail('must use redis://, rediss:// or redis-sentinel://');
  }
}

function standaloneOptions(value: string, tls: boolean, fail: Fail): RedisOptions {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw fail('is not a URL (e.g. redis://127.0.0.1:6379/0)');
  }
  if (url.hash) throw fail('has a #fragment (in a password, write # as %23)');
  if (url.search) throw fail('takes no query parameters (the database goes in the path: redis://host:6379/2)');
  if (!url.hostname) throw fail('names no host (e.g. redis://127.0.0.1:6379)');
  const port = url.port ? Number(url.port) : 6379;
  if (port === 0) throw fail('has port 0');
  const path = url.pathname.replace(/^\//, '');
  return {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port,
    ...credentials(url.username, url.password, fail),
    ...(path ? { db: parseDb(path, 'the path', fail) } : {}),
    ...(tls ? { tls: {} } : {}),
  };
}

function sentinelOptions(value: string, fail: Fail): RedisOptions {
  const match = /^redis-sentinel:\/\/([^/?#]*)(\/[^?#]*)?(\?[^#]*)?(#.*)?$/is.exec(value);
  if (!match) throw fail(`is not a URL (e.g. redis-sentinel://127.0.0.1:26379/mymaster)`);
  const [, authority = '', path = '', query = '', fragment] = match;
  if (fragment !== undefined) throw fail('has a #fragment (in a password, write # as %23)');
  const at = authority.lastIndexOf('@');
  const userinfo = at >= 0 ? authority.slice(0, at) : '';
  const colon = userinfo.indexOf(':');
  const [username, password] = colon >= 0 ? [userinfo.slice(0, colon), userinfo.slice(colon + 1)] : [userinfo, ''];
  const sentinels = parseSentinelAddresses(authority.slice(at + 1), fail);
  const name = parseMasterName(path, fail);
  const parameters = parseSentinelParameters(query, fail);
  const tls = parameters.tls === 'true';
  return {
    sentinels,
    name,
    ...credentials(username, password, fail),
    ...(parameters.db !== undefined ? { db: parseDb(parameters.db, 'db', fail) } : {}),
    ...(parameters.sentinelPassword !== undefined ? { sentinelPassword: parameters.sentinelPassword } : {}),
    ...(parameters.sentinelUsername !== undefined ? { sentinelUsername: parameters.sentinelUsername } : {}),
    // ioredis: `tls` + `enableTLSForSentinelMode` for the primary, `sentinelTLS` for the sentinels.
    ...(tls ? { tls: {}, enableTLSForSentinelMode: true, sentinelTLS: {} } : {}),
    // Leave the old primary as soon as a sentinel announces +switch-master. Otherwise writes keep going to it
    // until Sentinel demotes it (~10 s after a manual failover) and are lost when it resyncs as a replica.
    failoverDetector: true,
  };
}

function parseSentinelAddresses(hosts: string, fail: Fail): Array<{ host: string; port: number }> {
  if (!hosts) throw fail('names no sentinel (e.g. redis-sentinel://127.0.0.1:26379/mymaster)');
  return hosts.split(',').map((entry) => {
    const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+))(?::([0-9]{1,5}))?$/.exec(entry);
    const port = match?.[3] === undefined ? 26379 : Number(match[3]);
    if (!match || port < 1 || port > 65535) {
      throw fail(`has a bad sentinel address "${entry}" (sentinels are host:port, separated by commas: h1:26379,h2:26379)`);
    }
    return { host: match[1] ?? match[2]!, port };
  });
}

function parseMasterName(path: string, fail: Fail): string {
  const name = decode(path.replace(/^\//, ''), 'master name', fail);
  if (!name) throw fail('names no master: put the name Sentinel monitors as the path (redis-sentinel://host:26379/mymaster)');
  if (/[/\s]/.test(name)) throw fail(`has a bad master name "${name}": the path is the master name only; choose a database with ?db=N`);
  return name;
}

function parseSentinelParameters(query: string, fail: Fail): Partial<Record<(typeof SENTINEL_PARAMETERS)[number], string>> {
  const found: Partial<Record<(typeof SENTINEL_PARAMETERS)[number], string>> = {};
  // URLSearchParams decodes percent escapes and "+"; a password keeps whatever it encodes.
  for (const [key, raw] of new URLSearchParams(query.replace(/^\?/, ''))) {
    const known = SENTINEL_PARAMETERS.find((k) => k === key);
    if (!known) throw fail(`has an unknown parameter "${key}" (known: ${SENTINEL_PARAMETERS.join(', ')})`);
    if (found[known] !== undefined) throw fail(`gives "${key}" twice`);
    if (!raw) throw fail(`has an empty "${key}"`);
    found[known] = raw;
  }
  if (found.tls !== undefined && found.tls !== 'true' && found.tls !== 'false') throw fail('has tls that is neither true nor false');
  return found;
}

function credentials(username: string, password: string, fail: Fail): { username?: string; password?: string } {
  const user = decode(username, 'user name', fail);
  const secret = decode(password, 'password', fail);
  return { ...(user ? { username: user } : {}), ...(secret ? { password: secret } : {}) };
}

function parseDb(text: string, where: string, fail: Fail): number {
  if (!/^(0|[1-9][0-9]{0,8})$/.test(text)) throw fail(`has ${where} "${text}", which is not a database number (0, 1, 2…)`);
  return Number(text);
}

function decode(text: string, what: string, fail: Fail): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw fail(`has a badly percent-encoded ${what}`);
  }
}
