import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { notFound } from '../../core/errors.js';
import { decodeResource } from '../../core/xds/protos.js';
import type { ConnectedProxy } from '../xds/server/ads-server.js';
import type { ProxyDescription } from '../xds/identify.js';
import { requireZoneToken } from './auth.js';

export interface ProxyRoutesOptions {
  zoneToken: string;
  connected(): ConnectedProxy<ProxyDescription>[];
}

const shortType = (type: string) => type.slice(type.lastIndexOf('.') + 1);

/** Connected proxies and their config, like `istioctl proxy-status` / `proxy-config` (zone token: configs name every service). */
export const proxyRoutes: FastifyPluginAsyncTypebox<ProxyRoutesOptions> = async (app, options) => {
  app.get('/api/v1/proxies', { schema: { summary: 'Proxies connected over ADS, with sent and ACKed versions per type' } }, async (request) => {
    requireZoneToken(request, options.zoneToken);
    return {
      items: options.connected().map(({ proxy, connectedAt, port, userAgent, state }) => ({
        id: proxy.id,
        kind: proxy.kind,
        tenant: proxy.tenant,
        namespace: proxy.namespace,
        spiffeId: proxy.spiffeId,
        service: proxy.service ?? null,
        instance: proxy.instance ?? null,
        locality: proxy.locality,
        port,
        userAgent,
        connectedAt: connectedAt.toISOString(),
        types: Object.fromEntries(Object.entries(state.status()).map(([type, status]) => [shortType(type), status])),
      })),
    };
  });

  app.get(
    '/api/v1/proxies/*',
    { schema: { summary: 'The config a proxy is being sent, decoded (id = tenant/node-id)', params: Type.Object({ '*': Type.String() }) } },
    async (request) => {
      requireZoneToken(request, options.zoneToken);
      const path = request.params['*'];
      if (!path.endsWith('/config')) throw notFound('use /api/v1/proxies/<id>/config');
      const id = path.slice(0, -'/config'.length);
      const found = options.connected().find((p) => p.proxy.id === id);
      if (!found) throw notFound(`proxy "${id}" is not connected`);
      const snapshot = found.snapshot();
      const config: Record<string, unknown[]> = {};
      for (const [type, resources] of snapshot ?? []) config[shortType(type)] = [...resources.values()].map((r) => ({ name: r.name, version: r.version, resource: decodeResource(r.any) }));
      return { id, config };
    },
  );
};
