import { Type } from '@sinclair/typebox';
import { Dns1123Label, ErrorBody } from '../../core/schemas/common.js';

export const ZoneParams = Type.Object({ name: Dns1123Label('Zone name.') });
export const TenantParams = Type.Object({ tenant: Dns1123Label('Tenant name.') });
export const TenantNameParams = Type.Object({ name: Dns1123Label('Tenant name.') });

export const PreconditionHeaders = Type.Object({
  'if-match': Type.Optional(Type.String({ description: 'resourceVersion the resource must still have (412 otherwise).' })),
  'if-none-match': Type.Optional(Type.String({ description: '"*": only create, 412 if it exists.' })),
});

/** Error responses every authenticated route can give, for the OpenAPI document. */
export const errorResponses = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
} as const;

/**
 * The one answer for a tenant that does not exist or is another tenant's:
 * every route must use it, so the two can never be told apart.
 */
export const tenantNotFound = (tenant: string) => `tenant "${tenant}" not found`;
