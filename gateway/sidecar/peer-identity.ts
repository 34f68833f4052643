import type { PeerCertificate } from 'node:tls';

/**
 * The SPIFFE ID of a verified peer certificate: its one URI SAN starting
 * with `spiffe://`. Undefined when there is none, or more than one (an SVID
 * carries exactly one; two would make the identity ambiguous). Pure.
 */
export function spiffeIdOf(certificate: Pick<PeerCertificate, 'subjectaltname'> | undefined): string | undefined {
  const san = certificate?.subjectaltname;
  if (!san) return undefined;
  const uris = san
    .split(/,\s*/)
    .filter((entry) => entry.startsWith('URI:'))
    .map((entry) => entry.slice(4));
  const spiffe = uris.filter((uri) => uri.startsWith('spiffe://'));
  return spiffe.length === 1 ? spiffe[0] : undefined;
}
