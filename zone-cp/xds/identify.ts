import { isIP } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { InboundPort, Locality } from '../../core/schemas/dataplane.js';
import { workloadSpiffeId } from '../../core/spiffe.js';
import { x509 } from '../../core/pki/crypto.js';
import type { LocalEndpoint } from '../discovery/model.js';
import type { DataplaneClaims } from '../dataplanes/tokens.js';
import type { XdsNode } from './server/ads-server.js';

export type ProxyKind = 'sidecar' | 'ingress' | 'proxyless';

/** Everything xDS generation needs to know about one connected proxy. */
export interface ProxyDescription {
  /** node.id, qualified by tenant so two tenants' proxies can never collide. */
  id: string;
  kind: ProxyKind;
  tenant: string;
  namespace: string;
  serviceAccount: string;
  spiffeId: string;
  /** The registered dataplane this proxy fronts (sidecars), if any. */
  service?: string;
  instance?: string;
  inbound: InboundPort[];
  address?: string;
  locality: Locality;
  /** Whether the proxy holds an SVID and wants mTLS to its upstreams (meshfed's own proxies, or proxyless gRPC with certificate providers). */
  mtls: boolean;
  tokenId: string;
  /** Ingress only: the port its SNI listener binds. */
  ingressPort?: number;
}

/** Node metadata meshfed reads (Struct values as grpc-js decodes them). */
export const NODE_METADATA = {
  kind: 'meshfed.io/kind',
  service: 'meshfed.io/service',
  instance: 'meshfed.io/instance',
  token: 'meshfed.io/token',
  mtls: 'meshfed.io/mtls',
  ingressPort: 'meshfed.io/ingress-port',
} as const;

export function nodeMetadataString(node: XdsNode, key: string): string | undefined {
  const value = node.metadata?.fields?.[key];
  const text = value?.string_value ?? value?.stringValue;
  return typeof text === 'string' && text ? text : undefined;
}

function nodeMetadataBool(node: XdsNode, key: string): boolean | undefined {
  const value = node.metadata?.fields?.[key];
  const flag = value?.bool_value ?? value?.boolValue;
  if (typeof flag === 'boolean') return flag;
  const text = nodeMetadataString(node, key);
  return text === undefined ? undefined : text === 'true';
}

/**
 * Who a proxy is, from its node (kind, which registered instance, locality)
 * and its dataplane token (tenant, namespace, service account — never taken
 * from the node). Pure.
 */
export function describeProxy(
  node: XdsNode,
  claims: DataplaneClaims,
  trustDomain: string,
  zoneLocality: Locality,
  findRegistered: (service: string, instance: string) => LocalEndpoint | undefined,
  port: 'mtls' | 'plaintext',
): ProxyDescription | { error: string } {
  if (!node.id) return { error: 'node.id is required' };
  const kindText = nodeMetadataString(node, NODE_METADATA.kind) ?? (port === 'mtls' ? 'sidecar' : 'proxyless');
  if (kindText !== 'sidecar' && kindText !== 'proxyless' && kindText !== 'ingress') return { error: `node metadata ${NODE_METADATA.kind} must be sidecar, ingress or proxyless, not "${kindText}"` };
  const kind: ProxyKind = kindText;
  const fromNode = node.locality?.region && node.locality.zone ? { region: node.locality.region, zone: node.locality.zone, ...(node.locality.sub_zone ? { subzone: node.locality.sub_zone } : {}) } : undefined;
  if (Boolean(claims.ingress) !== (kind === 'ingress')) return { error: claims.ingress ? `an ingress token must connect with node metadata ${NODE_METADATA.kind}=ingress` : 'only an ingress token may connect as an ingress' };
  if (kind === 'ingress') {
    const portText = nodeMetadataString(node, NODE_METADATA.ingressPort) ?? '';
    const ingressPort = Number(portText);
    if (!/^[0-9]{1,5}$/.test(portText) || ingressPort < 1 || ingressPort > 65535) return { error: `an ingress must say the port it listens on in node metadata ${NODE_METADATA.ingressPort}` };
    return { id: `ingress/${node.id}`, kind, tenant: '', namespace: '', serviceAccount: '', spiffeId: '', inbound: [], locality: fromNode ?? zoneLocality, mtls: false, tokenId: claims.id, ingressPort };
  }
  const service = nodeMetadataString(node, NODE_METADATA.service);
  const instance = nodeMetadataString(node, NODE_METADATA.instance);
  const registered = service && instance ? findRegistered(service, instance) : undefined;
  if (kind === 'sidecar' && (!service || !instance)) return { error: `a sidecar must name its dataplane in node metadata ${NODE_METADATA.service} and ${NODE_METADATA.instance}` };
  if (registered && registered.serviceAccount !== claims.serviceAccount) return { error: `dataplane ${service}/${instance} runs as service account "${registered.serviceAccount}", not the token's "${claims.serviceAccount}"` };
  return {
    id: `${claims.tenant}/${node.id}`,
    kind,
    tenant: claims.tenant,
    namespace: claims.namespace,
    serviceAccount: claims.serviceAccount,
    spiffeId: workloadSpiffeId(trustDomain, claims.namespace, claims.serviceAccount),
    ...(service ? { service } : {}),
    ...(instance ? { instance } : {}),
    inbound: registered?.ports ?? [],
    ...(registered && isIP(registered.address) ? { address: registered.address } : {}),
    locality: registered?.locality ?? fromNode ?? zoneLocality,
    mtls: port === 'mtls' || nodeMetadataBool(node, NODE_METADATA.mtls) === true,
    tokenId: claims.id,
  };
}

/**
 * Checks the client certificate of an mTLS xDS stream: signed by one of this
 * zone's intermediates of the tenant, valid now, and naming exactly the SPIFFE ID the
 * token entitles. Returns the problem, or undefined when it passes.
 */
export async function peerSvidProblem(peerDer: Buffer | undefined, intermediatesPem: string[], spiffeId: string, nowMs: number): Promise<string | undefined> {
  if (!peerDer?.length) return 'a client certificate (the proxy\'s SVID) is required on this port';
  if (!intermediatesPem.length) return 'this zone has no intermediate CA for the tenant yet';
  let certificate: x509.X509Certificate;
  try {
    certificate = new x509.X509Certificate(peerDer);
  } catch {
    return 'the client certificate cannot be parsed';
  }
  let verified = false;
  // The current intermediate and the ones it replaced: SVIDs they signed stay good until they expire.
  for (const pem of intermediatesPem) verified ||= await certificate.verify({ publicKey: new x509.X509Certificate(pem).publicKey, date: new Date(nowMs) });
  if (!verified) return 'the client certificate was not issued by this zone, or has expired';
  const uris = (certificate.getExtension(x509.SubjectAlternativeNameExtension)?.names.items ?? []).filter((n) => n.type === 'url').map((n) => n.value);
  if (uris.length !== 1 || uris[0] !== spiffeId) return `the client certificate is for ${uris.join(', ') || 'no SPIFFE ID'}, but the token entitles ${spiffeId}`;
  return undefined;
}

/**
 * The DER of the client certificate on a gRPC call, verified or not.
 * grpc-js's getAuthContext() reports a peer certificate only when the TLS
 * layer verified it against the port's CA list, and proxies' SVIDs chain to
 * their tenants' roots, which that list must not name (a CA list is sent to
 * anyone who connects). So the certificate is read from the call's TLS
 * socket, and peerSvidProblem() does the verification.
 */
export function peerCertificateDer(call: { getAuthContext(): { sslPeerCertificate?: { raw?: Buffer } } }): Buffer | undefined {
  const verified = call.getAuthContext().sslPeerCertificate?.raw;
  if (verified?.length) return verified;
  // grpc-js internals: ServerDuplexStreamImpl.call → ServerInterceptingCall.nextCall → BaseServerInterceptingCall.stream.
  let layer: unknown = (call as { call?: unknown }).call;
  for (let depth = 0; depth < 6 && layer; depth++) {
    const socket = (layer as { stream?: { session?: { socket?: unknown } } }).stream?.session?.socket;
    if (socket instanceof TLSSocket) {
      const raw = socket.getPeerCertificate().raw;
      return raw?.length ? raw : undefined;
    }
    layer = (layer as { nextCall?: unknown }).nextCall;
  }
  return undefined;
}
