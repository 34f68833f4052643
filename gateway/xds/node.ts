import { meshfedVersion } from '../../core/version.js';

/** Which of meshfed's own proxies this is: a workload's sidecar, or the zone's east-west ingress. */
export type GatewayKind = 'sidecar' | 'ingress';

export interface GatewayNodeOptions {
  /** node.id: unique among the tenant's proxies (the zone CP qualifies it by tenant). */
  id: string;
  kind: GatewayKind;
  /** Sidecar: the registered dataplane it fronts. */
  service?: string;
  instance?: string;
  /** Ingress: the port its SNI listener binds. */
  ingressPort?: number;
  locality?: { region?: string; zone?: string; subzone?: string };
}

/** The ADS `node` (proto field names; the Struct in the camelCase form protobufjs defines it with, as grpc-js-xds sends it). */
export interface AdsNode {
  id: string;
  locality: { region?: string; zone?: string; sub_zone?: string };
  metadata: { fields: Record<string, { kind: 'stringValue'; stringValue: string }> };
  user_agent_name: string;
  user_agent_version: string;
}

let version: string | undefined;
const stringValue = (value: string) => ({ kind: 'stringValue' as const, stringValue: value });

/** The node meshfed's gateway sends on the first request of every ADS stream. Pure; throws when a required field is missing. */
export function gatewayNode(options: GatewayNodeOptions): AdsNode {
  if (!options.id) throw new Error('the xDS node id is required');
  const fields: AdsNode['metadata']['fields'] = { 'meshfed.io/kind': stringValue(options.kind) };
  if (options.kind === 'sidecar') {
    if (!options.service || !options.instance) throw new Error('a sidecar must name the dataplane it fronts (service and instance)');
    fields['meshfed.io/service'] = stringValue(options.service);
    fields['meshfed.io/instance'] = stringValue(options.instance);
  } else {
    const port = options.ingressPort;
    if (port === undefined || !Number.isInteger(port) || port < 1 || port > 65535) throw new Error('an ingress must say the port it listens on (1-65535)');
    fields['meshfed.io/ingress-port'] = stringValue(String(port));
  }
  const { region, zone, subzone } = options.locality ?? {};
  return {
    id: options.id,
    locality: { ...(region ? { region } : {}), ...(zone ? { zone } : {}), ...(subzone ? { sub_zone: subzone } : {}) },
    metadata: { fields },
    user_agent_name: 'meshfed-gateway',
    user_agent_version: (version ??= meshfedVersion()),
  };
}
