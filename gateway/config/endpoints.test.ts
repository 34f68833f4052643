import { describe, expect, it } from 'vitest';
import { compileLoadAssignment, localityKey } from './endpoints.js';
import { ConfigProblem } from './problems.js';

const endpoint = (address: string, port: number, extra: Record<string, unknown> = {}) => ({ endpoint: { address: { socket_address: { address, port_value: port } } }, ...extra });

describe('compileLoadAssignment', () => {
  it('groups localities by priority, in priority order, merging entries of one priority', () => {
    const assignment = compileLoadAssignment({
      cluster_name: 'c',
      endpoints: [
        { locality: { region: 'us', zone: 'c' }, priority: 2, lb_endpoints: [endpoint('10.0.0.3', 80)], load_balancing_weight: { value: 4 } },
        { locality: { region: 'eu', zone: 'a', sub_zone: 'r1' }, lb_endpoints: [endpoint('10.0.0.1', 80)], load_balancing_weight: { value: 2 } },
        { locality: { region: 'eu', zone: 'b' }, priority: '1', lb_endpoints: [endpoint('10.0.0.2', 80)], load_balancing_weight: { value: 3 } },
        { locality: { region: 'eu', zone: 'a', sub_zone: 'r2' }, priority: 0, lb_endpoints: [endpoint('10.0.0.4', 80)], load_balancing_weight: { value: 1 } },
      ],
      policy: { overprovisioning_factor: { value: 125 } },
    });
    expect(assignment.levels.map((l) => [l.priority, l.localities.map((x) => `${x.key}=${x.weight}`)])).toEqual([
      [0, ['eu/a/r1=2', 'eu/a/r2=1']],
      [1, ['eu/b/=3']],
      [2, ['us/c/=4']],
    ]);
    expect(assignment.overprovisioningFactor).toBe(125);
  });

  it('weights a locality without load_balancing_weight 1, or 0 under locality-weighted balancing (Envoy: no load)', () => {
    const cla = { endpoints: [{ lb_endpoints: [endpoint('10.0.0.1', 80)] }, { lb_endpoints: [endpoint('10.0.0.2', 80)], load_balancing_weight: {} }] };
    expect(compileLoadAssignment(cla).levels[0]!.localities.map((l) => l.weight)).toEqual([1, 0]);
    expect(compileLoadAssignment(cla, { localityWeighted: true }).levels[0]!.localities.map((l) => l.weight)).toEqual([0, 0]);
    expect(compileLoadAssignment(cla).overprovisioningFactor).toBeUndefined();
  });

  it('reads health: HEALTHY, UNKNOWN or absent may take traffic, the rest may not', () => {
    const statuses = ['HEALTHY', 'UNKNOWN', undefined, 'UNHEALTHY', 'DRAINING', 'TIMEOUT', 'DEGRADED'];
    const cla = { endpoints: [{ lb_endpoints: statuses.map((s, i) => endpoint(`10.0.0.${i}`, 80, s ? { health_status: s } : {})) }] };
    expect(compileLoadAssignment(cla).levels[0]!.localities[0]!.endpoints.map((e) => e.healthy)).toEqual([true, true, true, false, false, false, false]);
  });

  it('reads endpoint weights and unwraps filter_metadata from the Struct form', () => {
    const metadata = {
      filter_metadata: {
        meshfed: { fields: { remote: { boolValue: true, kind: 'boolValue' }, zone: { stringValue: 'zone-c' } } },
        'envoy.transport_socket_match': { fields: { 'meshfed.remote': { boolValue: true } } },
      },
    };
    const [e] = compileLoadAssignment({ endpoints: [{ lb_endpoints: [endpoint('2001:db8::30', 10001, { metadata, load_balancing_weight: { value: 7 } })] }] }).levels[0]!.localities[0]!.endpoints;
    expect(e).toEqual({
      address: '2001:db8::30',
      port: 10001,
      healthy: true,
      weight: 7,
      metadata: { meshfed: { remote: true, zone: 'zone-c' }, 'envoy.transport_socket_match': { 'meshfed.remote': true } },
    });
  });

  it('refuses endpoints without a TCP socket address, saying where', () => {
    const bad = (address: unknown) => ({ endpoints: [{ locality: { region: 'eu', zone: 'a' }, lb_endpoints: [{ endpoint: { address } }] }] });
    expect(() => compileLoadAssignment(bad({ pipe: { path: '/x' } }))).toThrow(/^locality eu\/a\/: endpoint #0: no socket address/);
    expect(() => compileLoadAssignment(bad({ socket_address: { address: '10.0.0.1', named_port: 'http' } }))).toThrow(ConfigProblem);
    expect(() => compileLoadAssignment(bad({ socket_address: { address: '10.0.0.1', port_value: 53, protocol: 'UDP' } }))).toThrow('UDP is not supported');
  });
});

describe('localityKey', () => {
  it('is region/zone/subzone with empty parts kept', () => {
    expect(localityKey({ region: 'eu-west', zone: 'zone-a', sub_zone: 'rack-1' })).toBe('eu-west/zone-a/rack-1');
    expect(localityKey({ region: 'us-east', zone: 'zone-c' })).toBe('us-east/zone-c/');
    expect(localityKey(undefined)).toBe('//');
  });
});
