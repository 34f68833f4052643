/** The gateway's observability: trace context, access log and proxy metrics — what other folders may use. */
export {
  RESPONSE_FLAGS,
  accessLogRecord,
  createAccessLogger,
  rbacDeniedDetails,
  type AccessLogDestination,
  type AccessLogEntry,
  type AccessLogProtocol,
  type AccessLogger,
  type AccessLoggerOptions,
  type ResponseFlag,
} from './access-log.js';
export {
  ProxyMetrics,
  REQUEST_DURATION_BUCKETS,
  TCP_CONNECTION_RESULTS,
  UNKNOWN,
  responseCodeClass,
  type ClusterStateSource,
  type CompletedRequest,
  type TcpConnectionResult,
  type TrafficDirection,
} from './proxy-metrics.js';
export { FRESH_TRACE_FLAGS, childTraceparent, isSampled, parseTraceparent, type ChildTraceparent, type RandomBytes, type Traceparent } from './traceparent.js';
