/** Load balancing for the gateway: what other folders may use. */
export { DEFAULT_OVERPROVISIONING_FACTOR, endpointKey, type Endpoint, type LoadAssignment, type LocalityEndpoints, type PriorityLevel } from './assignment.js';
export { ClusterPicker, type ClusterLoadState, type ClusterPickerOptions, type Host } from './cluster-picker.js';
export { OUTLIER_DEFAULTS, OutlierDetector, outlierConfig, type Ejection, type EjectionReason, type OutlierDetectionConfig, type OutlierDetectionInput, type OutlierOutcome } from './outlier.js';
export { DEFAULT_PANIC_THRESHOLD } from './priority.js';
export { pickWeightedCluster, type ClusterWeight } from './weighted-clusters.js';
