/** The gateway's runtime config and how an xDS snapshot compiles into it: what other folders may use. */
export { compileSnapshot } from './compile.js';
export { compileCluster, DEFAULT_CONNECT_TIMEOUT_MS } from './clusters.js';
export { compileCircuitBreakers, compileOutlierDetection } from './cluster-limits.js';
export { compileLoadAssignment, localityKey, type LoadAssignmentOptions } from './endpoints.js';
export { compileListener, DEFAULT_TCP_IDLE_TIMEOUT_MS } from './listeners.js';
export { compileRbac, compileRbacFilter } from './rbac.js';
export { compileRouteConfiguration } from './routes.js';
export { durationMs, structToJson, wrappedBool, wrappedNumber } from './values.js';
export type * from './model.js';
