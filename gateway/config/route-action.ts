/**
 * A Route's `route` (RouteAction) → what the proxy does with the request:
 * clusters, timeouts, retries, idle timeout. Pure.
 *
 * Timeouts: the route `timeout` (absent → undefined, so the runtime's
 * DEFAULT_ROUTE_TIMEOUT_MS applies; 0 → no deadline) and
 * `max_stream_duration.max_stream_duration` both bound a request in Envoy
 * (the router's timer and the connection manager's), so the deadline kept
 * is the shorter of the two. The gRPC `grpc-timeout` header options of
 * max_stream_duration are not honoured.
 *
 * Idle timeout: a route's `idle_timeout` > 0 is kept and 0 disables it.
 * When absent Envoy falls back to the connection manager's
 * stream_idle_timeout (5 min by default), which a route table compiled
 * from RDS cannot see; it is then undefined (none).
 */
import { DEFAULT_BACKOFF_BASE_MS, DEFAULT_ROUTE_TIMEOUT_MS, parseRetryOn, type RouteTimeouts } from '../resilience/index.js';
import { isObject, objectsIn, textOf } from '../xds/resources.js';
import type { RetryPolicy, RouteAction, WeightedCluster } from './model.js';
import { fail, within } from './problems.js';
import { durationMs, hasEntries, numberOf, setFields, wrappedNumber } from './values.js';

/** Envoy's `num_retries` when a retry policy leaves it out. */
export const DEFAULT_NUM_RETRIES = 1;

/** What would change where or how a request goes, which the runtime cannot do: refused rather than ignored. */
const UNSUPPORTED_ACTION_FIELDS = [
  'cluster_header',
  'cluster_specifier_plugin',
  'inline_cluster_specifier_plugin',
  'prefix_rewrite',
  'regex_rewrite',
  'path_rewrite_policy',
  'host_rewrite_literal',
  'host_rewrite_header',
  'host_rewrite_path_regex',
  'auto_host_rewrite',
  // Per-route upgrade switches: the sidecar enables upgrades per listener only.
  'upgrade_configs',
];

/** Route fields other than `route` that replace forwarding with something else. */
const OTHER_ACTIONS = ['redirect', 'direct_response', 'filter_action', 'non_forwarding_action'];

/**
 * Compiles a Route's action. `virtualHostRetry` is the virtual host's
 * retry_policy, which Envoy uses when the route has none. Throws a ConfigProblem.
 */
export function compileRouteAction(route: Record<string, unknown>, routeName: string, virtualHostRetry?: unknown): RouteAction {
  const other = setFields(route, OTHER_ACTIONS);
  if (other.length) fail(`unsupported action ${other.join(', ')}`);
  // Per-filter overrides could e.g. turn RBAC off for this route; the runtime has no per-route filter config.
  if (hasEntries(route.typed_per_filter_config)) fail('typed_per_filter_config is not supported');
  const action = route.route;
  if (!isObject(action)) return fail('route has no action');
  const unsupported = setFields(action, UNSUPPORTED_ACTION_FIELDS);
  if (unsupported.length) fail(`unsupported ${unsupported.join(', ')}`);

  const retryPolicy = action.retry_policy ?? virtualHostRetry;
  const retry = isObject(retryPolicy) ? within('retry_policy', () => compileRetryPolicy(retryPolicy)) : undefined;
  const idle = durationMs(action.idle_timeout, 'idle_timeout');
  return {
    routeName,
    clusters: compileActionClusters(action),
    timeouts: routeTimeouts(action, retry?.perTryTimeoutMs),
    ...(retry ? { retry: retry.policy } : {}),
    ...(idle !== undefined && idle > 0 ? { idleTimeoutMs: idle } : {}),
  };
}

/** `cluster`, or `weighted_clusters` (also TcpProxy's, whose weight is a bare number). Throws a ConfigProblem. */
export function compileActionClusters(action: Record<string, unknown>): WeightedCluster[] {
  if (typeof action.cluster === 'string' && action.cluster !== '') return [{ name: action.cluster, weight: 1 }];
  if (!isObject(action.weighted_clusters)) return fail('no cluster or weighted_clusters');
  const clusters = objectsIn(action.weighted_clusters.clusters).map((cluster, i) => {
    const name = textOf(cluster.name);
    if (!name) fail(`weighted cluster #${i} has no name (cluster_header is not supported)`);
    if (hasEntries(cluster.typed_per_filter_config)) fail(`weighted cluster ${name}: typed_per_filter_config is not supported`);
    return { name, weight: wrappedNumber(cluster.weight) ?? 0 };
  });
  if (clusters.length === 0) fail('weighted_clusters has no clusters');
  // Envoy rejects a split that can never pick anything.
  if (!clusters.some((c) => c.weight > 0)) fail('weighted_clusters: weights sum to 0');
  return clusters;
}

/** The route's deadline: the shorter of `timeout` and max_stream_duration (see the file comment). */
function routeTimeouts(action: Record<string, unknown>, perTryTimeoutMs: number | undefined): RouteTimeouts {
  let timeoutMs = durationMs(action.timeout, 'timeout');
  const msd = isObject(action.max_stream_duration) ? durationMs(action.max_stream_duration.max_stream_duration, 'max_stream_duration') : undefined;
  if (msd !== undefined && msd > 0) {
    const routeTimeout = timeoutMs ?? DEFAULT_ROUTE_TIMEOUT_MS;
    timeoutMs = routeTimeout === 0 ? msd : Math.min(routeTimeout, msd);
  }
  return { ...(timeoutMs !== undefined ? { timeoutMs } : {}), ...(perTryTimeoutMs !== undefined ? { perTryTimeoutMs } : {}) };
}

/**
 * A RetryPolicy: retry_on (+ retriable_status_codes), num_retries
 * (default 1), per_try_timeout, retry_back_off (base default 25 ms, max
 * default 10 × base, max below base rejected as Envoy does). Host
 * predicates, priorities, retriable (request) headers and rate-limited
 * back-off are not honoured.
 */
export function compileRetryPolicy(policy: Record<string, unknown>): { policy: RetryPolicy; perTryTimeoutMs?: number } {
  const statusCodes = Array.isArray(policy.retriable_status_codes) ? policy.retriable_status_codes.map(numberOf).filter((n): n is number => n !== undefined) : [];
  const backOff = isObject(policy.retry_back_off) ? policy.retry_back_off : {};
  const base = durationMs(backOff.base_interval, 'retry_back_off.base_interval') ?? DEFAULT_BACKOFF_BASE_MS;
  if (base <= 0) fail('retry_back_off.base_interval must be positive');
  const max = durationMs(backOff.max_interval, 'retry_back_off.max_interval') ?? 10 * base;
  if (max < base) fail('retry_back_off.max_interval must be at least base_interval');
  const perTry = durationMs(policy.per_try_timeout, 'per_try_timeout');
  return {
    policy: {
      conditions: parseRetryOn(textOf(policy.retry_on), statusCodes),
      numRetries: wrappedNumber(policy.num_retries) ?? DEFAULT_NUM_RETRIES,
      backoffBaseMs: base,
      backoffMaxMs: max,
    },
    ...(perTry !== undefined && perTry > 0 ? { perTryTimeoutMs: perTry } : {}),
  };
}
