import { Type, type Static } from '@sinclair/typebox';
import { API_VERSION, Dns1123Label, Labels, Strict, StoredMetadata } from './common.js';

export const ZONE_KINDS = ['kubernetes', 'universal'] as const;

// "provider:place", e.g. aws:eu-west-1, gcp:europe-west4, dc:ams1.
export const LOCATION_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?:[a-z0-9]([-a-z0-9.]*[a-z0-9])?$';

export const ZoneSpecFields = {
  region: Dns1123Label('Region the zone belongs to, e.g. eu-west. Zones of one region fail over to each other first.'),
  location: Type.String({ pattern: LOCATION_PATTERN, maxLength: 128, description: 'provider:place, e.g. aws:eu-west-1 or dc:ams1.' }),
  kind: Type.Union(ZONE_KINDS.map((k) => Type.Literal(k)), { description: 'How the zone discovers workloads.' }),
};

export const CreateZoneBody = Strict(
  {
    name: Dns1123Label('Zone name, unique in the federation.'),
    ...ZoneSpecFields,
    labels: Type.Optional(Labels),
  },
  'A zone to register.',
);
export type CreateZoneBody = Static<typeof CreateZoneBody>;

export const PatchZoneBody = Strict(
  {
    region: Type.Optional(ZoneSpecFields.region),
    location: Type.Optional(ZoneSpecFields.location),
    labels: Type.Optional(Labels),
  },
  'Fields of a zone that may change; kind is fixed at registration.',
);
export type PatchZoneBody = Static<typeof PatchZoneBody>;

export const ZoneStatus = Type.Object({
  state: Type.Union([Type.Literal('online'), Type.Literal('offline')], { description: 'online while heartbeats arrive; offline after the configured number of missed ones.' }),
  lastSeen: Type.Union([Type.String(), Type.Null()], { description: 'Time of the last heartbeat.' }),
  cpVersion: Type.Union([Type.String(), Type.Null()], { description: 'meshfed version of the zone CP.' }),
  ingressAddress: Type.Union([Type.String(), Type.Null()], { description: 'Where other zones reach this zone\'s east-west ingress.' }),
  tenants: Type.Array(
    Type.Object({
      name: Type.String(),
      revision: Type.Integer({ description: 'The tenant\'s current revision at the global CP.' }),
      appliedRevision: Type.Union([Type.Integer(), Type.Null()], { description: 'Revision the zone reports applied; below revision means the zone lags.' }),
      upToDate: Type.Boolean(),
    }),
    { description: 'Tenants placed in the zone, with how far the zone has applied each.' },
  ),
});
export type ZoneStatus = Static<typeof ZoneStatus>;

export const Zone = Type.Object({
  apiVersion: Type.Literal(API_VERSION),
  kind: Type.Literal('Zone'),
  metadata: StoredMetadata,
  spec: Type.Object({
    region: Type.String(),
    location: Type.String(),
    kind: Type.Union(ZONE_KINDS.map((k) => Type.Literal(k))),
  }),
  status: ZoneStatus,
});
export type Zone = Static<typeof Zone>;

export const CreatedZone = Type.Object({
  zone: Zone,
  token: Type.String({ description: 'The zone token. Shown once; only its hash is stored.' }),
});

/** A Zone as written in a file for `meshfedctl apply`. */
export const ZoneDocumentInput = Strict({
  apiVersion: Type.Literal(API_VERSION),
  kind: Type.Literal('Zone'),
  metadata: Strict({ name: Dns1123Label('Zone name.'), labels: Type.Optional(Labels), resourceVersion: Type.Optional(Type.String()), generation: Type.Optional(Type.Integer()), creationTimestamp: Type.Optional(Type.String()) }),
  spec: Strict(ZoneSpecFields),
  status: Type.Optional(Type.Unknown({ description: 'Reported by the zone; ignored on input.' })),
});
export type ZoneDocumentInput = Static<typeof ZoneDocumentInput>;
