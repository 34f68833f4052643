export interface SpiffeId {
  trustDomain: string;
  path: string;
}

const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
const SEGMENT = /^[A-Za-z0-9._-]+$/;

/**
 * Parses a SPIFFE ID strictly (SPIFFE ID spec §2): no userinfo, port, query or
 * fragment, lowercase trust domain. openssl checks name constraints loosely
 * (see NOTES.md), so meshfed must refuse anything but this exact form.
 */
export function parseSpiffeId(text: string): SpiffeId | { error: string } {
  const prefix = 'spiffe://';
  if (!text.startsWith(prefix)) return { error: 'must start with spiffe://' };
  const rest = text.slice(prefix.length);
  const slash = rest.indexOf('/');
  const trustDomain = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? '' : rest.slice(slash);
  if (!trustDomain || trustDomain.length > 255 || !TRUST_DOMAIN.test(trustDomain)) {
    return { error: 'trust domain must be lowercase letters, digits, ".", "-" or "_" (no userinfo or port)' };
  }
  if (path) {
    const segments = path.slice(1).split('/');
    if (segments.some((s) => !SEGMENT.test(s) || s === '.' || s === '..')) {
      return { error: 'path segments must be non-empty letters, digits, ".", "-" or "_" (no query, fragment, "." or "..")' };
    }
  }
  return { trustDomain, path };
}

export function workloadSpiffeId(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}
