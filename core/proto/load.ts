import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ENVOY_PROTO_INCLUDE_DIRS } from '../xds/protos.js';

const OWN_PROTO_DIR = dirname(fileURLToPath(import.meta.url));

/** Options every meshfed gRPC definition is loaded with: proto field names, strings for enums and 64-bit numbers. */
const LOADER_OPTIONS: protoLoader.Options = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

/** Loads gRPC service definitions from meshfed's own protos or Envoy's (from @grpc/grpc-js-xds). */
export function loadGrpcPackage(files: string[]): grpc.GrpcObject {
  return grpc.loadPackageDefinition(protoLoader.loadSync(files, { ...LOADER_OPTIONS, includeDirs: [OWN_PROTO_DIR, ...ENVOY_PROTO_INCLUDE_DIRS] }));
}

export const CERTIFICATE_PROTO = 'meshfed/ca/v1/certificates.proto';
export const ADS_PROTO = 'envoy/service/discovery/v3/ads.proto';

/** Path of a proto meshfed ships, for tools that need the file. */
export const ownProtoPath = (file: string) => join(OWN_PROTO_DIR, file);

/** meshfed.ca.v1.CertificateService messages as loaded above (proto field names, 64-bit numbers as strings on the way in). */
export interface SignCertificateRequest {
  csr: string;
  validity_seconds: number | string;
}

export interface SignCertificateResponse {
  cert_chain: string[];
  trust_bundle: string[];
  spiffe_id: string;
  expires_at: string;
  renew_after: string;
}
