/**
 * The gateway's access log: one JSON line per request, with Envoy's field
 * names and response flags, written through an asynchronous pino
 * destination so a slow disk or pipe never blocks the request path.
 *
 * Only the fields of `AccessLogEntry` are written, copied one by one: the
 * entry has no headers field, and anything else a caller's object carries
 * (an `authorization` header, a token) never reaches the log. Nor does the
 * query string of the path.
 */
import { openSync } from 'node:fs';
import { destination as pinoDestination, pino, type Logger } from 'pino';

/**
 * Envoy's short response flags (`%RESPONSE_FLAGS%`) that the gateway sets.
 * Envoy has no flag for an RBAC denial: it answers 403 with no flag and
 * `response_code_details` `rbac_access_denied_matched_policy[<policy>]`;
 * see `rbacDeniedDetails`.
 */
export const RESPONSE_FLAGS = {
  /** 503: no healthy upstream host in the cluster. */
  NoHealthyUpstream: 'UH',
  /** 503: upstream connection failure. */
  UpstreamConnectionFailure: 'UF',
  /** 503: upstream overflow (circuit breaker open). */
  UpstreamOverflow: 'UO',
  /** 404: no route for the request. */
  NoRouteFound: 'NR',
  /** 503: no cluster of the route's name. */
  NoClusterFound: 'NC',
  /** Upstream retry limit exceeded. */
  UpstreamRetryLimitExceeded: 'URX',
  /** 504: upstream request timeout. */
  UpstreamRequestTimeout: 'UT',
  /** 503: upstream connection termination. */
  UpstreamConnectionTermination: 'UC',
  /** 503: upstream remote reset. */
  UpstreamRemoteReset: 'UR',
  /** 503: connection local reset. */
  LocalReset: 'LR',
  /** Downstream connection termination. */
  DownstreamConnectionTermination: 'DC',
  /** Downstream request had an HTTP protocol error. */
  DownstreamProtocolError: 'DPE',
  /** Upstream response had an HTTP protocol error. */
  UpstreamProtocolError: 'UPE',
  /** 408: stream idle timeout. */
  StreamIdleTimeout: 'SI',
} as const;

export type ResponseFlag = (typeof RESPONSE_FLAGS)[keyof typeof RESPONSE_FLAGS];

export type AccessLogProtocol = 'HTTP/1.0' | 'HTTP/1.1' | 'HTTP/2';

/** One request as the access log records it. Absent values are written as null. */
export interface AccessLogEntry {
  /** When the request started, ISO 8601 with milliseconds. */
  readonly start_time: string;
  /** From start to the last byte sent downstream; may be fractional. */
  readonly duration_ms: number;
  readonly method: string;
  /**
   * The request path as received. Its query string is not written (it can
   * carry secrets: `access_token=`, signed URLs), like Envoy's `%PATH(WQ)%`.
   */
  readonly path: string;
  readonly protocol: AccessLogProtocol;
  /** `:authority` / `Host`. */
  readonly authority: string | null;
  /** Status sent downstream; 0 when no response was started (Envoy's convention). */
  readonly status: number;
  /** Envoy short flags in the order they were set; written comma-joined, `-` when none. */
  readonly response_flags?: readonly ResponseFlag[];
  /** Why the gateway itself answered, e.g. `rbac_access_denied_matched_policy[none]`. */
  readonly response_code_details?: string | null;
  /** Request body bytes received. */
  readonly bytes_received: number;
  /** Response body bytes sent. */
  readonly bytes_sent: number;
  readonly upstream_cluster: string | null;
  /** `address:port` of the last upstream attempt. */
  readonly upstream_host: string | null;
  readonly upstream_zone: string | null;
  /** Upstream attempts made, retries included (0 when none was made). */
  readonly attempts: number;
  /** Trace id of the request's `traceparent` (incoming, or the one the gateway started). */
  readonly trace_id: string | null;
  /** The peer's SPIFFE ID from its mTLS certificate, null without one. */
  readonly source_principal: string | null;
  readonly direction: 'inbound' | 'outbound';
  /** Name of the listener that accepted the request. */
  readonly listener: string;
}

export interface AccessLogger {
  /** Queues one line; returns at once. Lines logged once `close()` was called are dropped. */
  log(entry: AccessLogEntry): void;
  /** Writes what is queued and closes the destination (stdout stays open); call it on shutdown, or queued lines are lost. */
  close(): Promise<void>;
}

/** Where lines go: `stdout`, `off`, or otherwise the path of a file to append to. */
export type AccessLogDestination = string;

export interface AccessLoggerOptions {
  /** Called when a write fails; defaults to a line on stderr. */
  readonly onError?: (error: Error) => void;
}

/** The `response_code_details` Envoy's RBAC filter sets when it denies a request. */
export function rbacDeniedDetails(policy: string | undefined): string {
  return `rbac_access_denied_matched_policy[${policy === undefined ? 'none' : policy.replace(/\s/g, '_')}]`;
}

/**
 * Builds the access logger. A file is opened (created, appended to) here, so
 * a path that cannot be written fails now with its name in the message;
 * writes happen later, off the request path.
 */
export function createAccessLogger(destination: AccessLogDestination, options: AccessLoggerOptions = {}): AccessLogger {
  if (destination === 'off') return { log() {}, close: async () => {} };
  const fd = destination === 'stdout' ? 1 : openLogFile(destination);
  const stream = pinoDestination({ dest: fd, sync: false });
  const label = destination === 'stdout' ? 'stdout' : `"${destination}"`;
  const onError = options.onError ?? ((error: Error) => console.error(`access log ${label}: write failed: ${error.message}`));
  stream.on('error', onError);
  // Always at info: MESHFED_LOG_LEVEL tunes the process log, not this one. No pino time: start_time is the line's time.
  const logger: Logger = pino({ level: 'info', base: { component: 'access-log' }, timestamp: false }, stream);
  let closing: Promise<void> | undefined;
  return {
    log(entry) {
      if (closing) return;
      logger.info(accessLogRecord(entry));
    },
    close() {
      closing ??= endStream(stream);
      return closing;
    },
  };
}

/** The fields written for an entry, in a fixed order; anything not listed here is dropped. */
export function accessLogRecord(entry: AccessLogEntry): Record<string, string | number | null> {
  const flags = entry.response_flags ?? [];
  return {
    start_time: entry.start_time,
    duration_ms: entry.duration_ms,
    method: entry.method,
    path: withoutQuery(entry.path),
    protocol: entry.protocol,
    authority: entry.authority,
    status: entry.status,
    response_flags: flags.length === 0 ? '-' : flags.join(','),
    response_code_details: entry.response_code_details ?? null,
    bytes_received: entry.bytes_received,
    bytes_sent: entry.bytes_sent,
    upstream_cluster: entry.upstream_cluster,
    upstream_host: entry.upstream_host,
    upstream_zone: entry.upstream_zone,
    attempts: entry.attempts,
    trace_id: entry.trace_id,
    source_principal: entry.source_principal,
    direction: entry.direction,
    listener: entry.listener,
  };
}

function withoutQuery(path: string): string {
  const query = path.indexOf('?');
  return query === -1 ? path : path.slice(0, query);
}

function openLogFile(path: string): number {
  try {
    return openSync(path, 'a');
  } catch (error) {
    throw new Error(`access log "${path}": cannot open for appending: ${(error as Error).message}`, { cause: error });
  }
}

function endStream(stream: ReturnType<typeof pinoDestination>): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.once('close', () => resolve());
    stream.once('error', reject);
    stream.end();
  });
}
