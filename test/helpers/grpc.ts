import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { CERTIFICATE_PROTO, loadGrpcPackage, type SignCertificateResponse } from '../../core/proto/load.js';

export type SignReply = SignCertificateResponse;

type CertificateClient = grpc.Client & {
  SignCertificate(request: { csr: string; validity_seconds?: number }, metadata: grpc.Metadata, callback: (error: grpc.ServiceError | null, reply?: SignReply) => void): void;
};

/** A client of a zone CP's certificate service over its TLS port, pinning the zone CP's CA. */
export function certificateClient(address: string, caFile: string): CertificateClient {
  const pkg = loadGrpcPackage([CERTIFICATE_PROTO]) as unknown as { meshfed: { ca: { v1: { CertificateService: new (address: string, credentials: grpc.ChannelCredentials) => CertificateClient } } } };
  return new pkg.meshfed.ca.v1.CertificateService(address, grpc.credentials.createSsl(readFileSync(caFile)));
}

export function signCertificate(client: CertificateClient, token: string | undefined, csr: string, validitySeconds = 0): Promise<SignReply> {
  const metadata = new grpc.Metadata();
  if (token) metadata.set('authorization', `Bearer ${token}`);
  return new Promise((resolve, reject) =>
    client.SignCertificate({ csr, validity_seconds: validitySeconds }, metadata, (error, reply) => (error ? reject(error) : resolve(reply!))),
  );
}
