import { Type, type Static } from '@sinclair/typebox';

/** The API group and version every meshfed document carries. */
export const API_VERSION = 'meshfed.io/v1alpha1';

// RFC 1123 label, as Kubernetes uses for names: lowercase alphanumerics and '-', 1-63 chars.
export const DNS1123_LABEL_PATTERN = '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$';
export const Dns1123Label = (description: string) =>
  Type.String({ pattern: DNS1123_LABEL_PATTERN, minLength: 1, maxLength: 63, description });

// Kubernetes label syntax: optional DNS-subdomain prefix and '/', then a 63-char name.
const LABEL_NAME = '([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)';
const LABEL_PREFIX = '([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?';
export const LABEL_KEY_PATTERN = `^${LABEL_PREFIX}${LABEL_NAME}$`;
export const LABEL_VALUE_PATTERN = `^${LABEL_NAME}?$`;

export const Labels = Type.Record(
  Type.String({ pattern: LABEL_KEY_PATTERN, maxLength: 317 }),
  Type.String({ pattern: LABEL_VALUE_PATTERN, maxLength: 63 }),
  // Without additionalProperties: false a key that fails the pattern would be let through.
  { description: 'Kubernetes-style labels: key → value.', additionalProperties: false },
);
export type Labels = Static<typeof Labels>;

// Go-style durations ("250ms", "5s", "1m30s"); positivity is checked semantically.
export const DURATION_PATTERN = '^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$';
export const Duration = (description: string) =>
  Type.String({ pattern: DURATION_PATTERN, maxLength: 32, description });

/**
 * What a policy applies to: one destination service (kind Service, with name
 * and namespace), or every service of the tenant (kind Tenant). One object
 * rather than a union, so a mistake is reported on the field that is wrong.
 */
export const TargetRef = Type.Object(
  {
    kind: Type.Union([Type.Literal('Service'), Type.Literal('Tenant')]),
    name: Type.Optional(Dns1123Label('Service name (kind Service).')),
    namespace: Type.Optional(Dns1123Label('Service namespace (kind Service).')),
  },
  { additionalProperties: false, description: 'The destination the policy applies to.' },
);
export type TargetRef = Static<typeof TargetRef>;

/** Metadata as a client sends it: server-owned fields are accepted but ignored. */
export const InputMetadata = Type.Object(
  {
    name: Type.Optional(Dns1123Label('Resource name; must match the URL.')),
    tenant: Type.Optional(Dns1123Label('Owning tenant; must match the URL.')),
    labels: Type.Optional(Labels),
    resourceVersion: Type.Optional(Type.String({ maxLength: 32 })),
    generation: Type.Optional(Type.Integer({ minimum: 0 })),
    creationTimestamp: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);

/** Metadata as the server returns it. */
export const StoredMetadata = Type.Object({
  name: Type.String(),
  tenant: Type.Optional(Type.String()),
  labels: Labels,
  resourceVersion: Type.String({ description: 'Opaque; changes on every write. Send as If-Match.' }),
  generation: Type.Integer({ description: 'Increments when spec changes.' }),
  creationTimestamp: Type.String(),
});
export type StoredMetadata = Static<typeof StoredMetadata>;

/** An object schema that rejects unknown fields, which is what every meshfed input is. */
export const Strict = <T extends Parameters<typeof Type.Object>[0]>(properties: T, description?: string) =>
  Type.Object(properties, { additionalProperties: false, ...(description ? { description } : {}) });

export const ErrorBody = Type.Object({
  error: Type.String({ description: 'Machine-readable error class, e.g. ValidationError.' }),
  message: Type.String(),
  details: Type.Array(
    Type.Object({ path: Type.String({ description: 'JSON pointer of the offending field.' }), message: Type.String() }),
  ),
});
export type ErrorBody = Static<typeof ErrorBody>;
