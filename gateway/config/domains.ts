/**
 * Which virtual host of a route configuration serves a request, by its
 * authority, in Envoy's order (RouteMatcher::findVirtualHost): an exact
 * domain, then the longest suffix wildcard (`*.foo.com`, `*-bar.foo.com`),
 * then the longest prefix wildcard (`foo.*`), then `*`. Domains and the
 * authority compare case-insensitively; a wildcard never matches the empty
 * string (`*.foo.com` does not match `.foo.com`).
 *
 * The port is part of the authority: `foo.com` does not match
 * `foo.com:8080`. Envoy matches the authority as sent; its docs ("Why is my
 * route not found?") tell users to list `host` and `host:port` both, which
 * is why meshfed's zone CP emits both. The exception is RouteConfiguration's
 * `ignore_port_in_host_matching`, which drops the authority's port (never a
 * domain's) before matching; it is honoured here.
 */
import { fail } from './problems.js';
import { asciiLower } from './string-matcher.js';

export interface DomainEntry<T> {
  readonly domains: readonly string[];
  readonly value: T;
}

export interface DomainIndex<T> {
  select(authority: string): T | undefined;
}

interface Wildcard<T> {
  /** The domain without its `*`: `.foo.com` or `foo.`. */
  readonly fixed: string;
  readonly value: T;
}

/**
 * Where the port starts in an authority (Envoy's HeaderUtility::getPortStart):
 * the last `:`, unless it is inside an IPv6 literal's brackets. -1: no port.
 */
export function portStart(authority: string): number {
  const colon = authority.lastIndexOf(':');
  if (colon === -1) return -1;
  const bracket = authority.lastIndexOf(']');
  return bracket === -1 || bracket < colon ? colon : -1;
}

/** Builds the index. Throws a ConfigProblem where Envoy rejects the route configuration: duplicate domains, more than one `*`, a host without domains. */
export function compileDomainIndex<T>(entries: readonly DomainEntry<T>[], options: { ignorePort?: boolean } = {}): DomainIndex<T> {
  const exact = new Map<string, T>();
  const suffixes: Wildcard<T>[] = [];
  const prefixes: Wildcard<T>[] = [];
  let fallback: { value: T } | undefined;
  const seen = new Set<string>();
  for (const entry of entries) {
    if (entry.domains.length === 0) fail('virtual host has no domains');
    for (const raw of entry.domains) {
      const domain = asciiLower(raw);
      if (domain === '') fail('empty domain');
      if (seen.has(domain)) fail(`duplicate domain ${raw}`);
      seen.add(domain);
      if (domain === '*') fallback = { value: entry.value };
      else if (domain.startsWith('*')) suffixes.push({ fixed: domain.slice(1), value: entry.value });
      else if (domain.endsWith('*')) prefixes.push({ fixed: domain.slice(0, -1), value: entry.value });
      else exact.set(domain, entry.value);
    }
  }
  // Longest first; two wildcards of one length cannot both match one authority.
  const longestFirst = (a: Wildcard<T>, b: Wildcard<T>) => b.fixed.length - a.fixed.length;
  suffixes.sort(longestFirst);
  prefixes.sort(longestFirst);
  const ignorePort = options.ignorePort === true;
  return {
    select(authority: string): T | undefined {
      let host = authority;
      if (ignorePort) {
        const port = portStart(host);
        if (port !== -1) host = host.slice(0, port);
      }
      host = asciiLower(host);
      const hit = exact.get(host);
      if (hit !== undefined) return hit;
      for (const w of suffixes) if (host.length > w.fixed.length && host.endsWith(w.fixed)) return w.value;
      for (const w of prefixes) if (host.length > w.fixed.length && host.startsWith(w.fixed)) return w.value;
      return fallback?.value;
    },
  };
}
