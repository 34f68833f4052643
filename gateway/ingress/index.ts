/** What other folders may use of the east-west ingress gateway. */
export { MAX_CLIENT_HELLO_BYTES, parseClientHello, type ClientHelloResult } from './client-hello.js';
export { IngressServer, type EndpointPicker, type IngressServerOptions, type UpstreamEndpoint, type UpstreamOutcome } from './ingress-server.js';
export type { IngressConnectionResult } from './ingress-metrics.js';
export { INGRESS_REJECT_REASONS, decideIngressRoute, type IngressRejectReason, type IngressRoute, type IngressRouteDecision, type IngressRoutingTable } from './sni-router.js';
export { ingressConfigFromSnapshot, type IngressClusterConfig, type IngressConfig } from './from-snapshot.js';
export { IngressGateway, type IngressGatewayOptions } from './ingress-gateway.js';
