import { describe, expect, it } from 'vitest';
import { namespace, pod, podEndpoint, service, slice } from '../../test/kube/fixtures.js';
import { endpointHealthy, mapKubernetesEndpoints, podTenantConflicts, portProtocol, servicePorts } from './kubernetes-mapping.js';

const defaults = { locality: { region: 'eu-west', zone: 'eu-west-1a' } };
const shop = namespace('shop', 'acme');

describe('mapKubernetesEndpoints', () => {
  it('maps a ready pod endpoint of a mesh namespace', () => {
    const endpoints = mapKubernetesEndpoints(
      [shop],
      [service('shop', 'web')],
      [slice('shop', 'web-abc', 'web', [podEndpoint('shop', 'web-1', '10.0.0.1')])],
      [pod('shop', 'web-1', { serviceAccount: 'web-sa', labels: { app: 'web', version: 'v2', 'pod-template-hash': '5d4f', 'meshfed.io/tenant': 'acme', 'meshfed.io/inject': 'true' } })],
      defaults,
    );
    expect(endpoints).toEqual([
      {
        tenant: 'acme',
        namespace: 'shop',
        service: 'web',
        instance: 'web-1',
        address: '10.0.0.1',
        ports: [{ port: 80, targetPort: 8080, protocol: 'http', name: 'http' }],
        serviceAccount: 'web-sa',
        tags: { app: 'web', version: 'v2' },
        locality: { region: 'eu-west', zone: 'eu-west-1a' },
        healthy: true,
      },
    ]);
  });

  it('ignores namespaces without a (valid) tenant label, and slices without a known service', () => {
    const endpoints = mapKubernetesEndpoints(
      [namespace('plain'), namespace('bad', 'Not_A_Tenant'), shop],
      [service('plain', 'web'), service('bad', 'web'), service('shop', 'web')],
      [
        slice('plain', 'web-1', 'web', [podEndpoint('plain', 'p1', '10.0.0.1')]),
        slice('bad', 'web-1', 'web', [podEndpoint('bad', 'p2', '10.0.0.2')]),
        slice('shop', 'orphan-1', 'orphan', [podEndpoint('shop', 'p3', '10.0.0.3')]),
      ],
      [pod('plain', 'p1'), pod('bad', 'p2'), pod('shop', 'p3')],
      defaults,
    );
    expect(endpoints).toEqual([]);
  });

  it('uses the namespace tenant when a pod label names another, and reports the conflict', () => {
    const pods = [pod('shop', 'web-1', { labels: { 'meshfed.io/tenant': 'evil' } }), pod('shop', 'web-2', { labels: { 'meshfed.io/tenant': 'acme' } })];
    const endpoints = mapKubernetesEndpoints(
      [shop],
      [service('shop', 'web')],
      [slice('shop', 'web-a', 'web', [podEndpoint('shop', 'web-1', '10.0.0.1'), podEndpoint('shop', 'web-2', '10.0.0.2')])],
      pods,
      defaults,
    );
    expect(endpoints.map((e) => [e.instance, e.tenant])).toEqual([['web-1', 'acme'], ['web-2', 'acme']]);
    expect(podTenantConflicts([shop], pods)).toEqual([{ namespace: 'shop', pod: 'web-1', podTenant: 'evil', namespaceTenant: 'acme' }]);
  });

  it('takes readiness and termination from the slice conditions', () => {
    const endpoints = mapKubernetesEndpoints(
      [shop],
      [service('shop', 'web')],
      [
        slice('shop', 'web-a', 'web', [
          podEndpoint('shop', 'ready', '10.0.0.1'),
          podEndpoint('shop', 'unknown', '10.0.0.2', { conditions: {} }),
          podEndpoint('shop', 'notready', '10.0.0.3', { conditions: { ready: false } }),
          podEndpoint('shop', 'terminating', '10.0.0.4', { conditions: { ready: true, serving: true, terminating: true } }),
        ]),
      ],
      ['ready', 'unknown', 'notready', 'terminating'].map((n) => pod('shop', n)),
      defaults,
    );
    expect(Object.fromEntries(endpoints.map((e) => [e.instance, e.healthy]))).toEqual({ ready: true, unknown: true, notready: false, terminating: false });
    expect(endpointHealthy({})).toBe(true);
  });

  it('takes the zone from the endpoint, then pod labels, then the defaults', () => {
    const zoned = { 'topology.kubernetes.io/region': 'us-east', 'topology.kubernetes.io/zone': 'us-east-1b' };
    const endpoints = mapKubernetesEndpoints(
      [shop],
      [service('shop', 'web')],
      [
        slice('shop', 'web-a', 'web', [
          podEndpoint('shop', 'a', '10.0.0.1', { zone: 'eu-west-1c' }),
          podEndpoint('shop', 'b', '10.0.0.2'),
          podEndpoint('shop', 'c', '10.0.0.3', { zone: 'us-east-1a' }),
          podEndpoint('shop', 'd', '10.0.0.4'),
        ]),
      ],
      [pod('shop', 'a'), pod('shop', 'b', { labels: zoned }), pod('shop', 'c', { labels: zoned }), pod('shop', 'd')],
      defaults,
    );
    expect(Object.fromEntries(endpoints.map((e) => [e.instance, e.locality]))).toEqual({
      a: { region: 'eu-west', zone: 'eu-west-1c' },
      b: { region: 'us-east', zone: 'us-east-1b' },
      c: { region: 'us-east', zone: 'us-east-1a' },
      d: { region: 'eu-west', zone: 'eu-west-1a' },
    });
  });

  it('counts an endpoint listed in several slices once, preferring a healthy listing and IPv4', () => {
    const endpoints = mapKubernetesEndpoints(
      [shop],
      [service('shop', 'web')],
      [
        slice('shop', 'web-v6', 'web', [podEndpoint('shop', 'web-1', 'fd00::1')], { addressType: 'IPv6' }),
        slice('shop', 'web-b', 'web', [podEndpoint('shop', 'web-1', '10.0.0.1', { conditions: { ready: false } })]),
        slice('shop', 'web-c', 'web', [podEndpoint('shop', 'web-1', '10.0.0.1')]),
      ],
      [pod('shop', 'web-1')],
      defaults,
    );
    expect(endpoints.map((e) => [e.instance, e.address, e.healthy])).toEqual([['web-1', '10.0.0.1', true]]);
  });

  it('skips non-IP addresses and endpoints of unknown pods; without a targetRef the address is the instance', () => {
    const endpoints = mapKubernetesEndpoints(
      [shop],
      [service('shop', 'web')],
      [
        slice('shop', 'web-a', 'web', [
          podEndpoint('shop', 'web-1', 'web-1.example.com'),
          podEndpoint('shop', 'not-yet-watched', '10.0.0.2'),
          { addresses: ['10.0.0.3'], conditions: { ready: true } },
        ]),
        slice('shop', 'web-fqdn', 'web', [{ addresses: ['db.example.com'] }], { addressType: 'FQDN' }),
      ],
      [pod('shop', 'web-1')],
      defaults,
    );
    expect(endpoints.map((e) => [e.instance, e.address, e.serviceAccount, e.tags])).toEqual([['10.0.0.3', '10.0.0.3', 'default', {}]]);
  });
});

describe('servicePorts', () => {
  it('resolves named target ports through the slice, and leaves out unresolvable and non-TCP ports', () => {
    const svc = service('shop', 'web', [
      { name: 'http', port: 80, targetPort: 'web' },
      { name: 'metrics', port: 9090, targetPort: 'metrics' },
      { name: 'grpc', port: 9000, targetPort: 9000 },
      { name: 'admin', port: 81, targetPort: '8081' },
      { name: 'dns', port: 53, protocol: 'UDP' },
      { name: 'tcp-raw', port: 5432 },
    ]);
    const s = slice('shop', 'web-a', 'web', [], { ports: [{ name: 'http', port: 8080, protocol: 'TCP' }, { name: 'grpc', port: 9000 }] });
    expect(servicePorts(svc, s)).toEqual([
      { port: 80, targetPort: 8080, protocol: 'http', name: 'http' },
      { port: 9000, protocol: 'grpc', name: 'grpc' },
      { port: 81, targetPort: 8081, protocol: 'tcp', name: 'admin' },
      { port: 5432, protocol: 'tcp', name: 'tcp-raw' },
    ]);
  });
});

describe('portProtocol', () => {
  it('prefers appProtocol, then the Istio-style name prefix, else tcp', () => {
    expect(portProtocol({ name: 'web', appProtocol: 'http' })).toBe('http');
    expect(portProtocol({ name: 'http-web', appProtocol: 'grpc' })).toBe('grpc');
    expect(portProtocol({ name: 'x', appProtocol: 'kubernetes.io/h2c' })).toBe('http2');
    expect(portProtocol({ name: 'http-api', appProtocol: 'https' })).toBe('http');
    expect(portProtocol({ name: 'http2-api' })).toBe('http2');
    expect(portProtocol({ name: 'grpc' })).toBe('grpc');
    expect(portProtocol({ name: 'GRPC-api' })).toBe('grpc');
    expect(portProtocol({ name: 'tcp-db' })).toBe('tcp');
    expect(portProtocol({ name: 'httpx' })).toBe('tcp');
    expect(portProtocol({ name: 'web' })).toBe('tcp');
    expect(portProtocol({})).toBe('tcp');
  });
});
