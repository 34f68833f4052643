import * as grpc from '@grpc/grpc-js';
import type { Registry } from 'prom-client';
import type { ListenAddress } from '../../core/config.js';
import { ConfigError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { ADS_PROTO, CERTIFICATE_PROTO, loadGrpcPackage } from '../../core/proto/load.js';
import type { Locality } from '../../core/schemas/dataplane.js';
import type { IntermediateKeeper } from '../certs/intermediates.js';
import type { ServingCert } from '../certs/serving-cert.js';
import type { SvidIssuer } from '../certs/svid-issuer.js';
import type { DataplaneTokenAuthority } from '../dataplanes/token-authority.js';
import { endpointKey, type LocalEndpoint } from '../discovery/model.js';
import { bearerToken, certificateServiceHandlers } from '../grpc/certificate-service.js';
import { zoneCpServerCredentials } from '../grpc/credentials.js';
import type { TenantView } from '../sync/tenant-view.js';
import { ProxySnapshots } from './cache/proxy-snapshots.js';
import { TenantModels, generateProxyResources, proxyShareKey } from './generation.js';
import { NODE_METADATA, describeProxy, nodeMetadataString, peerCertificateDer, peerSvidProblem, type ProxyDescription } from './identify.js';
import { AdsServer, type ConnectedProxy, type IdentifyOutcome } from './server/ads-server.js';

export interface XdsOptions {
  zone: string;
  zoneLocality(): Locality;
  tenants(): Record<string, TenantView>;
  endpoints(): LocalEndpoint[];
  tokens: DataplaneTokenAuthority;
  intermediates: IntermediateKeeper;
  svids: SvidIssuer;
  servingCert: ServingCert;
  grpcListen: ListenAddress;
  plaintextListen?: ListenAddress;
  debounceMs: number;
  registry: Registry;
  log: Logger;
}

export interface RunningXds {
  grpcAddress: string;
  plaintextAddress: string | undefined;
  connected(): ConnectedProxy<ProxyDescription>[];
  /** Policy, placement, endpoints or certificates changed: regenerate (debounced). */
  invalidate(): void;
  stop(): Promise<void>;
}

type AnyGrpcService = grpc.ServiceDefinition & Record<string, unknown>;

function serviceOf(pkg: grpc.GrpcObject, path: string): grpc.ServiceDefinition {
  let node: unknown = pkg;
  for (const part of path.split('.')) node = (node as Record<string, unknown>)[part];
  return (node as { service: AnyGrpcService }).service;
}

async function bind(server: grpc.Server, listen: ListenAddress, credentials: grpc.ServerCredentials, what: string): Promise<string> {
  const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host;
  try {
    const port = await new Promise<number>((resolve, reject) => server.bindAsync(`${host}:${listen.port}`, credentials, (error, bound) => (error ? reject(error) : resolve(bound))));
    return `${host}:${port}`;
  } catch (error) {
    throw new ConfigError(`cannot listen for ${what} on ${host}:${listen.port}: ${(error as Error).message}`);
  }
}

/**
 * The zone CP's gRPC side: ADS for every proxy kind and the certificate
 * service. The TLS port takes meshfed's own proxies (mTLS once they hold an
 * SVID); the optional plaintext port serves proxyless gRPC clients, whose
 * bootstrap can only use insecure channel credentials.
 */
export async function startXds(options: XdsOptions): Promise<RunningXds> {
  const { log } = options;
  const pkg = loadGrpcPackage([ADS_PROTO, CERTIFICATE_PROTO]);
  const adsService = serviceOf(pkg, 'envoy.service.discovery.v3.AggregatedDiscoveryService');
  const certificateService = serviceOf(pkg, 'meshfed.ca.v1.CertificateService');

  const findRegistered = (tenant: string, namespace: string) => (service: string, instance: string) =>
    options.endpoints().find((e) => endpointKey(e) === endpointKey({ tenant, namespace, service, instance }));

  const models = new TenantModels({ zone: options.zone, tenants: () => options.tenants(), endpoints: () => options.endpoints() }, log);
  const snapshots = new ProxySnapshots<ProxyDescription>(
    (proxy) => generateProxyResources(models, proxy),
    {
      debounceMs: options.debounceMs,
      log,
      registry: options.registry,
      shareKey: proxyShareKey,
    },
  );

  const ads = new AdsServer<ProxyDescription>({
    registry: options.registry,
    log,
    watch: (proxy, push) => snapshots.watch(proxy, push),
    identify: async (call, node, port): Promise<IdentifyOutcome<ProxyDescription>> => {
      const token = port === 'mtls' ? bearerToken(call.metadata) : (nodeMetadataString(node, NODE_METADATA.token) ?? bearerToken(call.metadata));
      if (!token) return { ok: false, code: grpc.status.UNAUTHENTICATED, message: `a dataplane token is required (${port === 'mtls' ? 'metadata "authorization: Bearer mfd_..."' : `node metadata "${NODE_METADATA.token}"`})` };
      const check = options.tokens.verify(token);
      if (!check.ok) return { ok: false, code: grpc.status.UNAUTHENTICATED, message: check.reason };
      const claims = check.claims;
      const view = options.tenants()[claims.tenant];
      if (!view && !claims.ingress) return { ok: false, code: grpc.status.PERMISSION_DENIED, message: `tenant "${claims.tenant}" is not placed in this zone` };
      const described = describeProxy(node, claims, view?.trustDomain ?? '', options.zoneLocality(), findRegistered(claims.tenant, claims.namespace), port);
      if ('error' in described) return { ok: false, code: grpc.status.INVALID_ARGUMENT, message: described.error };
      // The ingress holds no SVID: it passes TLS through, and its token alone says what it is.
      if (port === 'mtls' && described.kind !== 'ingress') {
        const problem = await peerSvidProblem(peerCertificateDer(call), options.intermediates.validIssuers(claims.tenant), described.spiffeId, Date.now());
        if (problem) return { ok: false, code: grpc.status.UNAUTHENTICATED, message: problem };
      }
      return { ok: true, proxy: described };
    },
  });

  const secure = new grpc.Server();
  secure.addService(adsService, ads.handlers('mtls'));
  secure.addService(certificateService, certificateServiceHandlers({ verifyToken: (t) => options.tokens.verify(t), issuer: options.svids, log }));
  const credentials = zoneCpServerCredentials(options.servingCert.certificatePem, options.servingCert.privateKeyPem, options.servingCert.caPem);
  const grpcAddress = await bind(secure, options.grpcListen, credentials, 'gRPC (TLS)');

  let plaintext: grpc.Server | undefined;
  let plaintextAddress: string | undefined;
  if (options.plaintextListen) {
    plaintext = new grpc.Server();
    plaintext.addService(adsService, ads.handlers('plaintext'));
    try {
      plaintextAddress = await bind(plaintext, options.plaintextListen, grpc.ServerCredentials.createInsecure(), 'plaintext xDS');
    } catch (error) {
      secure.forceShutdown();
      throw error;
    }
  }
  log.info({ grpc: grpcAddress, plaintextXds: plaintextAddress ?? 'off' }, 'xDS and certificate service listening');

  // A revoked dataplane token loses its config stream, not only its next certificate.
  const revocationSweep = setInterval(() => ads.disconnect((p) => options.tokens.isRevoked(p.tokenId), 'dataplane token revoked'), 2000);
  revocationSweep.unref();

  return {
    grpcAddress,
    plaintextAddress,
    connected: () => ads.connected(),
    invalidate: () => {
      models.invalidate();
      snapshots.invalidate();
    },
    async stop() {
      clearInterval(revocationSweep);
      snapshots.stop();
      ads.closeAll();
      await Promise.all(
        [secure, plaintext].filter((s) => s !== undefined).map(
          (s) =>
            new Promise<void>((resolve) => {
              const timer = setTimeout(() => {
                s.forceShutdown();
                resolve();
              }, 2000);
              s.tryShutdown(() => {
                clearTimeout(timer);
                resolve();
              });
            }),
        ),
      );
    },
  };
}
