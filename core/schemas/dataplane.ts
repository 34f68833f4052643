import { Type, type Static } from '@sinclair/typebox';
import { Dns1123Label, Labels, Strict } from './common.js';

export const Locality = Strict({
  region: Type.String({ minLength: 1, maxLength: 63 }),
  zone: Type.String({ minLength: 1, maxLength: 63 }),
  subzone: Type.Optional(Type.String({ maxLength: 63 })),
});
export type Locality = Static<typeof Locality>;

export const Protocol = Type.Union([Type.Literal('http'), Type.Literal('http2'), Type.Literal('grpc'), Type.Literal('tcp')]);
export type Protocol = Static<typeof Protocol>;

export const InboundPort = Strict({
  port: Type.Integer({ minimum: 1, maximum: 65535, description: 'Port the service is reached on (the mesh port).' }),
  targetPort: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: 'Port the application listens on, if it differs.' })),
  protocol: Type.Optional(Protocol),
  name: Type.Optional(Type.String({ maxLength: 63 })),
});
export type InboundPort = Static<typeof InboundPort>;

/**
 * A workload instance registered with the zone CP in universal mode. The
 * tenant, namespace and service account come from the dataplane token, not
 * from the body: a body that names others is refused.
 */
export const DataplaneRegistration = Strict({
  tenant: Dns1123Label('Tenant; must be the token\'s.'),
  namespace: Dns1123Label('Namespace; must be the token\'s.'),
  service: Dns1123Label('Service this instance serves.'),
  instance: Type.String({ pattern: '^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$', maxLength: 253, description: 'Instance name, unique in the service.' }),
  address: Type.String({ minLength: 2, maxLength: 45, description: 'IPv4 or IPv6 literal the instance is reached at.' }),
  ports: Type.Array(InboundPort, { minItems: 1, maxItems: 64 }),
  tags: Type.Optional(Labels),
  locality: Type.Optional(Locality),
  healthy: Type.Optional(Type.Boolean({ description: 'Default true. A registration is also a health report.' })),
});
export type DataplaneRegistration = Static<typeof DataplaneRegistration>;
