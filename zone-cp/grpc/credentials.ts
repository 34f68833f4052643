import * as grpc from '@grpc/grpc-js';

type Provider = grpc.experimental.CertificateProvider;
type IdentityListener = grpc.experimental.IdentityCertificateUpdateListener;
type CaListener = grpc.experimental.CaCertificateUpdateListener;

/**
 * A certificate provider holding fixed PEMs in memory (grpc-js otherwise only
 * offers one that reads files). It answers listeners on the next tick: grpc-js
 * adds its own watcher only after registering the listener, and an update
 * delivered synchronously would reach nobody (the port would drop every connection).
 */
class FixedCertificates implements Provider {
  constructor(private readonly identity: { certificate: Buffer; privateKey: Buffer }, private readonly ca: Buffer) {}
  addCaCertificateListener(listener: CaListener): void {
    setImmediate(() => listener({ caCertificate: this.ca }));
  }
  removeCaCertificateListener(): void {}
  addIdentityCertificateListener(listener: IdentityListener): void {
    setImmediate(() => listener(this.identity));
  }
  removeIdentityCertificateListener(): void {}
}

/**
 * TLS for the zone CP's gRPC port that asks for a client certificate without
 * requiring one: a proxy with no SVID yet must reach the certificate service,
 * while ADS on the same port insists on one and checks it itself (it knows
 * which intermediate signed the proxy's SVID; a fixed CA list could not).
 */
export function zoneCpServerCredentials(certificatePem: string, privateKeyPem: string, caPem: string): grpc.ServerCredentials {
  const provider = new FixedCertificates({ certificate: Buffer.from(certificatePem), privateKey: Buffer.from(privateKeyPem) }, Buffer.from(caPem));
  return grpc.experimental.createCertificateProviderServerCredentials(provider, provider, false);
}
