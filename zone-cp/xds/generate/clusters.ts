import type { Protocol } from '../../../core/schemas/dataplane.js';
import type { CircuitBreakerSpec, RetrySpec } from '../../../core/schemas/policies/index.js';
import { clusterName, ingressSni } from '../../../core/xds/names.js';
import type { ResourceObject } from '../../../core/xds/protos.js';
import { REMOTE_MATCH_KEY } from './endpoints.js';
import type { ServiceModel, Subset } from './model.js';
import type { NamedResource } from './output.js';
import { ADS_CONFIG_SOURCE, duration, NESTED_TYPE, struct, typed, wrapped } from './proto-values.js';
import { usesHttp2 } from './services.js';
import { namespaceIdentityPrefix, upstreamTlsSocket } from './tls.js';

export const DEFAULT_CONNECT_TIMEOUT = '5s';

export interface ClusterOptions {
  tenant: string;
  trustDomain: string;
  /** Proxyless gRPC clients: identities in the untyped SAN list (see OutboundOptions.proxyless). */
  proxyless?: boolean;
  /** Whether the proxies this is for hold an SVID: then every upstream connection is mTLS. */
  mtls: boolean;
}

/** Every cluster of one service: one per port, and one per TrafficRoute subset of each port. Pure. */
export function serviceClusters(service: ServiceModel, options: ClusterOptions): NamedResource[] {
  return service.ports.flatMap(({ port, protocol }) =>
    [undefined, ...service.subsets].map((subset) => {
      const name = clusterName(service.name, service.namespace, port, subset?.tags);
      return { name, resource: renderServiceCluster(name, service, port, protocol, subset, options) };
    }),
  );
}

/** The service's CircuitBreaker policy as circuit breakers and outlier detection: for sidecars' clusters and the ingress's alike. Pure. */
export function clusterResilience(service: ServiceModel): ResourceObject {
  const circuitBreakers = circuitBreakersFor(service.policies.CircuitBreaker?.spec, service.policies.Retry?.spec);
  const outlierDetection = outlierDetectionFor(service.policies.CircuitBreaker?.spec);
  return { circuit_breakers: circuitBreakers, ...(outlierDetection ? { outlier_detection: outlierDetection } : {}) };
}

function renderServiceCluster(name: string, service: ServiceModel, port: number, protocol: Protocol, subset: Subset | undefined, options: ClusterOptions): ResourceObject {
  return {
    ...edsCluster(name, service.policies.Timeout?.spec.connect),
    ...clusterResilience(service),
    ...(usesHttp2(protocol) ? { typed_extension_protocol_options: http2ProtocolOptions() } : {}),
    ...(options.mtls ? mtlsSockets(service, port, subset, options) : {}),
  };
}

/**
 * The parts every EDS cluster shares. ROUND_ROBIN with locality-weighted LB:
 * Envoy ignores locality weights without locality_weighted_lb_config, and a
 * remote zone's ingress stands for all its healthy endpoints; proxyless gRPC
 * honours the weights with ROUND_ROBIN alone.
 */
export function edsCluster(name: string, connectTimeout: string | undefined): ResourceObject {
  return {
    name,
    type: 'EDS',
    eds_cluster_config: { eds_config: ADS_CONFIG_SOURCE },
    connect_timeout: duration(connectTimeout ?? DEFAULT_CONNECT_TIMEOUT),
    lb_policy: 'ROUND_ROBIN',
    common_lb_config: { locality_weighted_lb_config: {} },
  };
}

export function http2ProtocolOptions(): ResourceObject {
  return { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': typed(NESTED_TYPE.httpProtocolOptions, { explicit_http_config: { http2_protocol_options: {} } }) };
}

/**
 * Local endpoints get the default socket, checked against their exact
 * service accounts. Remote zones' ingresses (marked in endpoint metadata)
 * get a socket with the SNI the ingress routes by, checked against the
 * namespace, since inventories do not report service accounts.
 */
function mtlsSockets(service: ServiceModel, port: number, subset: Subset | undefined, options: ClusterOptions): ResourceObject {
  const hasRemote = service.remote.some((r) => r.ingress && r.ports.includes(port));
  const remotePrefixes = hasRemote ? [namespaceIdentityPrefix(options.trustDomain, service.namespace)] : [];
  // A service with no local endpoint still gets a check on its default socket (never an empty list,
  // which Envoy reads as "any identity of the bundle"): its namespace.
  const local = service.localIdentities.length ? { exact: service.localIdentities, prefixes: [] } : { exact: [], prefixes: [namespaceIdentityPrefix(options.trustDomain, service.namespace)] };
  return {
    transport_socket: options.proxyless
      ? upstreamTlsSocket({ proxylessPeers: { exact: service.localIdentities, prefixes: remotePrefixes } })
      : upstreamTlsSocket({ envoyPeers: local }),
    ...(hasRemote
      ? {
          transport_socket_matches: [
            {
              name: 'meshfed-remote-ingress',
              match: struct({ [REMOTE_MATCH_KEY]: true }),
              transport_socket: upstreamTlsSocket({
                envoyPeers: { exact: [], prefixes: remotePrefixes },
                sni: ingressSni(options.tenant, service.name, service.namespace, port, subset?.sniLabel),
              }),
            },
          ],
        }
      : {}),
  };
}

/** DEFAULT-priority thresholds (proxyless gRPC reads only max_requests there); the retry budget lives here too. */
/**
 * Concurrent retries when no policy caps them: unlimited, as Istio does.
 * Envoy's default of 3 per cluster turns a burst of failures from one dying
 * instance into client-visible errors as soon as four requests retry at once;
 * the Retry policy's budget is the way to bound retries by load.
 */
export const UNLIMITED_RETRIES = 4_294_967_295;

function circuitBreakersFor(breaker: CircuitBreakerSpec | undefined, retry: RetrySpec | undefined): ResourceObject {
  const t = breaker?.thresholds;
  const budget = retry?.budget;
  return {
    thresholds: [
      {
        priority: 'DEFAULT',
        ...(t?.maxConnections !== undefined ? { max_connections: wrapped(t.maxConnections) } : {}),
        ...(t?.maxPendingRequests !== undefined ? { max_pending_requests: wrapped(t.maxPendingRequests) } : {}),
        ...(t?.maxRequests !== undefined ? { max_requests: wrapped(t.maxRequests) } : {}),
        max_retries: wrapped(t?.maxRetries ?? UNLIMITED_RETRIES),
        ...(budget
          ? {
              retry_budget: {
                budget_percent: wrapped(budget.percent),
                ...(budget.minRetryConcurrency !== undefined ? { min_retry_concurrency: wrapped(budget.minRetryConcurrency) } : {}),
              },
            }
          : {}),
      },
    ],
  };
}

/**
 * Only the detectors the policy names eject. Envoy would otherwise also
 * enforce consecutive 5xx (default 5) and success rate, and proxyless gRPC
 * success rate: ejections nobody configured.
 */
function outlierDetectionFor(breaker: CircuitBreakerSpec | undefined): ResourceObject | undefined {
  const od = breaker?.outlierDetection;
  if (!od) return undefined;
  const on = wrapped(100);
  const off = wrapped(0);
  return {
    ...(od.consecutive5xx !== undefined ? { consecutive_5xx: wrapped(od.consecutive5xx), enforcing_consecutive_5xx: on } : { enforcing_consecutive_5xx: off }),
    ...(od.consecutiveGatewayErrors !== undefined ? { consecutive_gateway_failure: wrapped(od.consecutiveGatewayErrors), enforcing_consecutive_gateway_failure: on } : {}),
    ...(od.consecutiveConnectFailures !== undefined
      ? {
          // Connect failures are local-origin errors; without the split Envoy folds them into the 5xx count.
          split_external_local_origin_errors: true,
          consecutive_local_origin_failure: wrapped(od.consecutiveConnectFailures),
          enforcing_consecutive_local_origin_failure: on,
        }
      : {}),
    ...(od.interval !== undefined ? { interval: duration(od.interval) } : {}),
    ...(od.baseEjectionTime !== undefined ? { base_ejection_time: duration(od.baseEjectionTime) } : {}),
    ...(od.maxEjectionTime !== undefined ? { max_ejection_time: duration(od.maxEjectionTime) } : {}),
    ...(od.maxEjectionPercent !== undefined ? { max_ejection_percent: wrapped(od.maxEjectionPercent) } : {}),
    enforcing_success_rate: off,
  };
}
