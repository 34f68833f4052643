import type { LocalEndpoint } from '../discovery/model.js';
import type { TenantView } from '../sync/tenant-view.js';
import type { GeneratedResources } from './cache/proxy-snapshots.js';
import type { ProxyDescription } from './identify.js';

// PLACEHOLDER until generate/index.ts lands (not committed).
export function generateProxyResources(_zone: string, _region: string, _view: TenantView | undefined, _endpoints: LocalEndpoint[], _proxy: ProxyDescription): GeneratedResources {
  return new Map();
}
