import { parseDurationMs } from '../../../core/duration.js';
import type { ResourceObject } from '../../../core/xds/protos.js';

/** Type URLs of the Anys nested inside meshfed's resources. */
export const NESTED_TYPE = {
  httpConnectionManager: 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  tcpProxy: 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
  router: 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
  httpRbac: 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC',
  networkRbac: 'type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC',
  tlsInspector: 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector',
  upstreamTls: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
  downstreamTls: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
  httpProtocolOptions: 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
} as const;

/** A nested Any in the form protobufjs' fromObject takes. */
export const typed = (typeUrl: string, fields: ResourceObject): ResourceObject => ({ '@type': typeUrl, ...fields });

/** google.protobuf.Duration from a policy's Go-style duration; whole nanoseconds. */
export function duration(text: string): { seconds: number; nanos: number } {
  const ms = parseDurationMs(text);
  // Policies are validated before they reach a zone; a bad one here is a bug upstream, not something to guess at.
  if (ms === undefined) throw new Error(`"${text}" is not a duration`);
  return durationFromMs(ms);
}

export function durationFromMs(ms: number): { seconds: number; nanos: number } {
  const totalNanos = Math.round(ms * 1_000_000);
  return { seconds: Math.floor(totalNanos / 1_000_000_000), nanos: totalNanos % 1_000_000_000 };
}

/** A wrapper message (UInt32Value, BoolValue, DoubleValue, Percent). */
export const wrapped = <T>(value: T) => ({ value });

/** ConfigSource for anything fetched over the same ADS stream. */
export const ADS_CONFIG_SOURCE = { ads: {}, resource_api_version: 'V3' } as const;

export const socketAddress = (address: string, port: number) => ({ socket_address: { address, port_value: port } });

type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * google.protobuf.Struct in protobufjs' object form. protobufjs ships Struct
 * with camelCase field names (boolValue, …) whatever keepCase says, and has no
 * JSON wrapper for it, so a plain `{remote: true}` would be silently dropped.
 */
export function struct(fields: Record<string, JsonValue>): ResourceObject {
  return { fields: Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, structValue(v)])) };
}

function structValue(value: JsonValue): ResourceObject {
  if (value === null) return { nullValue: 'NULL_VALUE' };
  if (typeof value === 'boolean') return { boolValue: value };
  if (typeof value === 'number') return { numberValue: value };
  if (typeof value === 'string') return { stringValue: value };
  if (Array.isArray(value)) return { listValue: { values: value.map(structValue) } };
  return { structValue: struct(value) };
}

/** Envoy stat prefixes: keep them to characters no stats sink has to escape. */
export const statPrefix = (name: string) => name.replace(/[^A-Za-z0-9_.-]/g, '_');
