import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startLocalNats, startLocalRedis } from '../deploy/local/services.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    natsUrl: string;
  }
}

/** One real redis-server and one real nats-server -js for the whole run, on free loopback ports. */
export default async function setup(project: TestProject) {
  const root = await mkdtemp(join(tmpdir(), 'meshfed-test-'));
  const [redis, nats] = await Promise.all([startLocalRedis(join(root, 'redis')), startLocalNats(join(root, 'nats'))]);
  project.provide('redisUrl', redis.url);
  project.provide('natsUrl', nats.url);
  return async () => {
    await Promise.all([redis.stop(), nats.stop()]);
    await rm(root, { recursive: true, force: true });
  };
}
