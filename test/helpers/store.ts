import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { RedisStore } from '../../global-cp/store/redis-store.js';

/** A store on the shared test Redis with a key prefix of its own, so test files never see each other's data. */
export async function isolatedStore(): Promise<RedisStore> {
  const store = new RedisStore({ url: inject('redisUrl'), prefix: `test-${randomBytes(6).toString('hex')}:` });
  await store.connect();
  return store;
}
