/**
 * ============================================================================
 *  meshfed targets — NOT WIRED YET.
 *  `meshfed gateway --mode sidecar|ingress` is being written; until it exists
 *  each start function below throws `new Error(NOT_WIRED)`, and the bench
 *  skips that target with a note (any other error fails the run).
 * ============================================================================
 *
 * How to wire one (see ./targets.ts for the HAProxy ones, which follow the same
 * contract):
 *
 * 1. Spawn each gateway as its own process, with no wrapper between the bench
 *    and node (not `npx`, not a shell), so its pid is the proxy's and its
 *    /proc CPU is the proxy's alone:
 *
 *      const gw = await spawnManaged('sidecar', process.execPath,
 *        ['--import', 'tsx', join(ROOT, 'cli/meshfed.ts'), 'gateway', '--mode', 'sidecar', ...],
 *        { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' } });
 *
 *    Ports: `freePort()` from deploy/local/free-port.ts (retry on EADDRINUSE,
 *    as `startHaproxy` does). Config: whatever the gateway reads (an xDS
 *    snapshot file, gateway/xds/snapshot-file.ts, avoids a control plane in
 *    the measurement); its cluster must end at `ctx.backend.address`.
 *    Files go in `ctx.dir` (removed with the bench's temp dir).
 * 2. `await waitForPort(host, port, gw)` for every gateway, back to front.
 * 3. Return `{ name, url, pids: () => [every gateway's pid], stop }`, where
 *    `url` is plain HTTP/1.1 on loopback (the sidecar's outbound listener),
 *    and `stop` stops the gateways front to back (`gw.stop()`).
 *
 * The run checks every target with one GET before measuring (200 and the
 * backend's body), so a mis-wired chain fails loudly.
 *
 * The HAProxy reference of each (`reference` below) is the same hops in HAProxy
 * 1 thread. If meshfed's sidecar → sidecar hop is mTLS, compare with the
 * `-mtls` references (switch `reference`), not the plaintext ones.
 */
import type { Target, TargetContext, TargetSpec } from './targets.js';

export const NOT_WIRED = 'meshfed gateway not wired yet';

/** load → meshfed sidecar (outbound listener) → backend. */
export async function startSidecar(_ctx: TargetContext): Promise<Target> {
  throw new Error(NOT_WIRED);
}

/** load → sidecar (outbound) → sidecar (inbound) → backend: the usual service-to-service path in one zone. */
export async function startSidecarSidecar(_ctx: TargetContext): Promise<Target> {
  throw new Error(NOT_WIRED);
}

/** load → sidecar (outbound) → ingress (by SNI) → sidecar (inbound) → backend: the cross-zone path. */
export async function startSidecarIngressSidecar(_ctx: TargetContext): Promise<Target> {
  throw new Error(NOT_WIRED);
}

export const MESHFED_TARGETS: TargetSpec[] = [
  { name: 'sidecar', path: 'load → meshfed sidecar → backend', reference: 'haproxy-http', start: startSidecar },
  { name: 'sidecar-sidecar', path: 'load → sidecar → sidecar → backend', reference: 'haproxy-http-2hops', start: startSidecarSidecar },
  { name: 'sidecar-ingress-sidecar', path: 'load → sidecar → ingress → sidecar → backend', reference: 'haproxy-http-tcp-http', start: startSidecarIngressSidecar },
];
