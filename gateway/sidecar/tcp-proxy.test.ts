/**
 * The sidecar's TCP proxying on loopback, with a config built by hand: a
 * last answer bigger than the socket buffers, sent just before the upstream
 * closes, still reaches a caller that reads it late.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../core/log.js';
import type { GatewayConfig, ListenerSettings } from '../config/model.js';
import { ClusterSet } from './cluster-set.js';
import { ListenerSet } from './listener-set.js';

const log = createLogger('test', 'silent');
const observer = { completed: () => undefined, retried: () => undefined, breakerRejected: () => undefined, ejected: () => undefined, tcpClosed: () => undefined };

async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

describe('sidecar TCP proxy', () => {
  const stops: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
  });

  it('delivers an upstream’s last answer in full when it closes right after sending it', async () => {
    const answer = Buffer.alloc(16 * 1024 * 1024, 7);
    const upstream = net.createServer((socket) => socket.end(answer));
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    stops.push(() => new Promise<void>((resolve) => upstream.close(() => resolve())));

    const port = await freePort();
    const listener: ListenerSettings = { name: 'outbound:tcp', address: '127.0.0.1', port, direction: 'outbound', filter: { kind: 'tcp', clusters: [{ name: 'db', weight: 1 }], statPrefix: 'tcp' } };
    const config: GatewayConfig = {
      listeners: new Map([[listener.name, listener]]),
      routes: new Map(),
      clusters: new Map([['db', { name: 'db', kind: 'eds', edsName: 'db', connectTimeoutMs: 1_000, http2: false, circuitBreaker: {} }]]),
      assignments: new Map([['db', { levels: [{ priority: 0, localities: [{ key: 'r/z/', weight: 1, endpoints: [{ address: '127.0.0.1', port: (upstream.address() as AddressInfo).port, healthy: true }] }] }] }]]),
      problems: [],
    };
    const clusters = new ClusterSet({ identity: undefined, log });
    const listeners = new ListenerSet({ identity: undefined, clusters, observer, log, drainMs: 100, replayLimitBytes: 0 });
    clusters.apply(config);
    await listeners.apply(config);
    stops.push(async () => {
      await listeners.stop(100);
      clusters.stop();
    });

    // The caller reads only after the upstream is long done: the answer waits in the sidecar meanwhile.
    const client = net.connect({ host: '127.0.0.1', port });
    client.pause();
    await new Promise((resolve) => setTimeout(resolve, 500));
    let received = 0;
    client.on('data', (chunk: Buffer) => (received += chunk.length));
    client.resume();
    await new Promise<void>((resolve) => client.once('close', () => resolve()));
    expect(received).toBe(answer.length);
  });
});
