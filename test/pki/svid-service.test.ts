import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, createServer, type TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { status as grpcStatus } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCsr } from '../../core/pki/authority.js';
import { exportPrivateKeyPem, generateKeyPair, x509 } from '../../core/pki/crypto.js';
import type { RunningZoneCp } from '../../zone-cp/main.js';
import { api, eventually, registerZone, startFederatedGlobalCp, startTestZoneCp, tempStateDir, zoneCpConfig } from '../helpers/federation.js';
import { certificateClient, signCertificate } from '../helpers/grpc.js';

const run = promisify(execFile);

describe('zone CP certificate service (gRPC)', () => {
  let globalCp: Awaited<ReturnType<typeof startFederatedGlobalCp>>;
  let zone: RunningZoneCp;
  let zoneToken: string;
  let stateDir: string;

  beforeAll(async () => {
    globalCp = await startFederatedGlobalCp();
    zoneToken = await registerZone(globalCp.url, 'zone-a', 'eu-west');
    expect((await api(globalCp.url, 'POST', '/tenants', { name: 'acme', zones: ['zone-a'] })).status).toBe(201);
    expect((await api(globalCp.url, 'POST', '/tenants', { name: 'globex', zones: ['zone-a'] })).status).toBe(201);
    stateDir = await tempStateDir();
    zone = await startTestZoneCp(zoneCpConfig(globalCp, 'zone-a', zoneToken, stateDir, { svidTtlMs: 3_600_000 }));
    await eventually(async () => {
      const state = (await (await fetch(`${zone.url}/api/v1/state`)).json()) as { intermediates: unknown[] };
      expect(state.intermediates).toHaveLength(2);
    }, 15_000);
  }, 30_000);

  afterAll(async () => {
    await zone?.stop();
    await globalCp?.stop();
  });

  async function dataplaneToken(body: Record<string, unknown>, token = zoneToken) {
    const response = await fetch(`${zone.url}/api/v1/dataplane-tokens`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: response.status, body: (await response.json()) as { token: string; id: string; message?: string; details?: Array<{ path: string }> } };
  }

  async function svidFor(token: string, spiffeId: string, validitySeconds = 0) {
    const keys = await generateKeyPair();
    const csr = (await createCsr(keys, 'CN=workload', spiffeId)).toString('pem');
    const reply = await signCertificate(certificateClient(zone.grpcAddress, zone.grpcCaFile), token, csr, validitySeconds);
    return { reply, keyPem: await exportPrivateKeyPem(keys.privateKey) };
  }

  it('issues tokens only with the zone token, for placed tenants, with field-named errors', async () => {
    expect((await dataplaneToken({ tenant: 'acme', namespace: 'shop', serviceAccount: 'web' }, 'mfz_wrong')).status).toBe(401);
    expect((await dataplaneToken({ tenant: 'initech', namespace: 'shop', serviceAccount: 'web' })).status).toBe(404);
    const bad = await dataplaneToken({ tenant: 'acme', namespace: 'Shop!', serviceAccount: 'web' });
    expect(bad.status).toBe(400);
    expect(bad.body.details?.[0]?.path).toBe('/body/namespace');
    expect((await dataplaneToken({ tenant: 'acme', namespace: 'shop', serviceAccount: 'web', ttl: '1s' })).status).toBe(400);
  });

  it('signs exactly the entitled SPIFFE ID; openssl verifies the chain up to the tenant root, and two SVIDs do mutual TLS', async () => {
    const web = (await dataplaneToken({ tenant: 'acme', namespace: 'shop', serviceAccount: 'web' })).body.token;
    const { reply, keyPem } = await svidFor(web, 'spiffe://acme.mesh/ns/shop/sa/web');
    expect(reply.spiffe_id).toBe('spiffe://acme.mesh/ns/shop/sa/web');
    // The token tells the proxy its trust domain, so it can ask for exactly this identity.
    expect(JSON.parse(Buffer.from(web.slice(4).split('.')[0]!, 'base64url').toString())).toMatchObject({ tenant: 'acme', trustDomain: 'acme.mesh' });
    expect(reply.cert_chain).toHaveLength(2);
    const leaf = new x509.X509Certificate(reply.cert_chain[0]!);
    const lifetime = leaf.notAfter.getTime() - leaf.notBefore.getTime();
    expect(lifetime).toBeGreaterThan(3_600_000 - 1000);
    expect(lifetime).toBeLessThanOrEqual(3_660_000);
    // Half of the life left, not of the backdated lifetime.
    const halfLeft = (Date.now() + leaf.notAfter.getTime()) / 2;
    expect(Math.abs(Date.parse(reply.renew_after) - halfLeft)).toBeLessThan(5000);

    await writeFile(join(stateDir, 'bundle.pem'), reply.trust_bundle.join('\n'));
    await writeFile(join(stateDir, 'leaf.pem'), reply.cert_chain[0]!);
    await writeFile(join(stateDir, 'chain.pem'), reply.cert_chain.slice(1).join('\n'));
    const { stdout } = await run('openssl', ['verify', '-no-CApath', '-no-CAstore', '-x509_strict', '-CAfile', join(stateDir, 'bundle.pem'), '-untrusted', join(stateDir, 'chain.pem'), join(stateDir, 'leaf.pem')]);
    expect(stdout).toMatch(/leaf\.pem: OK/);

    // Another workload of the tenant; the two authenticate each other with the issued SVIDs and bundle.
    const api2 = (await dataplaneToken({ tenant: 'acme', namespace: 'shop', serviceAccount: 'api' })).body.token;
    const peer = await svidFor(api2, 'spiffe://acme.mesh/ns/shop/sa/api');
    const seen = await mutualTls({ chain: reply.cert_chain, key: keyPem, bundle: reply.trust_bundle }, { chain: peer.reply.cert_chain, key: peer.keyPem, bundle: peer.reply.trust_bundle });
    expect(seen).toEqual({ serverSaw: 'URI:spiffe://acme.mesh/ns/shop/sa/api', clientSaw: 'URI:spiffe://acme.mesh/ns/shop/sa/web' });

    // globex's bundle does not trust acme's SVID.
    const globex = (await dataplaneToken({ tenant: 'globex', namespace: 'shop', serviceAccount: 'web' })).body.token;
    const other = await svidFor(globex, 'spiffe://globex.mesh/ns/shop/sa/web');
    await expect(mutualTls({ chain: reply.cert_chain, key: keyPem, bundle: reply.trust_bundle }, { chain: other.reply.cert_chain, key: other.keyPem, bundle: other.reply.trust_bundle })).rejects.toThrow();
  });

  it('refuses another identity, a missing, forged or revoked token, and a garbage CSR', async () => {
    const issued = (await dataplaneToken({ tenant: 'acme', namespace: 'shop', serviceAccount: 'web' })).body;
    await expect(svidFor(issued.token, 'spiffe://acme.mesh/ns/shop/sa/admin')).rejects.toMatchObject({ code: grpcStatus.PERMISSION_DENIED, details: expect.stringContaining('entitles only spiffe://acme.mesh/ns/shop/sa/web') });
    await expect(svidFor(issued.token, 'spiffe://globex.mesh/ns/shop/sa/web')).rejects.toMatchObject({ code: grpcStatus.PERMISSION_DENIED });
    await expect(svidFor('', 'spiffe://acme.mesh/ns/shop/sa/web')).rejects.toMatchObject({ code: grpcStatus.UNAUTHENTICATED });
    const [payload, signature] = issued.token.slice(4).split('.');
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload!, 'base64url').toString()), serviceAccount: 'admin' })).toString('base64url');
    await expect(svidFor(`mfd_${forged}.${signature}`, 'spiffe://acme.mesh/ns/shop/sa/admin')).rejects.toMatchObject({ code: grpcStatus.UNAUTHENTICATED });
    await expect(signCertificate(certificateClient(zone.grpcAddress, zone.grpcCaFile), issued.token, 'not a csr')).rejects.toMatchObject({ code: grpcStatus.INVALID_ARGUMENT });

    const revoke = await fetch(`${zone.url}/api/v1/dataplane-tokens/${issued.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${zoneToken}` } });
    expect(revoke.status).toBe(204);
    await expect(svidFor(issued.token, 'spiffe://acme.mesh/ns/shop/sa/web')).rejects.toMatchObject({ code: grpcStatus.UNAUTHENTICATED, details: 'dataplane token revoked' });
  });

  it('clamps the lifetime to the 5-minute minimum and reports issuance and expiry on /metrics', async () => {
    const token = (await dataplaneToken({ tenant: 'acme', namespace: 'shop', serviceAccount: 'web' })).body.token;
    const { reply } = await svidFor(token, 'spiffe://acme.mesh/ns/shop/sa/web', 10);
    const leaf = new x509.X509Certificate(reply.cert_chain[0]!);
    expect(leaf.notAfter.getTime() - Date.now()).toBeGreaterThan(4.5 * 60_000);
    expect(leaf.notAfter.getTime() - Date.now()).toBeLessThan(5.5 * 60_000);
    const metrics = await (await fetch(`${zone.url}/metrics`)).text();
    expect(Number(/meshfed_zone_svids_issued_total\{tenant="acme",component="zone-cp"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThanOrEqual(3);
    expect(metrics).toMatch(/meshfed_zone_svid_requests_refused_total\{reason="denied",component="zone-cp"\} [1-9]/);
    expect(Number(/meshfed_zone_svid_latest_expiry_seconds\{tenant="acme",component="zone-cp"\} ([0-9.e+]+)/.exec(metrics)?.[1])).toBeGreaterThan(200);
  });
});

interface Identity {
  chain: string[];
  key: string;
  bundle: string[];
}

/** One mutual-TLS exchange; resolves with the URI SAN each side saw of the other. */
async function mutualTls(server: Identity, client: Identity): Promise<{ serverSaw: string; clientSaw: string }> {
  let serverSaw = '';
  const tlsServer = createServer({ cert: server.chain.join('\n'), key: server.key, ca: server.bundle, requestCert: true, rejectUnauthorized: true }, (socket: TLSSocket) => {
    serverSaw = socket.getPeerCertificate().subjectaltname ?? '';
    socket.end('hello');
  });
  await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
  const port = (tlsServer.address() as { port: number }).port;
  try {
    return await new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, cert: client.chain.join('\n'), key: client.key, ca: client.bundle, checkServerIdentity: () => undefined }, () => {
        const clientSaw = socket.getPeerCertificate().subjectaltname ?? '';
        socket.once('data', () => {
          socket.end();
          resolve({ serverSaw, clientSaw });
        });
      });
      socket.on('error', reject);
      socket.on('close', () => reject(new Error('closed before the exchange')));
    });
  } finally {
    tlsServer.close();
  }
}
