/**
 * Where each demo workload of a topology lives on this machine. Every
 * workload gets two loopback addresses, as a pod would get its own IP:
 * its workload address (the sidecar's inbound listener, what the zone CP
 * hands to callers) and the address of its sidecar's outbound listeners.
 * Zone i (from 1) uses <prefix>.<i>.<n> and <prefix>.<100+i>.<n>. Pure.
 */
import { DEFAULT_CLIENT_PORT, DEFAULT_CLIENT_RATE, DEFAULT_LOOPBACK_PREFIX, callTarget } from './topology.js';
import type { Topology } from './topology-schema.js';

export interface WorkloadPlan {
  zone: string;
  region: string;
  role: 'service' | 'client';
  tenant: string;
  namespace: string;
  service: string;
  instance: string;
  /** The workload's address: its sidecar's inbound listener binds here, on `port`. */
  address: string;
  /** Where its sidecar's outbound listeners bind. */
  outboundAddress: string;
  /** Mesh port of its inbound side. */
  port: number;
  tags: Record<string, string>;
  /** Clients: what the load generator calls, and how often. */
  traffic?: { service: string; namespace: string; port: number; rate: number; path: string };
}

export interface ZonePlan {
  name: string;
  region: string;
  /** 1-based position in the topology. */
  index: number;
  workloads: WorkloadPlan[];
}

export function planTopology(topology: Topology): ZonePlan[] {
  const prefix = topology.network?.loopbackPrefix ?? DEFAULT_LOOPBACK_PREFIX;
  return topology.zones.map((zone, i) => {
    const index = i + 1;
    let n = 0;
    const next = () => {
      n += 1;
      return { address: `${prefix}.${index}.${n}`, outboundAddress: `${prefix}.${100 + index}.${n}` };
    };
    const workloads: WorkloadPlan[] = [];
    for (const service of zone.services ?? []) {
      for (let k = 1; k <= service.instances; k++) {
        workloads.push({
          zone: zone.name,
          region: zone.region,
          role: 'service',
          tenant: service.tenant,
          namespace: service.namespace,
          service: service.name,
          instance: `${service.name}-${zone.name}-${k}`,
          ...next(),
          port: service.port,
          tags: { ...service.tags },
        });
      }
    }
    for (const client of zone.clients ?? []) {
      const target = callTarget(client);
      workloads.push({
        zone: zone.name,
        region: zone.region,
        role: 'client',
        tenant: client.tenant,
        namespace: client.namespace,
        service: client.service,
        instance: `${client.service}-${zone.name}`,
        ...next(),
        port: client.port ?? DEFAULT_CLIENT_PORT,
        tags: { ...client.tags },
        traffic: { ...target, rate: client.rate ?? DEFAULT_CLIENT_RATE, path: client.path ?? '/' },
      });
    }
    return { name: zone.name, region: zone.region, index, workloads };
  });
}

/** The Host header (and mesh name) of a client's target. */
export const meshHost = (traffic: { service: string; namespace: string; port: number }) => `${traffic.service}.${traffic.namespace}.mesh:${traffic.port}`;
