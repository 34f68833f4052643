import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../core/log.js';
import type { SignCertificateRequest, SignCertificateResponse } from '../../core/proto/load.js';
import { SvidRefused, type SvidIssuer } from '../certs/svid-issuer.js';
import type { TokenCheck } from '../dataplanes/tokens.js';

/** The bearer token of a call, from its `authorization` metadata. */
export function bearerToken(metadata: grpc.Metadata): string | undefined {
  const value = metadata.get('authorization')[0];
  if (typeof value !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(value);
  return match?.[1];
}

const STATUS_OF: Record<SvidRefused['kind'], grpc.status> = {
  invalid: grpc.status.INVALID_ARGUMENT,
  denied: grpc.status.PERMISSION_DENIED,
  unavailable: grpc.status.UNAVAILABLE,
};

/** meshfed.ca.v1.CertificateService: the gRPC side of SvidIssuer. */
export function certificateServiceHandlers(options: { verifyToken(token: string): TokenCheck; issuer: SvidIssuer; log: Logger }): grpc.UntypedServiceImplementation {
  return {
    SignCertificate: (call: grpc.ServerUnaryCall<SignCertificateRequest, SignCertificateResponse>, callback: grpc.sendUnaryData<SignCertificateResponse>) => {
      const token = bearerToken(call.metadata);
      if (!token) return callback({ code: grpc.status.UNAUTHENTICATED, details: 'a dataplane token is required (metadata "authorization: Bearer mfd_...")' });
      const check = options.verifyToken(token);
      if (!check.ok) return callback({ code: grpc.status.UNAUTHENTICATED, details: check.reason });
      const claims = check.claims;
      options.issuer.issue(claims, call.request.csr, Number(call.request.validity_seconds) || 0).then(
        (svid) => {
          options.log.debug({ spiffeId: svid.spiffeId, expiresAt: svid.expiresAt }, 'SVID issued');
          callback(null, {
            cert_chain: svid.chainPem,
            trust_bundle: svid.trustBundle,
            spiffe_id: svid.spiffeId,
            expires_at: svid.expiresAt.toISOString(),
            renew_after: svid.renewAfter.toISOString(),
          });
        },
        (error: Error) => {
          if (error instanceof SvidRefused) {
            options.log.info({ tenant: claims.tenant, namespace: claims.namespace, serviceAccount: claims.serviceAccount, reason: error.message }, 'SVID request refused');
            return callback({ code: STATUS_OF[error.kind], details: error.message });
          }
          options.log.error({ err: error.message }, 'SVID signing failed');
          callback({ code: grpc.status.INTERNAL, details: 'signing failed' });
        },
      );
    },
  };
}
