import { isIP } from 'node:net';
import { checkServerIdentity } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { CERTIFICATE_PROTO, loadGrpcPackage, type SignCertificateRequest, type SignCertificateResponse } from '../../core/proto/load.js';

/** What the zone CP's certificate service answers, with times parsed. */
export interface SignedCertificate {
  /** PEM certificates: the SVID first, then the zone intermediate. */
  certChainPem: string[];
  /** PEM roots the tenant's workloads trust. */
  trustBundlePem: string[];
  spiffeId: string;
  expiresAt: Date;
  renewAfter: Date;
}

type CertificateServiceStub = grpc.Client & {
  SignCertificate(
    request: SignCertificateRequest,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: (error: grpc.ServiceError | null, reply?: SignCertificateResponse) => void,
  ): grpc.ClientUnaryCall;
};
type CertificateServiceConstructor = new (address: string, credentials: grpc.ChannelCredentials, options?: grpc.ChannelOptions) => CertificateServiceStub;

let serviceConstructor: CertificateServiceConstructor | undefined;
function certificateService(): CertificateServiceConstructor {
  serviceConstructor ??= (loadGrpcPackage([CERTIFICATE_PROTO]) as unknown as { meshfed: { ca: { v1: { CertificateService: CertificateServiceConstructor } } } }).meshfed.ca.v1.CertificateService;
  return serviceConstructor;
}

/** A refused or failed SignCertificate call. `transient` says whether asking again unchanged may work. */
export class CertificateRequestError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
    /** The call succeeded but its answer could not be used. */
    readonly unusableAnswer = false,
  ) {
    super(message);
    this.name = 'CertificateRequestError';
  }

  /** The zone CP was unreachable, busy or had no intermediate yet: worth retrying soon. */
  get transient(): boolean {
    return !this.unusableAnswer && [grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED, grpc.status.RESOURCE_EXHAUSTED, grpc.status.ABORTED, grpc.status.INTERNAL, grpc.status.UNKNOWN, grpc.status.CANCELLED].includes(this.code);
  }
}

export interface CertificateClientOptions {
  /** host:port of the zone CP's TLS gRPC port. */
  address: string;
  /** PEM of the CA that signed the zone CP's gRPC certificate (`<state dir>/tls/ca.crt`): the only CA trusted. */
  caPem: string | Buffer;
  /** Name to check the zone CP's certificate for, when not the host of `address`. */
  serverName?: string;
}

/** Channel options shared by the gateway's control-plane clients. */
export function controlPlaneChannelOptions(serverName: string | undefined): grpc.ChannelOptions {
  return serverName ? { 'grpc.ssl_target_name_override': serverName, 'grpc.default_authority': serverName } : {};
}

/** A name sent as TLS SNI when the zone CP is dialled by IP: the zone CP ignores SNI, and RFC 6066 forbids an IP there. */
const IP_TARGET_SNI = 'zone-cp.meshfed.invalid';

/**
 * Credentials and channel options to reach a zone CP at `address`, pinning
 * its CA (and presenting a client certificate when given). Dialled by IP
 * without `serverName`, the certificate is still checked for that IP, but
 * the TLS server name sent is a placeholder: grpc-js would otherwise send the
 * IP, which Node warns about (DEP0123) and RFC 6066 does not allow.
 */
export function controlPlaneCredentials(
  address: string,
  serverName: string | undefined,
  ca: Buffer,
  client?: { keyPem: string; certChainPem: string },
): { credentials: grpc.ChannelCredentials; options: grpc.ChannelOptions } {
  const host = hostOf(address);
  const byIp = !serverName && isIP(host) !== 0;
  const verify: grpc.VerifyOptions = byIp ? { checkServerIdentity: (_name, cert) => checkServerIdentity(host, cert) } : {};
  const credentials = client
    ? grpc.credentials.createSsl(ca, Buffer.from(client.keyPem), Buffer.from(client.certChainPem), verify)
    : grpc.credentials.createSsl(ca, null, null, verify);
  const options = byIp ? { 'grpc.ssl_target_name_override': IP_TARGET_SNI, 'grpc.default_authority': address } : controlPlaneChannelOptions(serverName);
  return { credentials, options };
}

function hostOf(address: string): string {
  const colon = address.lastIndexOf(':');
  const host = colon > 0 ? address.slice(0, colon) : address;
  return host.replace(/^\[|\]$/g, '');
}

/**
 * meshfed.ca.v1.CertificateService over TLS, pinning the zone CP's CA. The
 * dataplane token goes as `authorization: Bearer` metadata; no client
 * certificate is needed (a proxy without an SVID must be able to get one).
 */
export class CertificateClient {
  private readonly stub: CertificateServiceStub;

  constructor(options: CertificateClientOptions) {
    const Service = certificateService();
    const { credentials, options: channelOptions } = controlPlaneCredentials(options.address, options.serverName, Buffer.from(options.caPem));
    this.stub = new Service(options.address, credentials, channelOptions);
  }

  /** Asks for an SVID for the key of `csrPem`; rejects with a CertificateRequestError. `validitySeconds` 0 takes the zone's default. */
  sign(request: { csrPem: string; token: string; validitySeconds?: number; timeoutMs?: number }): Promise<SignedCertificate> {
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${request.token}`);
    const deadline = new Date(Date.now() + (request.timeoutMs ?? 10_000));
    return new Promise((resolve, reject) => {
      this.stub.SignCertificate({ csr: request.csrPem, validity_seconds: Math.max(0, Math.floor(request.validitySeconds ?? 0)) }, metadata, { deadline }, (error, reply) => {
        if (error) return reject(new CertificateRequestError(error.code, `${grpc.status[error.code] ?? error.code}: ${error.details || error.message}`));
        try {
          resolve(readReply(reply));
        } catch (problem) {
          reject(new CertificateRequestError(grpc.status.INTERNAL, `the zone CP's answer is unusable: ${(problem as Error).message}`, true));
        }
      });
    });
  }

  close(): void {
    this.stub.close();
  }
}

function readReply(reply: SignCertificateResponse | undefined): SignedCertificate {
  if (!reply) throw new Error('empty reply');
  const expiresAt = new Date(reply.expires_at);
  const renewAfter = new Date(reply.renew_after);
  if (Number.isNaN(expiresAt.getTime()) || Number.isNaN(renewAfter.getTime())) throw new Error('expires_at or renew_after is not a time');
  if (!reply.cert_chain.length) throw new Error('no certificate chain');
  if (!reply.trust_bundle.length) throw new Error('no trust bundle');
  return { certChainPem: reply.cert_chain, trustBundlePem: reply.trust_bundle, spiffeId: reply.spiffe_id, expiresAt, renewAfter };
}
