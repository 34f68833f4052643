import { readFile } from 'node:fs/promises';
import { webcrypto } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../../core/log.js';
import { createCsr } from '../../core/pki/authority.js';
import { exportPrivateKeyPem, generateKeyPair, x509, type CryptoKey } from '../../core/pki/crypto.js';
import { sleep } from '../../core/sleep.js';
import { CONTROL_PLANE_BACKOFF, backoffDelayMs, type Backoff } from './backoff.js';
import { CertificateClient, CertificateRequestError, type SignedCertificate } from './certificate-client.js';
import { entitledSpiffeId, readDataplaneToken } from './dataplane-token.js';

/** The proxy's identity as a TLS stack needs it: what `tls.createSecureContext` / `setSecureContext` take. */
export interface Svid {
  spiffeId: string;
  /** PEM: the SVID first, then the zone intermediate. */
  certChainPem: string[];
  /** PEM PKCS#8 of the key the SVID certifies (generated here, never sent anywhere). */
  keyPem: string;
  /** PEM roots the tenant's workloads trust (more than one while a root rotates). */
  trustBundlePem: string[];
  expiresAt: Date;
  /** When the manager asks for the next one (half-life, as the zone CP says). */
  renewAfter: Date;
}

/** Something that holds the current SVID and says when it changes (SvidManager; a fixed one in tests). */
export interface SvidSource {
  current(): Svid | undefined;
  /** Calls `listener` with every new SVID; returns the unsubscribe function. */
  onUpdate(listener: (svid: Svid) => void): () => void;
}

/** `result` of `meshfed_gateway_svid_renewals_total`. */
export type SvidRenewalResult = 'ok' | 'unavailable' | 'refused' | 'invalid-response';

export interface SvidManagerOptions {
  /** host:port of the zone CP's TLS gRPC port. */
  address: string;
  /** The CA file the zone CP's gRPC certificate is pinned to (`<zone state dir>/tls/ca.crt`); read again on every request. */
  caFile: string;
  /** The dataplane token (`mfd_…`), sent as `authorization: Bearer` metadata. */
  token: string;
  /**
   * The tenant's SPIFFE trust domain. The token does not carry it; default
   * `<tenant>.mesh` (the global CP's default). A tenant created with its own
   * trust domain needs it set here, or `spiffeId`.
   */
  trustDomain?: string;
  /** The SPIFFE ID to ask for, when known exactly; overrides `trustDomain`. */
  spiffeId?: string;
  /** Lifetime to ask for; 0 (default) takes the zone's `--svid-ttl`. */
  validitySeconds?: number;
  /** Name to check the zone CP's certificate for, when not the host of `address`. */
  serverName?: string;
  /** Back-off between failed requests; default 1 s × 1.6ⁿ ±20 %, capped at 30 s. */
  retry?: Backoff;
  /** Deadline of one SignCertificate call; default 10 s. */
  requestTimeoutMs?: number;
  registry: Registry;
  log: Logger;
  /** Clock and randomness, for tests. */
  now?: () => number;
  random?: () => number;
}

/** Node fires longer timers at once (with a warning): a lifetime of months renews early instead. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * When to renew, in ms from `nowMs`: at `renewAfter` (half-life). The zone CP
 * counts half-life from the certificate's notBefore, which is backdated by a
 * minute, so for lifetimes of a few minutes or less renewAfter may already
 * have passed on arrival: then renew at half of what is left, never in a tight
 * loop. 0 once expired; at most ~24.8 days (Node's longest timer). Pure.
 */
export function renewDelayMs(svid: Pick<Svid, 'expiresAt' | 'renewAfter'>, nowMs: number): number {
  const remaining = svid.expiresAt.getTime() - nowMs;
  if (remaining <= 0) return 0;
  const untilRenew = svid.renewAfter.getTime() - nowMs;
  return Math.min(MAX_TIMER_MS, Math.round(untilRenew > 0 ? Math.min(untilRenew, remaining) : remaining / 2));
}

/**
 * What is wrong with an answer to our CSR, or undefined when it is usable:
 * the SVID (first of the chain) must certify our key, name exactly the SPIFFE
 * ID asked for, and not be expired already.
 */
export async function issuedSvidProblem(signed: SignedCertificate, expected: { spiffeId: string; publicKey: CryptoKey; nowMs: number }): Promise<string | undefined> {
  let leaf: x509.X509Certificate;
  try {
    leaf = new x509.X509Certificate(signed.certChainPem[0] ?? '');
  } catch {
    return 'the first certificate of the chain cannot be parsed';
  }
  const ours = Buffer.from(await webcrypto.subtle.exportKey('spki', expected.publicKey));
  if (!ours.equals(Buffer.from(leaf.publicKey.rawData))) return 'the SVID does not certify the key of the request';
  const uris = (leaf.getExtension(x509.SubjectAlternativeNameExtension)?.names.items ?? []).filter((n) => n.type === 'url').map((n) => n.value);
  if (uris.length !== 1 || uris[0] !== expected.spiffeId || signed.spiffeId !== expected.spiffeId) {
    return `the SVID is for ${uris.join(', ') || 'no SPIFFE ID'} (answer says ${signed.spiffeId || 'nothing'}), not ${expected.spiffeId}`;
  }
  if (leaf.notAfter.getTime() <= expected.nowMs) return 'the SVID has expired already';
  return undefined;
}

/**
 * Keeps the proxy's X.509-SVID: generates an ECDSA P-256 key, sends a CSR for
 * the SPIFFE ID the dataplane token entitles to the zone CP's certificate
 * service, and renews at half-life with a fresh key. When the zone CP is
 * unreachable it retries with jittered back-off and keeps the current SVID
 * until it expires. Listeners get every new SVID, so TLS servers can call
 * `setSecureContext` and keep their connections.
 */
export class SvidManager implements SvidSource {
  /** Resolves once stopped. */
  readonly closed: Promise<void>;
  /** The SPIFFE ID asked for. */
  readonly spiffeId: string;
  private svid: Svid | undefined;
  private readonly listeners = new Set<(svid: Svid) => void>();
  private readonly waiting: Array<(svid: Svid) => void> = [];
  private readonly abort = new AbortController();
  private readonly renewals: Counter<'result'>;
  private readonly now: () => number;
  private readonly random: () => number;
  private client: CertificateClient | undefined;
  private started = false;
  private markClosed!: () => void;
  private reportedExpiry = false;

  constructor(private readonly options: SvidManagerOptions) {
    const claims = readDataplaneToken(options.token);
    if (claims.ingress) throw new Error('an ingress token holds no workload identity: the ingress passes TLS through and needs no SVID');
    this.spiffeId = options.spiffeId ?? entitledSpiffeId(claims, options.trustDomain);
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.closed = new Promise((resolve) => (this.markClosed = resolve));
    const registers = [options.registry];
    this.renewals = new Counter({
      name: 'meshfed_gateway_svid_renewals_total',
      help: 'Requests for an SVID (the first one included), by result.',
      labelNames: ['result'],
      registers,
    });
    for (const result of ['ok', 'unavailable', 'refused', 'invalid-response'] satisfies SvidRenewalResult[]) this.renewals.inc({ result }, 0);
    const current = () => this.svid;
    const now = this.now;
    new Gauge({
      name: 'meshfed_gateway_svid_expiry_seconds',
      help: 'Seconds until the SVID the gateway holds expires (negative once expired; absent before the first one).',
      registers,
      collect() {
        this.reset();
        const svid = current();
        if (svid) this.set((svid.expiresAt.getTime() - now()) / 1000);
      },
    });
  }

  /** Starts getting and renewing the SVID in the background; see `ready()`. */
  start(): void {
    if (this.started) return;
    this.started = true;
    void this.run();
  }

  /** The SVID to serve now; undefined before the first one and once it has expired. */
  current(): Svid | undefined {
    return this.svid && this.svid.expiresAt.getTime() > this.now() ? this.svid : undefined;
  }

  /** Resolves with the current SVID, or the first one issued. */
  ready(): Promise<Svid> {
    const svid = this.current();
    return svid ? Promise.resolve(svid) : new Promise((resolve) => this.waiting.push(resolve));
  }

  onUpdate(listener: (svid: Svid) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.client?.close();
    if (!this.started) this.markClosed();
    await this.closed;
  }

  private async run(): Promise<void> {
    const { log } = this.options;
    let failures = 0;
    while (!this.abort.signal.aborted) {
      let delayMs: number;
      try {
        const svid = await this.request();
        failures = 0;
        this.accept(svid);
        delayMs = renewDelayMs(svid, this.now());
        log.info({ spiffeId: svid.spiffeId, expiresAt: svid.expiresAt.toISOString(), renewInMs: delayMs }, 'SVID issued');
      } catch (error) {
        if (this.abort.signal.aborted) break;
        failures += 1;
        const result = this.classify(error);
        this.renewals.inc({ result });
        delayMs = backoffDelayMs(failures, this.options.retry ?? CONTROL_PLANE_BACKOFF, this.random());
        const held = this.current();
        const fields = { spiffeId: this.spiffeId, err: (error as Error).message, failures, retryInMs: delayMs, servingUntil: held?.expiresAt.toISOString() ?? null };
        if (result === 'refused') log.error({ ...fields, hint: 'the token must be valid and the SPIFFE ID (trust domain) the one it entitles' }, 'the zone CP refused the SVID request; retrying');
        else log.warn(fields, 'SVID request failed; retrying');
        if (!held && this.svid && !this.reportedExpiry) {
          this.reportedExpiry = true;
          log.error({ spiffeId: this.spiffeId, expiredAt: this.svid.expiresAt.toISOString() }, 'the SVID has expired and no new one could be had');
        }
      }
      await sleep(delayMs, this.abort.signal);
    }
    this.markClosed();
  }

  private classify(error: unknown): SvidRenewalResult {
    if (error instanceof CertificateRequestError) {
      if (error.unusableAnswer) return 'invalid-response';
      return error.transient ? 'unavailable' : 'refused';
    }
    return 'unavailable';
  }

  /** One SignCertificate round trip with a fresh key. */
  private async request(): Promise<Svid> {
    const keys = await generateKeyPair();
    const trustDomain = this.spiffeId.slice('spiffe://'.length).split('/')[0] ?? '';
    const csr = await createCsr(keys, `O=${trustDomain}`, this.spiffeId);
    const caPem = await readFile(this.options.caFile).catch((error: Error) => {
      throw new CertificateRequestError(grpc.status.UNAVAILABLE, `cannot read the zone CP's CA file ${this.options.caFile}: ${error.message}`);
    });
    const client = new CertificateClient({ address: this.options.address, caPem, ...(this.options.serverName ? { serverName: this.options.serverName } : {}) });
    this.client = client;
    try {
      const signed = await client.sign({
        csrPem: csr.toString('pem'),
        token: this.options.token,
        validitySeconds: this.options.validitySeconds ?? 0,
        timeoutMs: this.options.requestTimeoutMs ?? 10_000,
      });
      const problem = await issuedSvidProblem(signed, { spiffeId: this.spiffeId, publicKey: keys.publicKey, nowMs: this.now() });
      if (problem) throw new CertificateRequestError(grpc.status.INTERNAL, `the zone CP's answer is unusable: ${problem}`, true);
      return { spiffeId: signed.spiffeId, certChainPem: signed.certChainPem, keyPem: await exportPrivateKeyPem(keys.privateKey), trustBundlePem: signed.trustBundlePem, expiresAt: signed.expiresAt, renewAfter: signed.renewAfter };
    } finally {
      client.close();
      if (this.client === client) this.client = undefined;
    }
  }

  private accept(svid: Svid): void {
    this.svid = svid;
    this.reportedExpiry = false;
    this.renewals.inc({ result: 'ok' });
    for (const resolve of this.waiting.splice(0)) resolve(svid);
    for (const listener of [...this.listeners]) {
      try {
        listener(svid);
      } catch (error) {
        this.options.log.error({ err: (error as Error).message }, 'an SVID listener failed');
      }
    }
  }
}
