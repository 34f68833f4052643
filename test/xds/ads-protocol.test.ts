import { status as grpcStatus } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TYPE_URL } from '../../core/xds/protos.js';
import type { RunningZoneCp } from '../../zone-cp/main.js';
import { RawAdsClient, nodeMetadata } from '../helpers/ads-client.js';
import { api, eventually, registerZone, startFederatedGlobalCp, startTestZoneCp, tempStateDir, zoneCpConfig } from '../helpers/federation.js';

/** The ADS protocol as a bare client sees it: versions, nonces, ACK/NACK, subscriptions, isolation, revocation, shutdown. */
describe('zone CP ADS (state of the world)', () => {
  let globalCp: Awaited<ReturnType<typeof startFederatedGlobalCp>>;
  let zone: RunningZoneCp;
  let zoneToken: string;
  const clients: RawAdsClient[] = [];

  beforeAll(async () => {
    globalCp = await startFederatedGlobalCp();
    zoneToken = await registerZone(globalCp.url, 'zone-a', 'eu-west');
    for (const name of ['acme', 'globex']) expect((await api(globalCp.url, 'POST', '/tenants', { name, zones: ['zone-a'] })).status).toBe(201);
    zone = await startTestZoneCp(zoneCpConfig(globalCp, 'zone-a', zoneToken, await tempStateDir(), { plaintextXdsListen: { host: '127.0.0.1', port: 0 }, xdsDebounceMs: 10, logLevel: process.env.ZLOG ?? 'silent' }));
    await zone.synced();
    await eventually(() => expect(Object.keys(zone.tenants()).sort()).toEqual(['acme', 'globex']));
    // One service per tenant, registered with each tenant's own dataplane token.
    for (const [tenant, service, address] of [['acme', 'echo', '127.0.0.21'], ['globex', 'ledger', '127.0.0.22']] as const) {
      const token = zone.issueDataplaneToken({ tenant, namespace: 'demo', serviceAccount: service });
      const response = await fetch(`${zone.url}/api/v1/dataplanes`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ tenant, namespace: 'demo', service, instance: `${service}-1`, address, ports: [{ port: 7070, protocol: 'grpc' }] }),
      });
      expect(response.status).toBe(200);
    }
  }, 30_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    await zone?.stop();
    await globalCp?.stop();
  });

  const proxyless = (tenant: string, id: string, token = zone.issueDataplaneToken({ tenant, namespace: 'demo', serviceAccount: 'client' })) => {
    const client = new RawAdsClient(zone.plaintextXdsAddress!, { id, locality: { region: 'eu-west', zone: 'zone-a' }, metadata: nodeMetadata({ 'meshfed.io/kind': 'proxyless', 'meshfed.io/token': token }) });
    clients.push(client);
    return client;
  };

  it('answers a wildcard LDS with the tenant\'s API listeners, stays quiet after the ACK, and answers EDS by name', async () => {
    const client = proxyless('acme', 'p1');
    client.request(TYPE_URL.listener);
    const lds = await eventually(() => client.last(TYPE_URL.listener) ?? Promise.reject(new Error('no LDS yet')));
    expect(client.names(lds)).toEqual(['echo.demo.mesh:7070']);
    client.request(TYPE_URL.listener, [], { version: lds.version_info, nonce: lds.nonce });
    client.request(TYPE_URL.endpoint, ['echo.demo.mesh:7070']);
    const eds = await eventually(() => client.last(TYPE_URL.endpoint) ?? Promise.reject(new Error('no EDS yet')));
    expect(client.names(eds)).toEqual(['echo.demo.mesh:7070']);
    expect(JSON.stringify(eds.resources.map((r) => r.value.toString('latin1')))).toContain('127.0.0.21');
    client.request(TYPE_URL.endpoint, ['echo.demo.mesh:7070'], { version: eds.version_info, nonce: eds.nonce });
    await new Promise((r) => setTimeout(r, 300));
    expect(client.responses.filter((r) => r.type_url === TYPE_URL.listener)).toHaveLength(1);
    expect(client.responses.filter((r) => r.type_url === TYPE_URL.endpoint)).toHaveLength(1);

    const proxies = (await (await fetch(`${zone.url}/api/v1/proxies`, { headers: { authorization: `Bearer ${zoneToken}` } })).json()) as { items: Array<{ id: string; types: Record<string, { ackedVersion: string }> }> };
    const p1 = proxies.items.find((p) => p.id === 'acme/p1');
    expect(p1?.types.Listener?.ackedVersion).toBe(lds.version_info);
    expect(p1?.types.ClusterLoadAssignment?.ackedVersion).toBe(eds.version_info);
    const dump = await fetch(`${zone.url}/api/v1/proxies/acme/p1/config`, { headers: { authorization: `Bearer ${zoneToken}` } });
    expect(JSON.stringify(await dump.json())).toContain('echo.demo.mesh:7070');
    expect((await fetch(`${zone.url}/api/v1/proxies`)).status).toBe(401);
  });

  it('pushes a new version when an endpoint changes, and a NACKed config is recorded and not resent', async () => {
    const client = proxyless('acme', 'p2');
    client.request(TYPE_URL.endpoint, ['echo.demo.mesh:7070']);
    const first = await eventually(() => client.last(TYPE_URL.endpoint) ?? Promise.reject(new Error('no EDS yet')));
    client.request(TYPE_URL.endpoint, ['echo.demo.mesh:7070'], { version: first.version_info, nonce: first.nonce }, 'pretend this is invalid');
    await new Promise((r) => setTimeout(r, 300));
    expect(client.responses.filter((r) => r.type_url === TYPE_URL.endpoint)).toHaveLength(1);
    const proxies = (await (await fetch(`${zone.url}/api/v1/proxies`, { headers: { authorization: `Bearer ${zoneToken}` } })).json()) as { items: Array<{ id: string; types: Record<string, { lastNack: string | null }> }> };
    expect(proxies.items.find((p) => p.id === 'acme/p2')?.types.ClusterLoadAssignment?.lastNack).toBe('pretend this is invalid');

    // A second instance: the endpoints change, so a new version goes out.
    const token = zone.issueDataplaneToken({ tenant: 'acme', namespace: 'demo', serviceAccount: 'echo' });
    await fetch(`${zone.url}/api/v1/dataplanes`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ tenant: 'acme', namespace: 'demo', service: 'echo', instance: 'echo-2', address: '127.0.0.23', ports: [{ port: 7070, protocol: 'grpc' }] }),
    });
    const second = await eventually(() => (client.responses.filter((r) => r.type_url === TYPE_URL.endpoint).length === 2 ? client.last(TYPE_URL.endpoint)! : Promise.reject(new Error('no push'))));
    expect(second.version_info).not.toBe(first.version_info);
    expect(second.nonce).not.toBe(first.nonce);
    expect(second.resources[0]!.value.toString('latin1')).toContain('127.0.0.23');
  });

  it('never sends one tenant anything of another', async () => {
    const client = proxyless('globex', 'g1');
    client.request(TYPE_URL.listener);
    client.request(TYPE_URL.cluster);
    client.request(TYPE_URL.endpoint, ['echo.demo.mesh:7070', 'ledger.demo.mesh:7070']);
    await eventually(() => expect(client.names(client.last(TYPE_URL.endpoint))).toEqual(['ledger.demo.mesh:7070']));
    expect(client.names(client.last(TYPE_URL.listener))).toEqual(['ledger.demo.mesh:7070']);
    expect(client.names(client.last(TYPE_URL.cluster))).toEqual(['ledger.demo.mesh:7070']);
    const everything = client.responses.flatMap((r) => r.resources.map((x) => x.value.toString('latin1'))).join('');
    expect(everything).not.toContain('echo');
    expect(everything).not.toContain('127.0.0.21');
  });

  it('refuses a stream without a valid token, and ends a stream whose token is revoked', async () => {
    const anonymous = new RawAdsClient(zone.plaintextXdsAddress!, { id: 'x', metadata: nodeMetadata({ 'meshfed.io/kind': 'proxyless' }) });
    clients.push(anonymous);
    anonymous.request(TYPE_URL.listener);
    await eventually(() => expect(anonymous.status?.code).toBe(grpcStatus.UNAUTHENTICATED));

    const response = await fetch(`${zone.url}/api/v1/dataplane-tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${zoneToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ tenant: 'acme', namespace: 'demo', serviceAccount: 'client' }),
    });
    const issued = (await response.json()) as { id: string; token: string };
    const client = proxyless('acme', 'r1', issued.token);
    client.request(TYPE_URL.listener);
    await eventually(() => client.last(TYPE_URL.listener) ?? Promise.reject(new Error('no LDS')));
    expect((await fetch(`${zone.url}/api/v1/dataplane-tokens/${issued.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${zoneToken}` } })).status).toBe(204);
    await eventually(() => expect(client.status?.code).toBe(grpcStatus.PERMISSION_DENIED), 5000);
  });

  it('serves the ingress every placed tenant\'s SNI routes, with an ingress token only', async () => {
    const response = await fetch(`${zone.url}/api/v1/dataplane-tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${zoneToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ingress: true }),
    });
    expect(response.status).toBe(201);
    const { token } = (await response.json()) as { token: string };
    const ingress = new RawAdsClient(zone.plaintextXdsAddress!, { id: 'gw-1', metadata: nodeMetadata({ 'meshfed.io/kind': 'ingress', 'meshfed.io/token': token, 'meshfed.io/ingress-port': '10001' }) });
    clients.push(ingress);
    ingress.request(TYPE_URL.listener);
    ingress.request(TYPE_URL.cluster);
    const lds = await eventually(() => ingress.last(TYPE_URL.listener) ?? Promise.reject(new Error('no LDS')));
    expect(ingress.names(lds)).toEqual(['ingress:sni']);
    const text = lds.resources[0]!.value.toString('latin1');
    expect(text).toContain('7070.echo.demo.acme.mesh');
    expect(text).toContain('7070.ledger.demo.globex.mesh');
    await eventually(() => expect(ingress.names(ingress.last(TYPE_URL.cluster)).length).toBe(2));

    // A workload token cannot pass itself off as the ingress.
    const impostor = new RawAdsClient(zone.plaintextXdsAddress!, { id: 'gw-2', metadata: nodeMetadata({ 'meshfed.io/kind': 'ingress', 'meshfed.io/token': zone.issueDataplaneToken({ tenant: 'acme', namespace: 'demo', serviceAccount: 'x' }), 'meshfed.io/ingress-port': '10001' }) });
    clients.push(impostor);
    impostor.request(TYPE_URL.listener);
    await eventually(() => expect(impostor.status?.code).toBe(grpcStatus.INVALID_ARGUMENT));
  });
});
