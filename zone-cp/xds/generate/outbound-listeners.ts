import { clusterName } from '../../../core/xds/names.js';
import { SIDECAR_UPGRADES, httpConnectionManager, httpConnectionManagerFilter, tcpProxyFilter } from './http.js';
import type { ProxyDescription } from './input.js';
import type { ServiceModel } from './model.js';
import { outboundPortName } from './names.js';
import type { GenerationWarning, NamedResource } from './output.js';
import { duration, socketAddress } from './proto-values.js';
import { serviceVirtualHost } from './routes.js';
import { compare, isHttpProtocol } from './services.js';

export const OUTBOUND_BIND_ADDRESS = '127.0.0.1';

/**
 * Sidecar outbound listeners, Istio-style: one per distinct port on
 * 127.0.0.1:<port>. An HTTP port routes by Host header to each service on
 * it; a TCP port can only forward to one service. Depends on the tenant's
 * services only, so every sidecar of the tenant shares the result.
 */
export function outboundPortListeners(services: readonly ServiceModel[]): { listeners: NamedResource[]; routes: NamedResource[]; warnings: GenerationWarning[] } {
  const byPort = new Map<number, { service: ServiceModel; http: boolean }[]>();
  for (const service of services) {
    for (const { port, protocol } of service.ports) {
      const entry = { service, http: isHttpProtocol(protocol) };
      const onPort = byPort.get(port);
      if (onPort) onPort.push(entry);
      else byPort.set(port, [entry]);
    }
  }
  const listeners: NamedResource[] = [];
  const routes: NamedResource[] = [];
  const warnings: GenerationWarning[] = [];
  for (const [port, onPort] of [...byPort.entries()].sort(([a], [b]) => a - b)) {
    const name = outboundPortName(port);
    const http = onPort.filter((s) => s.http).map((s) => s.service);
    const tcp = onPort.filter((s) => !s.http).map((s) => s.service);
    let filter;
    if (http.length) {
      // HTTP wins the port: it can serve many services at once, TCP only one.
      if (tcp.length) warnings.push({ code: 'tcp-port-conflict', message: `${name}: HTTP services share the port, so TCP ${names(tcp)} cannot be reached through it` });
      routes.push({ name, resource: { name, virtual_hosts: http.map((s) => serviceVirtualHost(s, port, [s.hostname, `${s.hostname}:${port}`])) } });
      filter = httpConnectionManagerFilter(httpConnectionManager(name, { rds: name }, [], SIDECAR_UPGRADES));
    } else {
      const [first, ...others] = [...tcp].sort((a, b) => compare(a.name, b.name) || compare(a.namespace, b.namespace));
      if (others.length) warnings.push({ code: 'tcp-port-conflict', message: `${name}: TCP services ${names(tcp)} share the port; ${first!.namespace}/${first!.name} (first by name) gets it` });
      const idle = first!.policies.Timeout?.spec.idle;
      filter = tcpProxyFilter(name, clusterName(first!.name, first!.namespace, port), idle ? duration(idle) : undefined);
    }
    listeners.push({ name, resource: { name, address: socketAddress(OUTBOUND_BIND_ADDRESS, port), traffic_direction: 'OUTBOUND', filter_chains: [{ filters: [filter] }] } });
  }
  return { listeners, routes, warnings };
}

const names = (services: ServiceModel[]) => services.map((s) => `${s.namespace}/${s.name}`).join(', ');

/**
 * Ports a sidecar cannot open an outbound listener on: its application's
 * ports (the app owns 127.0.0.1:<targetPort ?? port>), and its inbound ports
 * when the inbound listener binds all addresses or loopback.
 */
export function outboundPortsTakenBy(proxy: ProxyDescription): Set<number> {
  const inboundOnLoopback = !proxy.address || proxy.address === '0.0.0.0' || proxy.address === '::' || proxy.address.startsWith('127.') || proxy.address === '::1';
  return new Set(proxy.inbound.flatMap((p) => [p.targetPort ?? p.port, ...(inboundOnLoopback ? [p.port] : [])]));
}
