import type { TokenRole } from '../core/schemas/tenant.js';

/** Who is calling, as resolved once from the bearer token. */
export type Principal =
  | { kind: 'admin' }
  | { kind: 'tenant'; tenant: string; role: TokenRole; tokenId: string; expiresAt: string }
  | { kind: 'zone'; zone: string };

export type Action =
  | { op: 'zones:read' }
  | { op: 'zones:write' }
  | { op: 'zone:sync'; zone: string }
  | { op: 'tenants:list' }
  | { op: 'tenants:create' }
  | { op: 'tenant:write'; tenant: string }
  | { op: 'tenant:read'; tenant: string }
  | { op: 'tokens:manage'; tenant: string }
  | { op: 'policies:read'; tenant: string }
  | { op: 'policies:write'; tenant: string };

/**
 * allow: go ahead. forbidden: 403, the caller may know the thing exists.
 * hidden: 404, because the thing belongs to another tenant and its very
 * existence must not leak.
 */
export type Decision = 'allow' | 'forbidden' | 'hidden';

const ROLE_RANK: Record<TokenRole, number> = { viewer: 0, editor: 1, admin: 2 };
// Actions absent here are for the platform admin only, even on the caller's own tenant.
const NEEDED_ROLE: Partial<Record<Action['op'], TokenRole>> = {
  'tenant:read': 'viewer',
  'policies:read': 'viewer',
  'policies:write': 'editor',
  'tokens:manage': 'admin',
};

export function authorize(principal: Principal, action: Action): Decision {
  if (principal.kind === 'admin') return 'allow';
  // A zone token opens exactly one thing: its own zone's sync endpoints.
  if (principal.kind === 'zone') return action.op === 'zone:sync' && action.zone === principal.zone ? 'allow' : 'forbidden';
  if (action.op === 'zone:sync') return 'forbidden';
  if (!('tenant' in action)) return 'forbidden';
  if (action.tenant !== principal.tenant) return 'hidden';
  const needed = NEEDED_ROLE[action.op];
  return needed !== undefined && ROLE_RANK[principal.role] >= ROLE_RANK[needed] ? 'allow' : 'forbidden';
}

export function describePrincipal(principal: Principal): string {
  switch (principal.kind) {
    case 'admin': return 'admin';
    case 'tenant': return `tenant ${principal.tenant} ${principal.role} (token ${principal.tokenId})`;
    case 'zone': return `zone ${principal.zone}`;
  }
}
