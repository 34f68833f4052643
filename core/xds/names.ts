/**
 * The names xDS resources and SNI carry. Every part of meshfed (zone CP
 * generation, gateway, tests) builds them here, so they agree. See DESIGN.md (xDS, Data flow).
 */

/** `<service>.<namespace>.mesh` — a service's mesh hostname. */
export const meshHostname = (service: string, namespace: string) => `${service}.${namespace}.mesh`;

/**
 * `<service>.<namespace>.mesh:<port>` — the name of a service port's API
 * listener (proxyless gRPC dials `xds:///<this>`), its route configuration
 * and its cluster.
 */
export const serviceAuthority = (service: string, namespace: string, port: number) => `${meshHostname(service, namespace)}:${port}`;

/** Tags as one canonical, sorted `k=v,k=v` string (a subset of a service's endpoints). */
export const subsetKey = (tags: Record<string, string>) =>
  Object.keys(tags)
    .sort()
    .map((k) => `${k}=${tags[k]}`)
    .join(',');

/** Cluster for a service port, or one subset of it: `<authority>` or `<authority>|<k=v,...>`. */
export const clusterName = (service: string, namespace: string, port: number, subset?: Record<string, string>) => {
  const key = subset ? subsetKey(subset) : '';
  return key ? `${serviceAuthority(service, namespace, port)}|${key}` : serviceAuthority(service, namespace, port);
};

/** A sidecar's inbound listener for one of its own ports. */
export const inboundListenerName = (port: number) => `inbound:${port}`;

/** A sidecar's outbound listener for an upstream service port. */
export const outboundListenerName = (service: string, namespace: string, port: number) => `outbound:${serviceAuthority(service, namespace, port)}`;

/** The east-west ingress gateway's one listener. */
export const INGRESS_LISTENER_NAME = 'ingress:sni';

/**
 * SNI a sidecar sends to a remote zone's ingress: `<port>.<service>.<namespace>.<tenant>.mesh`,
 * optionally prefixed by a subset label value (`<subset>.`). See DESIGN.md, Data flow 5.
 */
export const ingressSni = (tenant: string, service: string, namespace: string, port: number, subset?: string) =>
  `${subset ? `${subset}.` : ''}${port}.${service}.${namespace}.${tenant}.mesh`;

export interface ParsedSni {
  tenant: string;
  namespace: string;
  service: string;
  port: number;
  subset?: string;
}

const LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Reads an ingress SNI back; undefined for anything that is not exactly that form. Pure. */
export function parseIngressSni(sni: string): ParsedSni | undefined {
  const parts = sni.toLowerCase().split('.');
  if (parts.length < 5 || parts.length > 6 || parts[parts.length - 1] !== 'mesh') return undefined;
  const [tenant, namespace, service, portText] = [parts.at(-2)!, parts.at(-3)!, parts.at(-4)!, parts.at(-5)!];
  const subset = parts.length === 6 ? parts[0] : undefined;
  if (![tenant, namespace, service, ...(subset ? [subset] : [])].every((p) => LABEL.test(p))) return undefined;
  if (!/^[1-9][0-9]{0,4}$/.test(portText) || Number(portText) > 65535) return undefined;
  return { tenant, namespace, service, port: Number(portText), ...(subset ? { subset } : {}) };
}
