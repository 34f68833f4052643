import { CoreV1Api, DiscoveryV1Api, type KubeConfig, type V1EndpointSlice, type V1Namespace, type V1Pod, type V1Service } from '@kubernetes/client-node';
import type { Logger } from '../../core/log.js';
import type { Locality } from '../../core/schemas/dataplane.js';
import { TENANT_LABEL, mapKubernetesEndpoints, podTenantConflicts } from './kubernetes-mapping.js';
import { ResilientInformer, type Backoff } from './kubernetes-informer.js';
import type { DiscoverySource, LocalEndpoint } from './model.js';

export interface KubernetesDiscoveryOptions {
  /** Production: `kc.loadFromDefault()` (in-cluster service account or KUBECONFIG); tests: the fake apiserver. */
  kubeConfig: KubeConfig;
  /** Locality of endpoints whose slice and pod carry no topology (see endpointLocality). */
  defaultLocality: Locality;
  log: Logger;
  /** Changes arriving within this window are delivered as one set. Default 20 ms. */
  debounceMs?: number;
  /** Restart back-off of a failed watch or list. Default 500 ms doubling to 30 s. */
  backoff?: Backoff;
  /** Default 300 s (client-go uses 5-10 min). */
  watchTimeoutSeconds?: number;
}

/**
 * Kubernetes mode: the zone's mesh endpoints from Namespaces, Services,
 * EndpointSlices and Pods, each followed by a list/watch informer. Only a
 * full, listed picture is ever delivered; while a watch is down the last
 * picture stands (static stability) and the informer is restarted with back-off.
 */
export class KubernetesDiscovery implements DiscoverySource {
  readonly name = 'kubernetes';
  private readonly namespaces: ResilientInformer<V1Namespace>;
  private readonly services: ResilientInformer<V1Service>;
  private readonly slices: ResilientInformer<V1EndpointSlice>;
  private readonly pods: ResilientInformer<V1Pod>;
  private onChange: ((endpoints: LocalEndpoint[]) => void) | undefined;
  private delivered = false;
  private lastDelivered = '';
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private initialDelivery: (() => void) | undefined;
  private loggedConflicts = new Set<string>();

  constructor(private readonly options: KubernetesDiscoveryOptions) {
    const core = options.kubeConfig.makeApiClient(CoreV1Api);
    const discovery = options.kubeConfig.makeApiClient(DiscoveryV1Api);
    const common = {
      kubeConfig: options.kubeConfig,
      log: options.log,
      backoff: options.backoff ?? { initialMs: 500, maxMs: 30_000 },
      watchTimeoutSeconds: options.watchTimeoutSeconds ?? 300,
      onChange: () => this.changed(),
      onStarted: () => this.maybeDeliverFirst(),
    };
    this.namespaces = new ResilientInformer({ ...common, kind: 'Namespace', path: '/api/v1/namespaces', list: () => core.listNamespace() });
    this.services = new ResilientInformer({ ...common, kind: 'Service', path: '/api/v1/services', list: () => core.listServiceForAllNamespaces() });
    this.slices = new ResilientInformer({
      ...common,
      kind: 'EndpointSlice',
      path: '/apis/discovery.k8s.io/v1/endpointslices',
      list: () => discovery.listEndpointSliceForAllNamespaces(),
    });
    this.pods = new ResilientInformer({ ...common, kind: 'Pod', path: '/api/v1/pods', list: () => core.listPodForAllNamespaces() });
  }

  private get informers() {
    return [this.namespaces, this.services, this.slices, this.pods];
  }

  /**
   * Resolves after the first full set has been delivered (retrying the lists
   * with back-off until then), or on stop(). One start per instance.
   */
  async start(onChange: (endpoints: LocalEndpoint[]) => void): Promise<void> {
    if (this.onChange || this.stopped) throw new Error('kubernetes discovery: start() is allowed once, before stop()');
    this.onChange = onChange;
    const first = new Promise<void>((resolve) => (this.initialDelivery = resolve));
    for (const informer of this.informers) informer.start();
    await first;
  }

  ready(): boolean {
    return this.delivered;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.onChange = undefined;
    this.initialDelivery?.();
    await Promise.all(this.informers.map((i) => i.stop()));
  }

  /** Current endpoints from the informer caches. */
  endpoints(): LocalEndpoint[] {
    const namespaces = this.namespaces.objects();
    const pods = this.pods.objects();
    this.logTenantConflicts(namespaces, pods);
    return mapKubernetesEndpoints(namespaces, this.services.objects(), this.slices.objects(), pods, { locality: this.options.defaultLocality });
  }

  private maybeDeliverFirst(): void {
    if (this.delivered || this.stopped || !this.informers.every((i) => i.listed)) return;
    this.delivered = true;
    const count = this.deliver();
    this.options.log.info({ endpoints: count }, 'kubernetes discovery synced');
    this.initialDelivery?.();
  }

  // Coalesces rather than postpones: under constant churn a set still goes out every debounceMs.
  private changed(): void {
    if (!this.delivered || this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.deliver();
    }, this.options.debounceMs ?? 20);
  }

  // Pod status churn rarely changes an endpoint: only a different set is delivered.
  private deliver(): number {
    const endpoints = this.endpoints();
    const serialized = JSON.stringify(endpoints);
    if (this.stopped || !this.onChange || serialized === this.lastDelivered) return endpoints.length;
    this.lastDelivered = serialized;
    this.onChange(endpoints);
    return endpoints.length;
  }

  private logTenantConflicts(namespaces: readonly V1Namespace[], pods: readonly V1Pod[]): void {
    const current = new Set<string>();
    for (const c of podTenantConflicts(namespaces, pods)) {
      const key = `${c.namespace}/${c.pod}/${c.podTenant}/${c.namespaceTenant}`;
      current.add(key);
      if (!this.loggedConflicts.has(key)) {
        this.options.log.warn(c, `pod label ${TENANT_LABEL} disagrees with its namespace; the namespace's tenant applies`);
      }
    }
    // Only the conflicts that still exist are remembered: the set stays bounded, and a conflict that returns is logged again.
    this.loggedConflicts = current;
  }
}
