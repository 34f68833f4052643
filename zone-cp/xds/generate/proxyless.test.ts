import { register } from '@grpc/grpc-js-xds';
import { ClusterResourceType } from '@grpc/grpc-js-xds/build/src/xds-resource-type/cluster-resource-type.js';
import { EndpointResourceType } from '@grpc/grpc-js-xds/build/src/xds-resource-type/endpoint-resource-type.js';
import { ListenerResourceType } from '@grpc/grpc-js-xds/build/src/xds-resource-type/listener-resource-type.js';
import { RouteConfigurationResourceType } from '@grpc/grpc-js-xds/build/src/xds-resource-type/route-config-resource-type.js';
import type { XdsDecodeContext } from '@grpc/grpc-js-xds/build/src/xds-resource-type/xds-resource-type.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeResource, RESOURCE_TYPES, TYPE_URL, type ResourceType } from '../../../core/xds/protos.js';
import { ACME, endpoint, inventory, locality, PROXYLESS_CLIENT } from './fixtures.js';
import { BUNDLE_PROVIDER_INSTANCE, buildTenantModel, proxyResources, SVID_PROVIDER_INSTANCE } from './index.js';

/*
 * What proxyless gRPC (@grpc/grpc-js-xds) would NACK, checked with its own
 * resource validators rather than a reading of them.
 */

const DECODERS = {
  listener: ListenerResourceType.get(),
  route: RouteConfigurationResourceType.get(),
  cluster: ClusterResourceType.get(),
  endpoint: EndpointResourceType.get(),
};

const context = (providers: string[]) =>
  ({
    server: { serverUri: 'zone-cp:5678', channelCredentials: { type: 'insecure' }, serverFeatures: [] },
    bootstrap: { certificateProviders: Object.fromEntries(providers.map((p) => [p, { pluginName: 'file_watcher', config: {} }])) },
  }) as unknown as XdsDecodeContext;

function grpcErrors(type: ResourceType, resource: Record<string, unknown>, providers = [SVID_PROVIDER_INSTANCE, BUNDLE_PROVIDER_INSTANCE]): string | undefined {
  const any = encodeResource(TYPE_URL[type], resource);
  return DECODERS[type].decode(context(providers), { type_url: any.type_url, value: any.value }).error;
}

describe('proxyless gRPC accepts what it is sent', () => {
  beforeAll(() => register());

  for (const mtls of [true, false]) {
    it(`every listener, route, cluster and endpoint of the fixture tenant (mtls ${mtls})`, () => {
      const resources = proxyResources(buildTenantModel(ACME), { ...PROXYLESS_CLIENT, mtls });
      const errors = RESOURCE_TYPES.flatMap((type) => resources[type].map((r) => [r.name, grpcErrors(type, r.resource)]).filter(([, e]) => e));
      expect(errors).toEqual([]);
      expect(resources.listener.length).toBeGreaterThan(0);
    });
  }

  it('an mTLS cluster names the certificate providers the bootstrap must define', () => {
    const cluster = proxyResources(buildTenantModel(ACME), PROXYLESS_CLIENT).cluster[0]!;
    expect(grpcErrors('cluster', cluster.resource, [])).toMatch(/Unmatched .*meshfed-svid/);
  });

  it('the endpoint validator really rejects what generation avoids (gaps, duplicates, host names)', () => {
    const lb = (address: string) => ({ endpoint: { address: { socket_address: { address, port_value: 1 } } } });
    const loc = (priority: number, address: string) => ({ locality: { region: 'r', zone: `z${priority}` }, lb_endpoints: [lb(address)], load_balancing_weight: { value: 1 }, priority });
    expect(grpcErrors('endpoint', { cluster_name: 'c', endpoints: [loc(0, '10.0.0.1'), loc(2, '10.0.0.2')] })).toMatch(/priority 2 but not 1/);
    expect(grpcErrors('endpoint', { cluster_name: 'c', endpoints: [loc(0, '10.0.0.1'), loc(1, '10.0.0.1')] })).toMatch(/duplicate/);
    expect(grpcErrors('endpoint', { cluster_name: 'c', endpoints: [loc(0, 'host.example')] })).toMatch(/not a valid IPv4 or IPv6/);
  });

  it('stays valid when the own zone has no endpoints and remote zones share nothing', () => {
    const snapshot = {
      ...ACME,
      localEndpoints: [endpoint({ service: 'api', instance: 'api-1', address: '10.1.0.1', ports: [{ port: 80, protocol: 'grpc' as const }], locality: locality('eu-west', 'zone-x') })],
      remoteInventories: [
        inventory('zone-b', '192.0.2.20:10001', [{ namespace: 'shop', name: 'api', ports: [{ port: 80 }], localities: [{ region: 'us-east', zone: 'zone-b', endpoints: 1, healthy: 1 }] }]),
        inventory('zone-c', '192.0.2.20:10001', [{ namespace: 'shop', name: 'api', ports: [{ port: 80 }], localities: [{ region: 'us-east', zone: 'zone-c', endpoints: 1, healthy: 1 }] }]),
      ],
    };
    const resources = proxyResources(buildTenantModel(snapshot), PROXYLESS_CLIENT);
    for (const r of resources.endpoint) expect(grpcErrors('endpoint', r.resource)).toBeUndefined();
  });
});
