/** The gateway's certificates: what other folders may use. */
export { CONTROL_PLANE_BACKOFF, backoffDelayMs, type Backoff } from './backoff.js';
export { CertificateClient, CertificateRequestError, controlPlaneChannelOptions, controlPlaneCredentials, type CertificateClientOptions, type SignedCertificate } from './certificate-client.js';
export { entitledSpiffeId, readDataplaneToken, type DataplaneTokenClaims } from './dataplane-token.js';
export { SvidManager, issuedSvidProblem, renewDelayMs, type Svid, type SvidManagerOptions, type SvidRenewalResult, type SvidSource } from './svid-manager.js';
