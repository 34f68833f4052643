import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../core/log.js';
import { DataplaneRegistrar } from './registration.js';

describe('DataplaneRegistrar', () => {
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  it('keeps trying while the zone CP refuses (tenant not placed yet), and says when it is first accepted, once', async () => {
    const app = http.createServer();
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise<void>((resolve) => app.close(() => resolve())));
    let posts = 0;
    const zoneCp = http.createServer((req, res) => {
      req.resume();
      if (req.method === 'DELETE') return res.writeHead(204).end();
      posts += 1;
      // The tenant's placement reaches the zone only by the third report.
      if (posts < 3) return res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'tenant "acme" is not placed in this zone' }));
      res.writeHead(201, { 'content-type': 'application/json' }).end('{}');
    });
    await new Promise<void>((resolve) => zoneCp.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise<void>((resolve) => zoneCp.close(() => resolve())));

    const registrar = new DataplaneRegistrar({
      zoneCpUrl: `http://127.0.0.1:${(zoneCp.address() as AddressInfo).port}`,
      token: 'mfd_test',
      dataplane: { tenant: 'acme', namespace: 'demo', service: 'echo', instance: 'echo-1', address: '127.0.0.1', ports: [{ port: (app.address() as AddressInfo).port }] },
      probeIntervalMs: 50,
      reportIntervalMs: 60_000,
      log: createLogger('test', 'silent'),
    });
    let accepted = 0;
    registrar.onRegistered(() => (accepted += 1));
    closers.push(() => registrar.stop());
    await registrar.start();
    expect(registrar.isRegistered()).toBe(false);
    await expect.poll(() => registrar.isRegistered(), { timeout: 2_000 }).toBe(true);
    expect(posts).toBe(3);
    // Later reports (none due for a minute) do not call it again.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(accepted).toBe(1);
  });
});
