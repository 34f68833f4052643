import type { V1Endpoint, V1EndpointSlice, V1Namespace, V1Pod, V1Service, V1ServicePort } from '@kubernetes/client-node';

/** Kubernetes objects as the API serves them, trimmed to what discovery reads. */

export function namespace(name: string, tenant?: string): V1Namespace {
  return { kind: 'Namespace', metadata: { name, labels: tenant ? { 'meshfed.io/tenant': tenant } : {} } };
}

export function service(ns: string, name: string, ports: V1ServicePort[] = [{ name: 'http', port: 80, targetPort: 8080 }]): V1Service {
  return { kind: 'Service', metadata: { name, namespace: ns }, spec: { ports } };
}

export function pod(ns: string, name: string, options: { labels?: Record<string, string>; serviceAccount?: string } = {}): V1Pod {
  return {
    kind: 'Pod',
    metadata: { name, namespace: ns, labels: options.labels ?? {} },
    spec: { containers: [{ name: 'app' }], ...(options.serviceAccount ? { serviceAccountName: options.serviceAccount } : {}) },
  };
}

/** An endpoint of pod `podName` at `address`; ready unless conditions say otherwise. */
export function podEndpoint(ns: string, podName: string, address: string, extra: Partial<V1Endpoint> = {}): V1Endpoint {
  return { addresses: [address], conditions: { ready: true }, targetRef: { kind: 'Pod', namespace: ns, name: podName }, ...extra };
}

export function slice(
  ns: string,
  name: string,
  serviceName: string,
  endpoints: V1Endpoint[],
  options: { ports?: V1EndpointSlice['ports']; addressType?: string } = {},
): V1EndpointSlice {
  return {
    kind: 'EndpointSlice',
    metadata: { name, namespace: ns, labels: { 'kubernetes.io/service-name': serviceName } },
    addressType: options.addressType ?? 'IPv4',
    ports: options.ports ?? [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints,
  };
}
