import { randomBytes } from 'node:crypto';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { buildGlobalCp, type GlobalCpApp } from '../../global-cp/app.js';
import type { RedisStore } from '../../global-cp/store/redis-store.js';
import { isolatedStore } from './store.js';

export const ADMIN_TOKEN = 'mfa_test-admin-token-0123456789abcdef';
export const TEST_MASTER_KEY = randomBytes(32);

export interface TestGlobalCp {
  app: GlobalCpApp;
  store: RedisStore;
  /** Calls the API as `token` (no Authorization header when undefined). */
  call(method: InjectOptions['method'], url: string, token: string | undefined, body?: unknown, headers?: Record<string, string>): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

/** A global CP app on its own key prefix of the shared test Redis, driven with inject(). */
export async function startTestGlobalCp(store?: RedisStore): Promise<TestGlobalCp> {
  const s = store ?? (await isolatedStore());
  const app = await buildGlobalCp({ store: s, adminToken: ADMIN_TOKEN, masterKey: TEST_MASTER_KEY, logLevel: 'silent' });
  await app.ready();
  return {
    app,
    store: s,
    call: (method, url, token, body, headers = {}) =>
      app.inject({
        method,
        url,
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
        ...(body === undefined ? {} : { payload: body as object }),
      }),
    async close() {
      await app.close();
      if (!store) await s.close();
    },
  };
}
