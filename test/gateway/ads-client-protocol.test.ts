import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADS_PROTO, loadGrpcPackage } from '../../core/proto/load.js';
import { TYPE_URL, encodeResource } from '../../core/xds/protos.js';
import { AdsClient, type XdsSnapshot } from '../../gateway/xds/index.js';
import { ensureServingCert } from '../../zone-cp/certs/serving-cert.js';
import { issueDataplaneToken } from '../../zone-cp/dataplanes/tokens.js';
import { eventually } from '../helpers/eventually.js';
import { testLogger } from './zone-fixture.js';

interface Request {
  node?: { id?: string; metadata?: { fields?: Record<string, { string_value?: string; stringValue?: string }> } };
  type_url: string;
  resource_names: string[];
  response_nonce: string;
}

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const listener = {
  name: 'outbound:8080',
  address: { socket_address: { address: '127.0.0.1', port_value: 8080 } },
  filter_chains: [{ filters: [{ name: 'hcm', typed_config: { '@type': HCM, stat_prefix: 'o', rds: { config_source: { ads: {} }, route_config_name: 'r1' } } }] }],
};
const route = { name: 'r1', virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, direct_response: { status: 200 } }] }] };

/**
 * The client's side of the protocol against a scripted ADS server on TLS:
 * what it sends first, and when it emits a snapshot that is still waiting
 * for something its listeners refer to.
 */
describe('gateway ADS client protocol (scripted server)', () => {
  let server: grpc.Server;
  let address: string;
  let caFile: string;
  const requests: Request[] = [];
  const metadata: grpc.Metadata[] = [];
  /** What the server answers, per type URL; a type without an entry gets no answer. */
  const answers = new Map<string, Record<string, unknown>[]>();
  let nonce = 0;
  const token = issueDataplaneToken(Buffer.alloc(32, 1), { zone: 'z', tenant: '', namespace: '', serviceAccount: '', ingress: true, issuedAt: 0, expiresAt: Date.now() + 3_600_000 }).token;

  beforeAll(async () => {
    const cert = await ensureServingCert(await mkdtemp(join(tmpdir(), 'meshfed-fake-ads-')), 'z', ['127.0.0.1']);
    caFile = cert.caFile;
    const Ads = (loadGrpcPackage([ADS_PROTO]) as unknown as { envoy: { service: { discovery: { v3: { AggregatedDiscoveryService: { service: grpc.ServiceDefinition } } } } } }).envoy.service.discovery.v3.AggregatedDiscoveryService;
    server = new grpc.Server();
    server.addService(Ads.service, {
      StreamAggregatedResources: (call: grpc.ServerDuplexStream<Request, unknown>) => {
        metadata.push(call.metadata);
        call.on('data', (request: Request) => {
          requests.push(request);
          const resources = answers.get(request.type_url);
          if (!resources || request.response_nonce) return;
          call.write({ type_url: request.type_url, version_info: '1', nonce: String(++nonce), resources: resources.map((r) => encodeResource(request.type_url, r)) });
        });
        call.on('end', () => call.end());
      },
      DeltaAggregatedResources: () => undefined,
    });
    const credentials = grpc.ServerCredentials.createSsl(null, [{ cert_chain: Buffer.from(cert.certificatePem), private_key: Buffer.from(cert.privateKeyPem) }]);
    const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', credentials, (error, bound) => (error ? reject(error) : resolve(bound))));
    address = `127.0.0.1:${port}`;
  });

  afterAll(() => server?.forceShutdown());

  const client = (missingTimeoutMs: number) => {
    const snapshots: XdsSnapshot[] = [];
    const created = new AdsClient({ address, caFile, token, node: { id: 'gw-1', kind: 'ingress', ingressPort: 10001, locality: { region: 'r', zone: 'z' } }, missingTimeoutMs, registry: new Registry(), log: testLogger() });
    created.onSnapshot((s) => snapshots.push(s));
    return { created, snapshots };
  };

  it('sends its node only on the first request, its token as metadata, and waits for what a listener refers to before emitting', async () => {
    answers.clear();
    answers.set(TYPE_URL.listener, [listener]);
    answers.set(TYPE_URL.cluster, []);
    answers.set(TYPE_URL.route, [route]);
    requests.length = 0;
    const { created, snapshots } = client(10_000);
    await created.start();
    await eventually(() => expect(snapshots).toHaveLength(1));
    await created.stop();
    expect(metadata.at(-1)!.get('authorization')).toEqual([`Bearer ${token}`]);
    expect(requests[0]).toMatchObject({ type_url: TYPE_URL.listener, node: { id: 'gw-1' } });
    const fields = requests[0]!.node!.metadata!.fields!;
    expect(fields['meshfed.io/kind']?.string_value ?? fields['meshfed.io/kind']?.stringValue).toBe('ingress');
    expect(fields['meshfed.io/ingress-port']?.string_value ?? fields['meshfed.io/ingress-port']?.stringValue).toBe('10001');
    expect(requests.slice(1).every((r) => !r.node)).toBe(true);
    expect(requests.find((r) => r.type_url === TYPE_URL.route)?.resource_names).toEqual(['r1']);
    // One snapshot with the listener and its route: never the listener alone.
    expect([...snapshots[0]!.routes.keys()]).toEqual(['r1']);
  });

  it('applies a config without a route configuration that never comes, once the wait is over', async () => {
    answers.clear();
    answers.set(TYPE_URL.listener, [listener]);
    answers.set(TYPE_URL.cluster, []);
    const { created, snapshots } = client(400);
    const started = Date.now();
    await created.start();
    await eventually(() => expect(snapshots).toHaveLength(1), 5_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    expect([...snapshots[0]!.listeners.keys()]).toEqual(['outbound:8080']);
    expect(snapshots[0]!.routes.size).toBe(0);
    await created.stop();
  });
});
