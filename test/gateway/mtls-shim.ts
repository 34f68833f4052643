import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ADS_PROTO, loadGrpcPackage } from '../../core/proto/load.js';
import { x509 } from '../../core/pki/crypto.js';

type Stream = grpc.ClientDuplexStream<unknown, unknown>;
type AdsStub = grpc.Client & { StreamAggregatedResources(metadata: grpc.Metadata): Stream };
type AdsConstructor = (new (address: string, credentials: grpc.ChannelCredentials) => AdsStub) & { service: grpc.ServiceDefinition };

/** A client certificate the shim verified: its serial and SPIFFE ID. */
export interface PresentedSvid {
  serial: string;
  spiffeId: string;
}

/**
 * A test stand-in for what the zone CP's TLS port should do with a sidecar:
 * it terminates mTLS with the zone CP's own serving certificate, requires a
 * client certificate that chains to the tenant's trust bundle (so grpc-js
 * shows it), records it, and relays the ADS stream with its bearer token to
 * the zone CP's plaintext xDS port. Needed because the zone CP's own TLS port
 * refuses every SVID (see the report: grpc-js hides peer certificates it did
 * not verify).
 */
export async function startMtlsShim(options: { zoneStateDir: string; upstream: string; trustBundlePem: string[] }): Promise<{ address: string; presented: PresentedSvid[]; stop(): Promise<void> }> {
  const [cert, key] = await Promise.all(['server.crt', 'server.key'].map((f) => readFile(join(options.zoneStateDir, 'tls', f))));
  const Ads = (loadGrpcPackage([ADS_PROTO]) as unknown as { envoy: { service: { discovery: { v3: { AggregatedDiscoveryService: AdsConstructor } } } } }).envoy.service.discovery.v3.AggregatedDiscoveryService;
  const upstream = new Ads(options.upstream, grpc.credentials.createInsecure());
  const presented: PresentedSvid[] = [];
  const server = new grpc.Server();
  server.addService(Ads.service, {
    StreamAggregatedResources: (call: grpc.ServerDuplexStream<unknown, unknown>) => {
      const raw = call.getAuthContext().sslPeerCertificate?.raw;
      if (raw) {
        const certificate = new x509.X509Certificate(raw);
        const uri = certificate.getExtension(x509.SubjectAlternativeNameExtension)?.names.items.find((n) => n.type === 'url')?.value ?? '';
        presented.push({ serial: certificate.serialNumber, spiffeId: uri });
      }
      const metadata = new grpc.Metadata();
      const authorization = call.metadata.get('authorization')[0];
      if (typeof authorization === 'string') metadata.set('authorization', authorization);
      const relay = upstream.StreamAggregatedResources(metadata);
      let done = false;
      call.on('data', (request) => relay.write(request));
      call.on('end', () => relay.end());
      call.on('cancelled', () => relay.cancel());
      call.on('error', () => relay.cancel());
      relay.on('data', (response) => call.write(response));
      relay.on('error', () => undefined);
      relay.on('status', (status: grpc.StatusObject) => {
        if (done) return;
        done = true;
        if (status.code === grpc.status.OK) call.end();
        else call.emit('error', { code: status.code, details: status.details, metadata: new grpc.Metadata() });
      });
    },
    DeltaAggregatedResources: (call: grpc.ServerDuplexStream<unknown, unknown>) => call.emit('error', { code: grpc.status.UNIMPLEMENTED, details: 'no delta' }),
  });
  const credentials = grpc.ServerCredentials.createSsl(Buffer.from(options.trustBundlePem.join('\n')), [{ cert_chain: cert!, private_key: key! }], true);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', credentials, (error, bound) => (error ? reject(error) : resolve(bound))));
  return {
    address: `127.0.0.1:${port}`,
    presented,
    async stop() {
      upstream.close();
      server.forceShutdown();
    },
  };
}
