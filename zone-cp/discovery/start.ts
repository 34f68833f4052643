import type { Logger } from '../../core/log.js';
import type { Locality } from '../../core/schemas/dataplane.js';
import type { InventoryService } from '../../core/schemas/federation.js';
import { watchServicesFile, type ServicesFile } from '../inventory/services-file.js';
import type { LocalEndpoint } from './model.js';
import { UniversalDiscovery } from './universal.js';
import type { KubeConfig } from '@kubernetes/client-node';

/** The zone's workload discovery as the rest of the zone CP sees it, whichever mode runs. */
export interface Discovery {
  name: 'universal' | 'kubernetes' | 'services-file';
  /** Set in universal mode: the registration API writes into it. */
  universal: UniversalDiscovery | undefined;
  endpoints(): LocalEndpoint[];
  /** Services-file mode reports counts, not endpoints: its inventory is taken as written. */
  inventory(): Record<string, InventoryService[]> | undefined;
  ingressAddress(): string | undefined;
  ready(): boolean;
  stop(): Promise<void>;
}

export interface DiscoveryConfig {
  stateDir: string;
  servicesFile?: string;
  kubeConfig?: KubeConfig;
  dataplaneLiveness?: { unhealthyAfterMs: number; removeAfterMs: number };
}

/** Starts the discovery mode the config asks for; `onChange` after every change of endpoints or inventory. */
export async function startDiscovery(config: DiscoveryConfig, zoneLocality: () => Locality, log: Logger, onChange: () => void): Promise<Discovery> {
  if (config.servicesFile) {
    let services: ServicesFile = { tenants: {} };
    const stopWatching = watchServicesFile(
      config.servicesFile,
      (file) => {
        services = file;
        onChange();
      },
      (error) => log.error({ err: error.message }, 'services file rejected; keeping the last good one'),
    );
    return {
      name: 'services-file',
      universal: undefined,
      endpoints: () => [],
      inventory: () => services.tenants,
      ingressAddress: () => services.ingressAddress,
      // An unreadable file must not hold the zone back from serving what NATS has.
      ready: () => true,
      stop: async () => stopWatching(),
    };
  }
  let endpoints: LocalEndpoint[] = [];
  // Loaded only in Kubernetes mode: the client library costs a second of start-up everywhere else.
  const source = config.kubeConfig
    ? new (await import('./kubernetes.js')).KubernetesDiscovery({ kubeConfig: config.kubeConfig, defaultLocality: liveLocality(zoneLocality), log })
    : new UniversalDiscovery({ stateDir: config.stateDir, defaultLocality: zoneLocality, ...(config.dataplaneLiveness ? { liveness: config.dataplaneLiveness } : {}), log });
  const started = source.start((next) => {
    endpoints = next;
    onChange();
  });
  // Universal mode starts from its own file; Kubernetes may be unreachable for a while, and the zone must serve meanwhile.
  if (source instanceof UniversalDiscovery) await started;
  else started.catch((error: Error) => log.error({ err: error.message }, 'Kubernetes discovery could not start'));
  return {
    name: config.kubeConfig ? 'kubernetes' : 'universal',
    universal: source instanceof UniversalDiscovery ? source : undefined,
    endpoints: () => endpoints,
    inventory: () => undefined,
    ingressAddress: () => undefined,
    ready: () => source.ready(),
    stop: () => source.stop(),
  };
}

/** A Locality whose fields are read when used: the zone's region is known only once the global CP has answered. */
function liveLocality(current: () => Locality): Locality {
  return {
    get region() {
      return current().region;
    },
    get zone() {
      return current().zone;
    },
  };
}
