/** The gateway's xDS client: what other folders may use. */
export { AdsClient, type AdsClientOptions } from './ads-client.js';
export { AdsClientState, type DiscoveryRequest, type DiscoveryResponse, type ResponseOutcome } from './client-state.js';
export { gatewayNode, type AdsNode, type GatewayKind, type GatewayNodeOptions } from './node.js';
export { edsServiceName, listenerClusters, routeConfigClusters, routeConfigNames, resourceName, type DecodedResource } from './resources.js';
export { missingReferences, nothingMissing, type MissingReferences, type XdsSnapshot } from './snapshot.js';
export { XDS_SNAPSHOT_FORMAT } from './snapshot-file.js';
export { validateResource, type ResourceValidator } from './validate.js';
