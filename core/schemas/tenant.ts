import { Type, type Static } from '@sinclair/typebox';
import { API_VERSION, Dns1123Label, Labels, Strict, StoredMetadata } from './common.js';

export const DEFAULT_MAX_POLICIES = 1000;
export const DEFAULT_MAX_TOKENS = 100;

// A SPIFFE trust domain: lowercase letters, digits, '.', '-', '_' (SPIFFE ID spec, section 2.1).
export const TRUST_DOMAIN_PATTERN = '^[a-z0-9]([a-z0-9._-]{0,253}[a-z0-9])?$';

export const Quotas = Strict(
  {
    maxPolicies: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000, description: 'Policies of all kinds together.' })),
    maxTokens: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000, description: 'Live tenant tokens.' })),
  },
  'Limits on what a tenant may create.',
);

export const ZoneNames = Type.Array(Dns1123Label('Zone name.'), {
  uniqueItems: true,
  maxItems: 1000,
  description: 'Zones the tenant is placed in.',
});

export const CreateTenantBody = Strict(
  {
    name: Dns1123Label('Tenant name, unique in the federation.'),
    zones: Type.Optional(ZoneNames),
    quotas: Type.Optional(Quotas),
    labels: Type.Optional(Labels),
    trustDomain: Type.Optional(
      Type.String({ pattern: TRUST_DOMAIN_PATTERN, maxLength: 255, description: 'SPIFFE trust domain; defaults to <name>.mesh. Fixed after creation.' }),
    ),
  },
  'A tenant to create.',
);
export type CreateTenantBody = Static<typeof CreateTenantBody>;

export const PatchTenantBody = Strict(
  {
    zones: Type.Optional(ZoneNames),
    quotas: Type.Optional(Quotas),
    labels: Type.Optional(Labels),
  },
  'Fields replaced on the tenant; quotas are merged key by key.',
);
export type PatchTenantBody = Static<typeof PatchTenantBody>;

export const TenantSpec = Type.Object({
  trustDomain: Type.String(),
  zones: Type.Array(Type.String()),
  quotas: Type.Object({ maxPolicies: Type.Integer(), maxTokens: Type.Integer() }),
});
export type TenantSpec = Static<typeof TenantSpec>;

export const Tenant = Type.Object({
  apiVersion: Type.Literal(API_VERSION),
  kind: Type.Literal('Tenant'),
  metadata: StoredMetadata,
  spec: TenantSpec,
  status: Type.Object({
    revision: Type.Integer({ description: 'Per-tenant revision: increments on every committed write of the tenant.' }),
    policies: Type.Integer({ description: 'Policies stored, for the quota.' }),
  }),
});
export type Tenant = Static<typeof Tenant>;

export const TOKEN_ROLES = ['admin', 'editor', 'viewer'] as const;
export type TokenRole = (typeof TOKEN_ROLES)[number];

export const CreateTokenBody = Strict(
  {
    role: Type.Union(TOKEN_ROLES.map((r) => Type.Literal(r)), { description: 'viewer reads; editor also writes policies; admin also manages tokens.' }),
    ttl: Type.Optional(
      Type.String({ pattern: '^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$', maxLength: 32, description: 'Lifetime, e.g. 24h. Default 720h, at most 8760h.' }),
    ),
    description: Type.Optional(Type.String({ maxLength: 256 })),
  },
  'A tenant-scoped API token to create.',
);
export type CreateTokenBody = Static<typeof CreateTokenBody>;

export const TokenInfo = Type.Object({
  id: Type.String(),
  tenant: Type.String(),
  role: Type.String(),
  description: Type.String(),
  createdAt: Type.String(),
  expiresAt: Type.String(),
});
export type TokenInfo = Static<typeof TokenInfo>;

export const CreatedToken = Type.Object({
  token: Type.String({ description: 'The bearer token. Shown once; only its hash is stored.' }),
  info: TokenInfo,
});

/** A Tenant as written in a file for `meshfedctl apply`. */
export const TenantDocumentInput = Strict({
  apiVersion: Type.Literal(API_VERSION),
  kind: Type.Literal('Tenant'),
  metadata: Strict({ name: Dns1123Label('Tenant name.'), labels: Type.Optional(Labels), resourceVersion: Type.Optional(Type.String()), generation: Type.Optional(Type.Integer()), creationTimestamp: Type.Optional(Type.String()) }),
  spec: Strict({
    zones: Type.Optional(ZoneNames),
    quotas: Type.Optional(Quotas),
    trustDomain: Type.Optional(Type.String({ pattern: TRUST_DOMAIN_PATTERN, maxLength: 255 })),
  }),
  status: Type.Optional(Type.Unknown({ description: 'Computed by the global CP; ignored on input.' })),
});
export type TenantDocumentInput = Static<typeof TenantDocumentInput>;
