import type { Protocol } from '../../../core/schemas/dataplane.js';
import { meshHostname } from '../../../core/xds/names.js';
import type { TenantSnapshot } from './input.js';
import type { GenerationWarning } from './output.js';

export interface ServicePort {
  port: number;
  protocol: Protocol;
  name?: string;
}

/** One service of the tenant's catalogue, whether it runs here, elsewhere, or both. */
export interface CatalogService {
  name: string;
  namespace: string;
  hostname: string;
  /** Sorted by port. */
  ports: ServicePort[];
}

export const catalogueKey = (s: { namespace: string; name: string }) => `${s.namespace}/${s.name}`;

export const isHttpProtocol = (p: Protocol) => p !== 'tcp';
export const usesHttp2 = (p: Protocol) => p === 'http2' || p === 'grpc';

interface PortReport {
  port: number;
  protocol?: Protocol;
  name?: string;
  /** Who reported it: an endpoint's instance or a zone, for the warning. */
  from: { instance: string } | { zone: string };
}

const describeSource = (from: PortReport['from']) => ('instance' in from ? `endpoint ${from.instance}` : `zone ${from.zone}`);

/**
 * The tenant's service catalogue: the union of this zone's endpoints'
 * services and the services remote zones report, sorted by namespace/name.
 * A port's protocol is the first one reported (local endpoints by instance,
 * then remote zones by name); an unreported protocol is tcp, which works for
 * any traffic, where guessing http would break non-HTTP clients.
 */
export function serviceCatalogue(snapshot: TenantSnapshot): { services: CatalogService[]; warnings: GenerationWarning[] } {
  const reports = new Map<string, { name: string; namespace: string; ports: PortReport[] }>();
  const entry = (namespace: string, name: string) => {
    const key = catalogueKey({ namespace, name });
    let found = reports.get(key);
    if (!found) reports.set(key, (found = { name, namespace, ports: [] }));
    return found;
  };
  const locals = [...snapshot.localEndpoints].sort((a, b) => compare(a.instance, b.instance));
  for (const endpoint of locals) {
    const service = entry(endpoint.namespace, endpoint.service);
    for (const p of endpoint.ports) service.ports.push({ port: p.port, protocol: p.protocol, name: p.name, from: endpoint });
  }
  const remotes = [...snapshot.remoteInventories].sort((a, b) => compare(a.zone, b.zone));
  for (const inventory of remotes) {
    for (const reported of inventory.services) {
      const service = entry(reported.namespace, reported.name);
      for (const p of reported.ports) service.ports.push({ port: p.port, protocol: p.protocol, name: p.name, from: inventory });
    }
  }
  const warnings: GenerationWarning[] = [];
  const services = [...reports.entries()]
    .sort(([a], [b]) => compare(a, b))
    .map(([, s]) => ({ name: s.name, namespace: s.namespace, hostname: meshHostname(s.name, s.namespace), ports: resolvePorts(s, warnings) }))
    .filter((s) => s.ports.length > 0);
  return { services, warnings };
}

function resolvePorts(service: { name: string; namespace: string; ports: PortReport[] }, warnings: GenerationWarning[]): ServicePort[] {
  const byPort = new Map<number, PortReport[]>();
  for (const report of service.ports) {
    const reports = byPort.get(report.port);
    if (reports) reports.push(report);
    else byPort.set(report.port, [report]);
  }
  return [...byPort.entries()]
    .sort(([a], [b]) => a - b)
    .map(([port, all]) => {
      const declared = all.filter((r) => r.protocol !== undefined);
      const chosen = declared[0];
      const conflicting = declared.find((r) => r.protocol !== chosen?.protocol);
      if (chosen && conflicting) {
        warnings.push({
          code: 'protocol-conflict',
          message: `service ${service.namespace}/${service.name} port ${port}: ${describeSource(chosen.from)} says ${chosen.protocol}, ${describeSource(conflicting.from)} says ${conflicting.protocol}; using ${chosen.protocol}`,
        });
      }
      const name = all.find((r) => r.name)?.name;
      return { port, protocol: chosen?.protocol ?? 'tcp', ...(name ? { name } : {}) };
    });
}

export const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
