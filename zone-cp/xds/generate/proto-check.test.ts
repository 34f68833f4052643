import { describe, expect, it } from 'vitest';
import { TYPE_URL } from '../../../core/xds/protos.js';
import { protoProblems } from './proto-check.js';

const cluster = (extra: Record<string, unknown>) => ({
  name: 'c',
  type: 'EDS',
  eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' } },
  connect_timeout: { seconds: 1, nanos: 0 },
  lb_policy: 'ROUND_ROBIN',
  ...extra,
});

describe('protoProblems', () => {
  it('passes a sound resource', () => {
    expect(protoProblems(TYPE_URL.cluster, cluster({}))).toEqual([]);
  });

  it('finds what protobufjs drops silently: unknown fields (nested Anys too), unknown enum names, snake_case Struct values', () => {
    const problems = protoProblems(
      TYPE_URL.cluster,
      cluster({
        lb_polcy: 'RANDOM',
        lb_policy: 'ROUND_ROBN',
        transport_socket: { name: 'tls', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext', snii: 'x' } },
        metadata: { filter_metadata: { meshfed: { fields: { remote: { bool_value: true } } } } },
      }),
    );
    expect(problems).toEqual([
      '/lb_policy: "ROUND_ROBN" is not a LbPolicy',
      '/lb_polcy: Cluster has no field "lb_polcy"',
      '/transport_socket/typed_config/snii: UpstreamTlsContext has no field "snii"',
      '/metadata/filter_metadata/meshfed/fields/remote/bool_value: Value has no field "bool_value"',
    ]);
  });

  it('finds an Any whose type it does not know', () => {
    expect(protoProblems(TYPE_URL.cluster, cluster({ transport_socket: { name: 'x', typed_config: { '@type': 'type.googleapis.com/no.Such' } } }))).toEqual([
      '/transport_socket/typed_config: Any with unknown @type type.googleapis.com/no.Such',
    ]);
  });

  it('finds the validation rules Envoy would NACK: bounds, required fields, empty names and lists', () => {
    expect(protoProblems(TYPE_URL.cluster, cluster({ connect_timeout: { seconds: 0, nanos: 0 } }))).toEqual(['/connect_timeout: violates duration bounds']);
    const endpoint = { cluster_name: 'c', endpoints: [{ lb_endpoints: [], load_balancing_weight: { value: 0 }, priority: 0 }] };
    expect(protoProblems(TYPE_URL.endpoint, endpoint)).toEqual(['/endpoints/0/load_balancing_weight: violates uint32 bounds {"gte":1}']);
    const route = { name: 'r', virtual_hosts: [{ name: 'v', domains: [], routes: [{}, { match: { prefix: '/' }, route: { cluster: '' } }] }] };
    expect(protoProblems(TYPE_URL.route, route)).toEqual([
      '/virtual_hosts/0/routes/0: oneof action is required',
      '/virtual_hosts/0/routes/0/match: violates required',
      '/virtual_hosts/0/routes/1/route/cluster: violates string.min_len',
      '/virtual_hosts/0/domains: violates repeated.min_items',
    ]);
  });
});
