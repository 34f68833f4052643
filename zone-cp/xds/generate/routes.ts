import type { RetrySpec, TimeoutSpec, TrafficRouteSpec } from '../../../core/schemas/policies/index.js';
import { clusterName, serviceAuthority, subsetKey } from '../../../core/xds/names.js';
import type { ResourceObject } from '../../../core/xds/protos.js';
import type { ServiceModel } from './model.js';
import type { NamedResource } from './output.js';
import { duration, wrapped } from './proto-values.js';

type Rule = TrafficRouteSpec['rules'][number];
type HttpMatch = NonNullable<Rule['matches']>[number];
type HeaderMatch = NonNullable<HttpMatch['headers']>[number];

/**
 * One RouteConfiguration per service port, named like its API listener. The
 * domains hold the authority with the port because proxyless gRPC matches
 * with it; `*` last, so a client that overrides its authority still lands
 * here (the configuration serves this one service only).
 */
export function serviceRouteConfigurations(service: ServiceModel): NamedResource[] {
  return service.ports.map(({ port }) => {
    const authority = serviceAuthority(service.name, service.namespace, port);
    return {
      name: authority,
      resource: { name: authority, virtual_hosts: [serviceVirtualHost(service, port, [authority, service.hostname, '*'])] },
    };
  });
}

/** The virtual host of one service port; the same routes serve the API listener and the sidecar's outbound:<port>. */
export function serviceVirtualHost(service: ServiceModel, port: number, domains: string[]): ResourceObject {
  return { name: serviceAuthority(service.name, service.namespace, port), domains, routes: serviceRoutes(service, port) };
}

/**
 * TrafficRoute rules in order (first match wins; a rule with several
 * matches becomes one route per match), then the whole service.
 */
export function serviceRoutes(service: ServiceModel, port: number): ResourceObject[] {
  const common = commonRouteAction(service.policies.Retry?.spec, service.policies.Timeout?.spec);
  const routes: ResourceObject[] = [];
  const rules = service.policies.TrafficRoute?.spec.rules ?? [];
  let catchAll = false;
  rules.forEach((rule, i) => {
    if (catchAll) return;
    const action = { ...splitAction(service, port, rule.split), ...common };
    if (!rule.matches?.length) {
      routes.push({ name: `rule-${i}`, match: { prefix: '/' }, route: action });
      catchAll = true;
      return;
    }
    rule.matches.forEach((match, j) => routes.push({ name: `rule-${i}-match-${j}`, match: renderMatch(match), route: action }));
  });
  if (!catchAll) routes.push({ name: 'default', match: { prefix: '/' }, route: { cluster: clusterName(service.name, service.namespace, port), ...common } });
  return routes;
}

/** Weights as given, merged per subset (a split naming one subset twice is one destination); zero weights dropped. */
function splitAction(service: ServiceModel, port: number, split: Rule['split']): ResourceObject {
  const weights = new Map<string, { name: string; weight: number }>();
  for (const entry of split) {
    if (entry.weight <= 0) continue;
    const tags = entry.tags && subsetKey(entry.tags) ? entry.tags : undefined;
    const name = clusterName(service.name, service.namespace, port, tags);
    const existing = weights.get(name);
    weights.set(name, { name, weight: (existing?.weight ?? 0) + entry.weight });
  }
  const clusters = [...weights.values()];
  if (clusters.length === 1) return { cluster: clusters[0]!.name };
  return { weighted_clusters: { clusters: clusters.map((c) => ({ name: c.name, weight: wrapped(c.weight) })) } };
}

/**
 * The retry policy of a service no Retry policy targets: Istio's default
 * (two retries of what the upstream certainly did not process — no
 * connection, refused stream, gRPC UNAVAILABLE/CANCELLED — and of 503,
 * which a sidecar answers when its application is down), so an instance
 * dying is invisible to callers without any policy written.
 */
export const DEFAULT_RETRY: Omit<RetrySpec, 'targetRef'> = {
  attempts: 2,
  retryOn: ['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes'],
  retriableStatusCodes: [503],
};

function commonRouteAction(retry: RetrySpec | undefined, timeout: TimeoutSpec | undefined): ResourceObject {
  return {
    retry_policy: retryPolicy(retry ?? DEFAULT_RETRY),
    // Envoy reads `timeout`; proxyless gRPC reads only max_stream_duration.
    ...(timeout?.request ? { timeout: duration(timeout.request), max_stream_duration: { max_stream_duration: duration(timeout.request) } } : {}),
    ...(timeout?.idle ? { idle_timeout: duration(timeout.idle) } : {}),
  };
}

function retryPolicy(retry: Omit<RetrySpec, 'targetRef'>): ResourceObject {
  return {
    retry_on: retry.retryOn.join(','),
    num_retries: wrapped(retry.attempts),
    ...(retry.perTryTimeout ? { per_try_timeout: duration(retry.perTryTimeout) } : {}),
    ...(retry.backoff
      ? { retry_back_off: { base_interval: duration(retry.backoff.baseInterval), ...(retry.backoff.maxInterval ? { max_interval: duration(retry.backoff.maxInterval) } : {}) } }
      : {}),
    ...(retry.retriableStatusCodes?.length ? { retriable_status_codes: retry.retriableStatusCodes } : {}),
  };
}

function renderMatch(match: HttpMatch): ResourceObject {
  const path = match.path;
  const pathSpecifier = path?.exact !== undefined ? { path: path.exact } : path?.prefix !== undefined ? { prefix: path.prefix } : path?.regex !== undefined ? { safe_regex: { regex: path.regex } } : { prefix: '/' };
  const headers = [
    ...(match.method ? [{ name: ':method', string_match: { exact: match.method } }] : []),
    ...(match.headers ?? []).map(renderHeaderMatch),
  ];
  return { ...pathSpecifier, ...(headers.length ? { headers } : {}) };
}

/**
 * An empty prefix or regex matches any value, i.e. presence, and Envoy
 * refuses both as empty strings. `present: false` is rendered as inverted
 * presence: proxyless gRPC ignores present_match's value.
 */
function renderHeaderMatch(header: HeaderMatch): ResourceObject {
  let invert = header.invert === true;
  let matcher: ResourceObject;
  if (header.exact !== undefined) matcher = { string_match: { exact: header.exact } };
  else if (header.prefix) matcher = { string_match: { prefix: header.prefix } };
  else if (header.regex) matcher = { string_match: { safe_regex: { regex: header.regex } } };
  else {
    matcher = { present_match: true };
    if (header.present === false) invert = !invert;
  }
  return { name: header.name, ...matcher, ...(invert ? { invert_match: true } : {}) };
}
