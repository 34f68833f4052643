import tls from 'node:tls';
import type { Svid, SvidSource } from '../certs/index.js';
import type { UpstreamTls } from '../config/model.js';
import { spiffeIdOf } from './peer-identity.js';

/**
 * The sidecar's TLS material, from its SVID: one SecureContext (SVID chain,
 * key, and the tenant's trust bundle as CAs) used both to serve and to
 * connect. A new SVID makes a new context and bumps `generation`: servers
 * switch with `setSecureContext` (open connections keep theirs), connection
 * pools start new connections with it and let old ones finish.
 */
export class TlsIdentity {
  private context: tls.SecureContext | undefined;
  private svid: Svid | undefined;
  private gen = 0;
  private readonly listeners = new Set<() => void>();
  private readonly unsubscribe: () => void;

  constructor(source: SvidSource) {
    const current = source.current();
    if (current) this.use(current);
    this.unsubscribe = source.onUpdate((svid) => {
      this.use(svid);
      for (const listener of [...this.listeners]) listener();
    });
  }

  /** Whether an SVID is there to serve and connect with. */
  ready(): boolean {
    return this.context !== undefined;
  }

  /** Bumped on every new SVID. */
  generation(): number {
    return this.gen;
  }

  spiffeId(): string | undefined {
    return this.svid?.spiffeId;
  }

  secureContext(): tls.SecureContext {
    if (!this.context) throw new Error('no SVID yet');
    return this.context;
  }

  /** What `tls.createServer` / `server.setSecureContext` take for the current SVID. */
  contextOptions(): tls.SecureContextOptions {
    if (!this.svid) throw new Error('no SVID yet');
    return contextOptionsOf(this.svid);
  }

  /** Called after every new SVID; returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Options for a client connection to an endpoint of a cluster: our SVID,
   * the bundle as the only CAs, and the peer checked by SPIFFE ID instead
   * of host name (endpoints are IPs; the identity is what matters).
   */
  clientOptions(upstream: UpstreamTls, host: string, port: number): tls.ConnectionOptions {
    return {
      host,
      port,
      secureContext: this.secureContext(),
      ...(upstream.sni ? { servername: upstream.sni } : {}),
      ALPNProtocols: [...upstream.alpn],
      rejectUnauthorized: true,
      checkServerIdentity: (_host, certificate) => {
        const peer = spiffeIdOf(certificate);
        if (peer && upstream.acceptsPeer(peer)) return undefined;
        return Object.assign(new Error(`upstream identity ${peer ?? '(none)'} is not ${upstream.peerDescription}`), { code: 'ERR_MESHFED_PEER_IDENTITY' });
      },
    };
  }

  stop(): void {
    this.unsubscribe();
    this.listeners.clear();
  }

  private use(svid: Svid): void {
    this.svid = svid;
    this.context = tls.createSecureContext(contextOptionsOf(svid));
    this.gen += 1;
  }
}

function contextOptionsOf(svid: Svid): tls.SecureContextOptions {
  return { cert: svid.certChainPem.join('\n'), key: svid.keyPem, ca: svid.trustBundlePem, minVersion: 'TLSv1.2' };
}
