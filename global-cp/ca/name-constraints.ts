import { AsnConvert } from '@peculiar/asn1-schema';
import { NameConstraints, id_ce_nameConstraints, type GeneralSubtree } from '@peculiar/asn1-x509';
import type { x509 } from '../../core/pki/crypto.js';

/**
 * Whether a CA's X.509 name constraints (RFC 5280 §4.2.1.10) let it certify
 * the SPIFFE IDs of `trustDomain` — and the certificates meshfed issues below
 * it. Returns why not, or undefined when they do (or when it has none).
 *
 * URI constraints are matched against the host part as OpenSSL does:
 * "acme.mesh" permits exactly that host, ".mesh" any host below it.
 * Constraints on DNS names, IP addresses and e-mail addresses cannot affect
 * SVIDs (they carry none) and are let through. Directory-name and other
 * constraint types are refused: meshfed chooses the subject names of zone
 * intermediates and SVIDs, so it cannot promise they fit.
 */
export function nameConstraintsProblem(certificate: x509.X509Certificate, trustDomain: string): string | undefined {
  const extension = certificate.getExtension(id_ce_nameConstraints);
  if (!extension) return undefined;
  let constraints: NameConstraints;
  try {
    constraints = AsnConvert.parse(extension.value, NameConstraints);
  } catch {
    return 'its nameConstraints extension does not parse';
  }
  const permitted = constraints.permittedSubtrees ?? [];
  const excluded = constraints.excludedSubtrees ?? [];
  for (const subtree of [...permitted, ...excluded]) {
    const problem = unsupported(subtree);
    if (problem) return problem;
  }
  const host = trustDomain.toLowerCase();
  const excludedBy = excluded.map(uriOf).find((base) => base !== undefined && uriHostMatches(host, base));
  if (excludedBy !== undefined) return `its name constraints exclude URI "${excludedBy}", which covers trust domain "${trustDomain}"`;
  const permittedUris = permitted.map(uriOf).filter((base): base is string => base !== undefined);
  if (permittedUris.length && !permittedUris.some((base) => uriHostMatches(host, base))) {
    return `its name constraints permit only URIs under ${permittedUris.map((u) => `"${u}"`).join(', ')}, not trust domain "${trustDomain}"`;
  }
  return undefined;
}

/** RFC 5280 URI constraint on a host: exact (case-insensitive), or any host below a base starting with ".". */
export function uriHostMatches(host: string, base: string): boolean {
  const h = host.toLowerCase();
  const b = base.toLowerCase();
  return b.startsWith('.') ? h.length > b.length && h.endsWith(b) : h === b;
}

const uriOf = (subtree: GeneralSubtree) => subtree.base.uniformResourceIdentifier;

function unsupported(subtree: GeneralSubtree): string | undefined {
  if (subtree.minimum || subtree.maximum !== undefined) return 'its name constraints set minimum/maximum, which RFC 5280 forbids and verifiers reject';
  const base = subtree.base;
  if (base.uniformResourceIdentifier !== undefined || base.dNSName !== undefined || base.iPAddress !== undefined || base.rfc822Name !== undefined) return undefined;
  if (base.directoryName) return 'its name constraints restrict directory names, which meshfed cannot honour: it names zone intermediates and SVIDs itself';
  return 'its name constraints use a name type meshfed does not support (only URI, DNS, IP and e-mail)';
}
