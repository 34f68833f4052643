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

/** Most endpoints one locality of a service reports (more are reported as this many). */
export const MAX_ENDPOINT_COUNT = 10_000_000;
/** Most ports one service of an inventory lists: a zone lists the lowest ones. */
export const MAX_PORTS_PER_SERVICE = 64;
/** Most localities one service of an inventory lists: a zone lists those with the most healthy endpoints. */
export const MAX_LOCALITIES_PER_SERVICE = 256;

const Count = Type.Integer({ minimum: 0, maximum: MAX_ENDPOINT_COUNT });

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
    { maxItems: MAX_PORTS_PER_SERVICE },
  ),
  localities: Type.Array(
    Strict({
      region: Type.String({ maxLength: 63 }),
      zone: Type.String({ maxLength: 63 }),
      subzone: Type.Optional(Type.String({ maxLength: 63 })),
      endpoints: Count,
      healthy: Count,
    }),
    { maxItems: MAX_LOCALITIES_PER_SERVICE, description: 'Endpoint counts per locality.' },
  ),
});
export type InventoryService = Static<typeof InventoryService>;

/** Most tag keys a zone counts subsets by; it counts by the first ones, sorted, and subsets using others are unknown there. */
export const MAX_SUBSET_TAG_KEYS = 32;
/** Most distinct tag sets one locality of one service lists; beyond, it lists none and marks the locality truncated. */
export const MAX_TAG_SETS_PER_LOCALITY = 64;

// The subset counts are read by zone CPs and the global CP of other versions: plain objects (not Strict), so a
// later version may add fields without its inventories being refused by earlier ones.

/** Healthy endpoints carrying one combination of the counted tags. */
export const InventoryTagSet = Type.Object({
  /** The endpoints' tags whose keys are among `tagKeys`; never empty. */
  tags: Type.Record(Type.String(), Type.String({ maxLength: 63 })),
  healthy: Count,
});
export type InventoryTagSet = Static<typeof InventoryTagSet>;

/** One locality of a service, by tag set. */
export const InventorySubsetLocality = Type.Object({
  region: Type.String({ maxLength: 63 }),
  zone: Type.String({ maxLength: 63 }),
  subzone: Type.Optional(Type.String({ maxLength: 63 })),
  tagSets: Type.Array(InventoryTagSet, { maxItems: MAX_TAG_SETS_PER_LOCALITY }),
  truncated: Type.Optional(Type.Boolean({ description: `More than ${MAX_TAG_SETS_PER_LOCALITY} distinct tag sets: none listed; every subset is unknown here.` })),
});
export type InventorySubsetLocality = Static<typeof InventorySubsetLocality>;

/**
 * What subset clusters of other zones need: per service and locality, how
 * many healthy endpoints carry each combination of the tags TrafficRoute
 * splits select by. A service or locality that is not listed has no healthy
 * endpoint carrying any of `tagKeys`. Aggregated by distinct tag set, so its
 * size follows the tag combinations, not the number of instances.
 */
export const InventorySubsets = Type.Object({
  /** The tag keys counted, sorted: those of the tenant's TrafficRoute splits. A subset selecting by another key is unknown here. */
  tagKeys: Type.Array(Type.String({ maxLength: 317 }), { maxItems: MAX_SUBSET_TAG_KEYS }),
  services: Type.Array(
    Type.Object({
      namespace: Type.String({ maxLength: 63 }),
      name: Type.String({ maxLength: 63 }),
      localities: Type.Array(InventorySubsetLocality, { maxItems: MAX_LOCALITIES_PER_SERVICE }),
    }),
  ),
});
export type InventorySubsets = Static<typeof InventorySubsets>;

/** What a zone publishes per tenant placed in it. */
export const ZoneInventory = Type.Object({
  zone: Type.String(),
  tenant: Type.String(),
  ingressAddress: Type.Union([Type.String(), Type.Null()]),
  services: Type.Array(InventoryService),
  /**
   * Absent from zone CPs that predate it and in services-file mode (which
   * reports counts, not tags): other zones then keep its ingress in every
   * subset cluster of a service it runs, weighted by all healthy endpoints.
   * Top-level, not inside `services`: InventoryService is strict (it also
   * validates services files), and earlier zone CPs would refuse the whole
   * inventory for a field they do not know.
   */
  subsets: Type.Optional(InventorySubsets),
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
