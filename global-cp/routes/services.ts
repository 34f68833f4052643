import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ApiError, notFound } from '../../core/errors.js';
import { ErrorBody } from '../../core/schemas/common.js';
import type { ZoneInventory } from '../../core/schemas/federation.js';
import { requireAllowed } from '../plugins/authentication.js';
import { FederatedService, federatedServices } from '../federation/services-view.js';
import { zoneStatusFrom } from '../federation/zone-status.js';
import type { RedisStore } from '../store/redis-store.js';
import { TenantParams, errorResponses, tenantNotFound } from './common.js';

/** Reads what zones published; absent when the global CP runs without NATS. */
export interface InventoryReader {
  tenantInventories(tenant: string): Promise<ZoneInventory[]>;
}

export interface ServiceRoutesOptions {
  store: RedisStore;
  inventory: InventoryReader | undefined;
  offlineAfterMissed: number;
}

/** The federated view of a tenant's services: which zones run them, with endpoint and health counts. */
export const serviceRoutes: FastifyPluginAsyncTypebox<ServiceRoutesOptions> = async (app, { store, inventory, offlineAfterMissed }) => {
  app.get(
    '/tenants/:tenant/services',
    {
      schema: {
        tags: ['services'],
        summary: 'Services of a tenant across zones (reported by the zones)',
        params: TenantParams,
        response: { 200: Type.Object({ items: Type.Array(FederatedService) }), ...errorResponses, 503: ErrorBody },
      },
    },
    async (request) => {
      const { tenant } = request.params;
      requireAllowed(request, { op: 'policies:read', tenant }, tenantNotFound(tenant));
      if (!(await store.getTenant(tenant))) throw notFound(tenantNotFound(tenant));
      if (!inventory) throw new ApiError(503, 'FederationDisabled', 'the global CP runs without NATS (--nats), so it has no zone inventory');
      const inventories = await inventory.tenantInventories(tenant);
      const offline = new Set<string>();
      for (const inv of inventories) {
        if (zoneStatusFrom(await store.zoneStatus(inv.zone), [], Date.now(), offlineAfterMissed).state === 'offline') offline.add(inv.zone);
      }
      return { items: federatedServices(inventories, offline) };
    },
  );
};
