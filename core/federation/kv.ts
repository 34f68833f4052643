import type { Authenticator, JetStreamClient, JetStreamManager, KV } from 'nats';

export interface BucketWrites {
  puts: Array<[key: string, value: string]>;
  deletes: string[];
}

/**
 * Opens a KV bucket; only the global CP creates buckets (with `replicas`
 * copies: 3 on a NATS cluster, 1 on a single server), zones bind to existing ones.
 */
export async function openBucket(js: JetStreamClient, bucket: string, create: boolean, replicas = 1): Promise<KV> {
  const kv = await js.views.kv(bucket, create ? { history: 1, replicas } : { bindOnly: true });
  if (create) await forbidRollups(js, bucket);
  return kv;
}

/**
 * KV streams accept rollup headers by default: one message with
 * "Nats-Rollup: all" on any subject a client may write (a zone's own
 * inventory key) would purge the whole bucket. meshfed deletes with delete
 * markers and never rolls up, so the bucket's stream refuses rollups.
 */
async function forbidRollups(js: JetStreamClient, bucket: string): Promise<void> {
  const jsm = await js.jetstreamManager();
  const info = await jsm.streams.info(`KV_${bucket}`);
  if (info.config.allow_rollup_hdrs) await jsm.streams.update(`KV_${bucket}`, { ...info.config, allow_rollup_hdrs: false });
}

/** Every live key of a bucket with its value as a string. */
export async function readBucket(kv: KV): Promise<Map<string, string>> {
  const content = new Map<string, string>();
  const keys: string[] = [];
  for await (const key of await kv.keys()) keys.push(key);
  for (const key of keys) {
    const entry = await kv.get(key);
    if (entry && entry.operation === 'PUT') content.set(key, entry.string());
  }
  return content;
}

/** Applies puts in order (callers put the revision-carrying key last), then deletes. */
export async function writeBucket(kv: KV, writes: BucketWrites): Promise<void> {
  for (const [key, value] of writes.puts) await kv.put(key, value);
  for (const key of writes.deletes) await kv.delete(key);
}

/** Names of the KV buckets whose names start with `prefix`. */
export async function listBuckets(jsm: JetStreamManager, prefix: string): Promise<string[]> {
  const names: string[] = [];
  for await (const name of jsm.streams.names()) {
    if (name.startsWith(`KV_${prefix}`)) names.push(name.slice(3));
  }
  return names;
}

export async function destroyBucket(jsm: JetStreamManager, bucket: string): Promise<void> {
  await jsm.streams.delete(`KV_${bucket}`).catch((error: Error) => {
    if (!/not found/i.test(error.message)) throw error;
  });
}

/** Connection options for a control plane: reconnect forever, with jitter so many zones coming back at once do not stampede. */
export function natsConnectionOptions(servers: string, name: string, auth?: { authenticator: Authenticator; inboxPrefix?: string }) {
  return {
    servers,
    name,
    ...(auth ? { authenticator: auth.authenticator, ...(auth.inboxPrefix ? { inboxPrefix: auth.inboxPrefix } : {}) } : {}),
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1000,
    reconnectJitter: 1000,
    waitOnFirstConnect: true,
    pingInterval: 5000,
    maxPingOut: 2,
  };
}
