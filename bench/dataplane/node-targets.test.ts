import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from './backend.js';
import { getOnce } from './http-check.js';
import { startNaiveProxy, startNodeHttp2HopsMtls } from './node-targets.js';
import { makeBenchPki, type BenchPki } from './tls.js';

const haveOpenssl = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe.skipIf(!haveOpenssl)('node-http-2hops-mtls (naive Node proxies, plain node)', () => {
  let dir: string;
  let server: Server;
  let backend: Backend;
  const seen: Array<{ host?: string; path?: string }> = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'naive-node-proxy-test-'));
    server = createServer((req, res) => {
      seen.push({ host: req.headers.host, path: req.url });
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' }).end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const address = { host: '127.0.0.1', port };
    backend = { kind: 'node', description: 'test', address, url: `http://127.0.0.1:${port}/`, pids: () => [], stop: async () => {} };
  });
  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  it('carries a request over both hops, with one process per hop', async () => {
    const target = await startNodeHttp2HopsMtls({ dir, backend, log: () => {}, shared: () => Promise.reject(new Error('not shared')) });
    try {
      expect(target.hops().map((h) => h.role)).toEqual(['1: node http mTLS⇒', '2: node http ⇒mTLS']);
      expect(new Set(target.pids()).size).toBe(2);
      for (let i = 0; i < 3; i++) expect(await getOnce(`${target.url}path?q=${i}`, undefined)).toEqual({ status: 200, body: 'ok' });
      expect(seen.at(-1)?.path).toBe('/path?q=2');
    } finally {
      await target.stop();
    }
  });

  it('requires a client certificate signed by the bench CA on the mTLS side', async () => {
    const pki: BenchPki = await makeBenchPki(await mkdtemp(join(dir, 'pki-')));
    const proxy = await startNaiveProxy('mtls-listener', backend.address, ['--listen-cert', pki.serverCrtFile, '--listen-ca', pki.caFile]);
    const get = (withCert: boolean) =>
      new Promise<number>((resolve, reject) => {
        const pem = readFileSync(pki.clientCrtFile);
        const req = https.get(
          { host: proxy.listen.host, port: proxy.listen.port, path: '/', agent: false, ca: readFileSync(pki.caFile), servername: pki.serverName, ...(withCert ? { cert: pem, key: pem } : {}) },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
      });
    try {
      expect(await get(true)).toBe(200);
      await expect(get(false)).rejects.toThrow();
    } finally {
      await proxy.process.stop();
    }
  });
});
