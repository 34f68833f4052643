import type { InboundPort, Locality } from '../../core/schemas/dataplane.js';

/**
 * One workload instance of this zone, whatever discovered it (universal
 * registration, Kubernetes, services file). The unit xDS generation and the
 * inventory are computed from.
 */
export interface LocalEndpoint {
  tenant: string;
  namespace: string;
  service: string;
  /** Unique within tenant/namespace/service (pod name, registered instance name). */
  instance: string;
  /** IP literal. */
  address: string;
  ports: InboundPort[];
  serviceAccount: string;
  tags: Record<string, string>;
  locality: Locality;
  healthy: boolean;
}

/** Where local endpoints come from; each source replaces its whole set on every change. */
export interface DiscoverySource {
  readonly name: string;
  /** Calls onChange with the full current set now (once known) and after every change. */
  start(onChange: (endpoints: LocalEndpoint[]) => void): Promise<void>;
  stop(): Promise<void>;
  /** True once the first complete listing has been delivered. */
  ready(): boolean;
}

/** Stable identity of an endpoint across sources and updates. */
export const endpointKey = (e: Pick<LocalEndpoint, 'tenant' | 'namespace' | 'service' | 'instance'>) => `${e.tenant}/${e.namespace}/${e.service}/${e.instance}`;
