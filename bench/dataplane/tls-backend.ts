/**
 * The backend of the TLS targets (`direct-tls`, `haproxy-tcp-tls`,
 * `ingress-tls`): HAProxy, one thread, terminating TLS (ECDSA P-256, no
 * client certificate) and answering 200 "ok" by itself. Shared by the three,
 * started on first use.
 *
 * The load generator reaches it under the name meshfed's ingress routes by,
 * `<port>.<service>.<namespace>.<tenant>.mesh` (SNI and Host), whichever
 * proxy is in between: h2load sends the URL's host as SNI and connects to
 * `--connect-to`, so the three targets do the same handshake.
 */
import { ingressSni } from '../../core/xds/names.js';
import { BACKEND_BODY } from './backend.js';
import { startHaproxy, type Address } from './haproxy.js';
import { MESH_NAMESPACE, MESH_TENANT } from './mesh.js';
import type { TargetContext } from './targets.js';
import { makeBenchPki } from './tls.js';

/** The mesh service the TLS backend is registered as (in zone-b, without a sidecar) for `ingress-tls`. */
export const TLS_SERVICE = 'svc-tls';

export interface TlsBackend {
  /** Where it listens (127.0.0.1); its port is also the service's mesh port. */
  address: Address;
  /** `<port>.svc-tls.<namespace>.<tenant>.mesh` */
  sni: string;
  /** `https://<sni>:<port>/`: what every TLS target requests. */
  url: string;
  pids: () => number[];
}

export function sharedTlsBackend(ctx: TargetContext): Promise<TlsBackend> {
  return ctx.shared('tls-backend', async (dir) => {
    const pki = await makeBenchPki(dir);
    const haproxy = await startHaproxy(dir, 'tls-backend', (listen) => ({ kind: 'respond', listen, body: BACKEND_BODY, tls: { crtFile: pki.serverCrtFile } }));
    const sni = ingressSni(MESH_TENANT, TLS_SERVICE, MESH_NAMESPACE, haproxy.listen.port);
    ctx.log(`TLS backend: HAProxy pid ${haproxy.process.pid} on ${haproxy.listen.host}:${haproxy.listen.port} (requested as https://${sni}/)`);
    return {
      value: { address: haproxy.listen, sni, url: `https://${sni}:${haproxy.listen.port}/`, pids: () => [haproxy.process.pid] },
      stop: () => haproxy.process.stop(),
    };
  });
}
