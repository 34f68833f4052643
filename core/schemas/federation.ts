import { Type, type Static } from '@sinclair/typebox';
import { Dns1123Label, Strict } from './common.js';

/** Which tenants are placed in a zone: the zone CP watches its own key. */
export const Placement = Type.Object({
  zone: Type.String(),
  /** The zone's region as registered: the zone CP's default locality and the base of its failover priorities. */
  region: Type.Optional(Type.String()),
  // Tenant names end up in file paths and URLs at the zone: only DNS-1123 labels pass.
  tenants: Type.Array(Type.Object({ name: Dns1123Label('Tenant name.'), trustDomain: Type.String() })),
});
export type Placement = Static<typeof Placement>;

/** The tenant key of a tenant bucket: published last for each change, so its revision means "everything up to here is in the bucket". */
export const TenantState = Type.Object({
  name: Type.String(),
  trustDomain: Type.String(),
  zones: Type.Array(Type.String()),
  revision: Type.Integer(),
});
export type TenantState = Static<typeof TenantState>;

const Count = Type.Integer({ minimum: 0, maximum: 10_000_000 });

/** One service of a zone as the zone reports it. */
export const InventoryService = Strict({
  namespace: Dns1123Label('Namespace.'),
  name: Dns1123Label('Service name.'),
  ports: Type.Array(
    Strict({
      port: Type.Integer({ minimum: 1, maximum: 65535 }),
      protocol: Type.Optional(Type.Union([Type.Literal('http'), Type.Literal('http2'), Type.Literal('grpc'), Type.Literal('tcp')])),
      name: Type.Optional(Type.String({ maxLength: 63 })),
    }),
    { maxItems: 64 },
  ),
  localities: Type.Array(
    Strict({
      region: Type.String({ maxLength: 63 }),
      zone: Type.String({ maxLength: 63 }),
      subzone: Type.Optional(Type.String({ maxLength: 63 })),
      endpoints: Count,
      healthy: Count,
    }),
    { maxItems: 256, description: 'Endpoint counts per locality.' },
  ),
});
export type InventoryService = Static<typeof InventoryService>;

/** What a zone publishes per tenant placed in it. */
export const ZoneInventory = Type.Object({
  zone: Type.String(),
  tenant: Type.String(),
  ingressAddress: Type.Union([Type.String(), Type.Null()]),
  services: Type.Array(InventoryService),
  publishedAt: Type.String(),
});
export type ZoneInventory = Static<typeof ZoneInventory>;

export const Heartbeat = Type.Object({
  zone: Type.String(),
  cpVersion: Type.String(),
  intervalMs: Type.Integer({ minimum: 100 }),
  ingressAddress: Type.Union([Type.String(), Type.Null()]),
  /** tenant → revision applied at the zone. */
  applied: Type.Record(Type.String(), Type.Integer()),
  sentAt: Type.String(),
});
export type Heartbeat = Static<typeof Heartbeat>;
