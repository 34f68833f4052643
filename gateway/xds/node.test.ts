import { describe, expect, it } from 'vitest';
import { gatewayNode } from './node.js';

describe('gatewayNode', () => {
  it('describes a sidecar with its dataplane and locality, metadata as a camelCase Struct', () => {
    const node = gatewayNode({ id: 'web-1', kind: 'sidecar', service: 'web', instance: 'web-1', locality: { region: 'eu-west', zone: 'zone-a', subzone: 'rack-1' } });
    expect(node).toMatchObject({
      id: 'web-1',
      locality: { region: 'eu-west', zone: 'zone-a', sub_zone: 'rack-1' },
      metadata: {
        fields: {
          'meshfed.io/kind': { kind: 'stringValue', stringValue: 'sidecar' },
          'meshfed.io/service': { kind: 'stringValue', stringValue: 'web' },
          'meshfed.io/instance': { kind: 'stringValue', stringValue: 'web-1' },
        },
      },
      user_agent_name: 'meshfed-gateway',
    });
    expect(node.user_agent_version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('describes an ingress with its port, and refuses incomplete nodes', () => {
    expect(gatewayNode({ id: 'gw', kind: 'ingress', ingressPort: 10001 }).metadata.fields['meshfed.io/ingress-port']).toEqual({ kind: 'stringValue', stringValue: '10001' });
    expect(gatewayNode({ id: 'gw', kind: 'ingress', ingressPort: 10001 }).locality).toEqual({});
    expect(() => gatewayNode({ id: 'gw', kind: 'ingress' })).toThrow(/port it listens on/);
    expect(() => gatewayNode({ id: 'gw', kind: 'ingress', ingressPort: 70000 })).toThrow(/port it listens on/);
    expect(() => gatewayNode({ id: 'web-1', kind: 'sidecar', service: 'web' })).toThrow(/service and instance/);
    expect(() => gatewayNode({ id: '', kind: 'sidecar', service: 'web', instance: 'web-1' })).toThrow(/node id/);
  });
});
