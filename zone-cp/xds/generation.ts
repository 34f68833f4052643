import type { Logger } from '../../core/log.js';
import { TYPE_URL, type ResourceType } from '../../core/xds/protos.js';
import type { LocalEndpoint } from '../discovery/model.js';
import type { TenantView } from '../sync/tenant-view.js';
import type { GeneratedResources } from './cache/proxy-snapshots.js';
import { buildTenantModel, ingressResources, proxyResources, tenantOutboundResources, tenantSnapshotFromView, type ResourceSet, type TenantModel } from './generate/index.js';
import type { ProxyDescription } from './identify.js';

/**
 * Keeps one generation model per tenant, rebuilt (reusing every unchanged
 * service's model, so caches keyed on them stay warm) the first time a proxy
 * needs it after something changed.
 */
export class TenantModels {
  private readonly models = new Map<string, TenantModel>();
  private dirty = new Set<string>();
  private readonly warned = new Map<string, string>();

  constructor(
    private readonly source: { zone: string; tenants(): Record<string, TenantView>; endpoints(): LocalEndpoint[] },
    private readonly log: Logger,
  ) {}

  /** Every tenant's inputs may have changed (policy, inventories, endpoints). */
  invalidate(): void {
    this.dirty = new Set(Object.keys(this.source.tenants()));
    for (const tenant of this.models.keys()) if (!this.source.tenants()[tenant]) this.models.delete(tenant);
  }

  placed(): string[] {
    return Object.keys(this.source.tenants()).sort();
  }

  model(tenant: string): TenantModel | undefined {
    const view = this.source.tenants()[tenant];
    if (!view) return undefined;
    let model = this.models.get(tenant);
    if (!model || this.dirty.has(tenant)) {
      model = buildTenantModel(tenantSnapshotFromView(view, this.source.zone, this.source.endpoints()), model);
      this.models.set(tenant, model);
      this.dirty.delete(tenant);
      this.logWarnings(tenant, model);
    }
    return model;
  }

  /** Generation warnings (port conflicts, unusable ingress addresses…) once per tenant per distinct set. */
  private logWarnings(tenant: string, model: TenantModel): void {
    const warnings = tenantOutboundResources(model, { mtls: false }).warnings;
    const key = warnings.map((w) => `${w.code}:${w.message}`).join('\n');
    if (key === (this.warned.get(tenant) ?? '')) return;
    this.warned.set(tenant, key);
    for (const w of warnings) this.log.warn({ tenant, code: w.code }, w.message);
  }
}

/**
 * One proxy's resources by type URL, from its tenant's model; for the
 * ingress, from every placed tenant's. A tenant no longer placed here gets nothing.
 */
export function generateProxyResources(models: TenantModels, proxy: ProxyDescription): GeneratedResources {
  if (proxy.kind === 'ingress') {
    const tenants = models.placed().flatMap((t) => models.model(t) ?? []);
    return byTypeUrl(ingressResources({ proxy, tenants, listenPort: proxy.ingressPort ?? 0 }));
  }
  const model = models.model(proxy.tenant);
  if (!model) return new Map();
  return byTypeUrl(proxyResources(model, proxy));
}

function byTypeUrl(set: ResourceSet): GeneratedResources {
  return new Map((Object.keys(TYPE_URL) as ResourceType[]).map((type) => [TYPE_URL[type], new Map(set[type].map((r) => [r.name, r.resource]))]));
}

/**
 * Proxies that get identical config share one snapshot: proxyless clients of
 * one tenant in one zone and TLS mode (generation reads nothing else of
 * them). Sidecars and ingresses have their own inbound side: no key.
 */
export function proxyShareKey(proxy: ProxyDescription): string | undefined {
  return proxy.kind === 'proxyless' ? `${proxy.tenant}|${proxy.locality.region}/${proxy.locality.zone}|${proxy.mtls}` : undefined;
}
