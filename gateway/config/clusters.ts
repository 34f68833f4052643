/**
 * Cluster → ClusterSettings: how the runtime reaches a cluster's endpoints
 * (EDS or STATIC), with what protocol, over what TLS (its own and the one
 * for remote zones' ingresses), within which limits. Pure.
 *
 * Load balancing: the runtime balances round robin (after priority and
 * locality weighting). ROUND_ROBIN, LEAST_REQUEST and RANDOM are accepted
 * as round robin, which spreads load the same way on average; policies
 * that pin requests to hosts (RING_HASH, MAGLEV, subsets, extensions) are
 * problems. Active health checks and the panic threshold are not read.
 */
import { edsServiceName, isObject, objectsIn, textOf } from '../xds/resources.js';
import type { ClusterSettings, UpstreamTls } from './model.js';
import { compileCircuitBreakers, compileOutlierDetection } from './cluster-limits.js';
import { compileLoadAssignment } from './endpoints.js';
import { fail, within } from './problems.js';
import { RegexCache } from './regex.js';
import { compileUpstreamTls } from './tls.js';
import { durationMs, setFields, structToJson, typeUrlOf } from './values.js';

/** Envoy's `connect_timeout` when a cluster sets none. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

export const HTTP_PROTOCOL_OPTIONS_KEY = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
const HTTP_PROTOCOL_OPTIONS_TYPE_URL = `type.googleapis.com/${HTTP_PROTOCOL_OPTIONS_KEY}`;

const ROUND_ROBIN_LIKE = new Set(['ROUND_ROBIN', 'LEAST_REQUEST', 'RANDOM']);

/** The `envoy.transport_socket_match` criteria that pick `remoteTls`. */
const REMOTE_MATCH_KEY = 'meshfed.remote';

/** Whether a cluster balances by locality weight; the weights of its assignment depend on it (endpoints.ts). */
export function isLocalityWeighted(cluster: Record<string, unknown>): boolean {
  return isObject(cluster.common_lb_config) && cluster.common_lb_config.locality_weighted_lb_config !== undefined;
}

/** Compiles a Cluster. Throws a ConfigProblem. */
export function compileCluster(cluster: Record<string, unknown>, regexes: RegexCache = new RegexCache()): ClusterSettings {
  const name = textOf(cluster.name);
  if (!name) fail('cluster has no name');
  checkLoadBalancing(cluster);
  const http2 = speaksHttp2(cluster);
  const connectTimeoutMs = durationMs(cluster.connect_timeout, 'connect_timeout') ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const tls = within('transport_socket', () => compileUpstreamTls(cluster.transport_socket, { http2 }, regexes));
  const remoteTls = remoteTransportSocket(cluster, http2, regexes);
  const outlierDetection = compileOutlierDetection(cluster.outlier_detection);
  return {
    name,
    ...discovery(cluster),
    connectTimeoutMs,
    http2,
    ...(tls ? { tls } : {}),
    ...(remoteTls ? { remoteTls } : {}),
    circuitBreaker: compileCircuitBreakers(cluster.circuit_breakers),
    ...(outlierDetection ? { outlierDetection } : {}),
  };
}

/** EDS (by its EDS name) or STATIC (with its load_assignment). STATIC is enum value 0: absent `type` means STATIC. */
function discovery(cluster: Record<string, unknown>): Pick<ClusterSettings, 'kind' | 'edsName' | 'staticAssignment'> {
  if (cluster.cluster_type !== undefined) fail('custom cluster types are not supported');
  const type = typeof cluster.type === 'string' ? cluster.type : 'STATIC';
  if (type === 'EDS') return { kind: 'eds', edsName: edsServiceName(cluster)! };
  if (type !== 'STATIC') fail(`cluster type ${type} is not supported`);
  const assignment = isObject(cluster.load_assignment) ? within('load_assignment', () => compileLoadAssignment(cluster.load_assignment as Record<string, unknown>, { localityWeighted: isLocalityWeighted(cluster) })) : { levels: [] };
  return { kind: 'static', staticAssignment: assignment };
}

function checkLoadBalancing(cluster: Record<string, unknown>): void {
  const policy = typeof cluster.lb_policy === 'string' ? cluster.lb_policy : 'ROUND_ROBIN';
  if (!ROUND_ROBIN_LIKE.has(policy)) fail(`lb_policy ${policy} is not supported`);
  const unsupported = setFields(cluster, ['load_balancing_policy', 'lb_subset_config']);
  if (unsupported.length) fail(`${unsupported.join(', ')} not supported`);
}

/**
 * HTTP/2 upstream: HttpProtocolOptions' explicit_http_config.http2_protocol_options
 * (or the deprecated Cluster.http2_protocol_options). Protocol choices the
 * runtime cannot make (auto by ALPN, follow the downstream) are problems.
 */
function speaksHttp2(cluster: Record<string, unknown>): boolean {
  const extensions = isObject(cluster.typed_extension_protocol_options) ? cluster.typed_extension_protocol_options : {};
  const options = extensions[HTTP_PROTOCOL_OPTIONS_KEY];
  if (options !== undefined && typeUrlOf(options) !== HTTP_PROTOCOL_OPTIONS_TYPE_URL) fail(`${HTTP_PROTOCOL_OPTIONS_KEY} has @type ${typeUrlOf(options) || '(none)'}`);
  if (isObject(options)) {
    const unsupported = setFields(options, ['auto_config', 'use_downstream_protocol_config']);
    if (unsupported.length) fail(`HttpProtocolOptions ${unsupported.join(', ')} not supported`);
    if (isObject(options.explicit_http_config)) return options.explicit_http_config.http2_protocol_options !== undefined;
  }
  if (cluster.protocol_selection === 'USE_DOWNSTREAM_PROTOCOL') fail('protocol_selection USE_DOWNSTREAM_PROTOCOL is not supported');
  return cluster.http2_protocol_options !== undefined;
}

/**
 * The transport_socket_matches entry for remote zones' ingresses: the
 * first entry whose criteria are exactly `meshfed.remote: true`. The
 * runtime tells endpoints apart by that flag only, so an entry with other
 * criteria could not be applied as written: a problem.
 */
function remoteTransportSocket(cluster: Record<string, unknown>, http2: boolean, regexes: RegexCache): UpstreamTls | undefined {
  let remote: UpstreamTls | undefined;
  for (const [i, entry] of objectsIn(cluster.transport_socket_matches).entries()) {
    const where = `transport_socket_matches ${textOf(entry.name) || `#${i}`}`;
    const criteria = structToJson(entry.match);
    const keys = Object.keys(criteria);
    if (keys.length !== 1 || criteria[REMOTE_MATCH_KEY] !== true) fail(`${where}: only the criteria {${REMOTE_MATCH_KEY}: true} are supported`);
    // Envoy uses the first entry that matches.
    if (remote) continue;
    remote = within(where, () => compileUpstreamTls(entry.transport_socket, { http2 }, regexes));
    if (!remote) fail(`${where}: plaintext to remote zones is not supported`);
  }
  return remote;
}
