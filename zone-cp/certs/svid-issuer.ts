import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { readCsr, requestedUris, signSvid } from '../../core/pki/authority.js';
import { x509 } from '../../core/pki/crypto.js';
import { workloadSpiffeId } from '../../core/spiffe.js';
import type { DataplaneClaims } from '../dataplanes/tokens.js';
import type { Intermediate, IntermediateKeeper } from './intermediates.js';

export const DEFAULT_SVID_TTL_MS = 24 * 3_600_000;
export const MIN_SVID_TTL_MS = 5 * 60_000;

export interface IssuedSvid {
  spiffeId: string;
  chainPem: string[];
  trustBundle: string[];
  expiresAt: Date;
  renewAfter: Date;
}

/** Why an SVID was not issued, in terms a gRPC status maps onto. */
export class SvidRefused extends Error {
  constructor(
    readonly kind: 'invalid' | 'denied' | 'unavailable',
    message: string,
  ) {
    super(message);
    this.name = 'SvidRefused';
  }
}

/** Lifetime to sign for: the request's when given, within [minimum, the zone's default]. Pure. */
export function svidTtlMs(requestedSeconds: number, defaultTtlMs: number): number {
  if (!(requestedSeconds > 0)) return defaultTtlMs;
  return Math.max(MIN_SVID_TTL_MS, Math.min(requestedSeconds * 1000, defaultTtlMs));
}

/** Clients renew at half of the life left from now (certificates are backdated a minute), so a zone CP outage that long costs nothing. Pure. */
export const renewAfter = (now: Date, notAfter: Date) => new Date(now.getTime() + Math.max(0, notAfter.getTime() - now.getTime()) / 2);

/**
 * Signs proxies' SVIDs with the zone's intermediate of their tenant. The
 * identity signed is the one the dataplane token is bound to, never what the
 * CSR asks for: a CSR naming anything else is refused.
 */
export class SvidIssuer {
  private readonly issued: Counter;
  private readonly refused: Counter;
  private readonly latency: Histogram;
  private readonly nextExpiry = new Map<string, number>();

  constructor(
    private readonly options: {
      intermediates: IntermediateKeeper;
      trustDomainOf: (tenant: string) => string | undefined;
      defaultTtlMs: number;
      registry: Registry;
    },
  ) {
    const registers = [options.registry];
    this.issued = new Counter({ name: 'meshfed_zone_svids_issued_total', help: 'Workload SVIDs signed by this zone CP.', labelNames: ['tenant'], registers });
    this.refused = new Counter({ name: 'meshfed_zone_svid_requests_refused_total', help: 'SVID requests refused, by reason.', labelNames: ['reason'], registers });
    this.latency = new Histogram({
      name: 'meshfed_zone_svid_sign_seconds',
      help: 'Time to check and sign one SVID request.',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1],
      registers,
    });
    const expiry = this.nextExpiry;
    new Gauge({
      name: 'meshfed_zone_svid_latest_expiry_seconds',
      help: 'Seconds until the newest SVID issued for the tenant expires.',
      labelNames: ['tenant'],
      registers,
      collect() {
        this.reset();
        for (const [tenant, at] of expiry) this.set({ tenant }, (at - Date.now()) / 1000);
      },
    });
  }

  async issue(claims: DataplaneClaims, csrPem: string, requestedSeconds: number): Promise<IssuedSvid> {
    const end = this.latency.startTimer();
    try {
      const svid = await this.sign(claims, csrPem, requestedSeconds);
      this.issued.inc({ tenant: claims.tenant });
      this.nextExpiry.set(claims.tenant, svid.expiresAt.getTime());
      return svid;
    } catch (error) {
      this.refused.inc({ reason: error instanceof SvidRefused ? error.kind : 'error' });
      throw error;
    } finally {
      end();
    }
  }

  private readonly chains = new WeakMap<Intermediate, string[]>();

  /** The zone intermediate and any CA between it and the root, computed once per intermediate. Roots stay out: peers must find them in their own bundle, or the chain proves nothing. */
  private chainAbove(intermediate: Intermediate): string[] {
    let chain = this.chains.get(intermediate);
    if (!chain) {
      chain = [intermediate.certificatePem, ...intermediate.chainPem.filter((pem) => pem !== intermediate.certificatePem && !isSelfSigned(pem))];
      this.chains.set(intermediate, chain);
    }
    return chain;
  }

  private async sign(claims: DataplaneClaims, csrPem: string, requestedSeconds: number): Promise<IssuedSvid> {
    if (claims.ingress) throw new SvidRefused('denied', 'an ingress token holds no workload identity: the ingress passes TLS through without terminating it');
    const trustDomain = this.options.trustDomainOf(claims.tenant);
    if (!trustDomain) throw new SvidRefused('denied', `tenant "${claims.tenant}" is not placed in this zone`);
    const spiffeId = workloadSpiffeId(trustDomain, claims.namespace, claims.serviceAccount);
    let csr;
    try {
      csr = await readCsr(csrPem);
    } catch (error) {
      throw new SvidRefused('invalid', `csr: ${(error as Error).message}`);
    }
    const asked = requestedUris(csr);
    if (asked.length !== 1 || asked[0] !== spiffeId) {
      throw new SvidRefused('denied', `the CSR asks for ${asked.join(', ') || 'no SPIFFE ID'}, but the dataplane token entitles only ${spiffeId}`);
    }
    const signer = await this.options.intermediates.signer(claims.tenant);
    if (!signer) throw new SvidRefused('unavailable', `this zone has no valid intermediate CA for tenant "${claims.tenant}" yet`);
    const certificate = await signSvid(signer.identity, csr, { spiffeId, trustDomain, ttlMs: svidTtlMs(requestedSeconds, this.options.defaultTtlMs) });
    return {
      spiffeId,
      chainPem: [certificate.toString('pem'), ...this.chainAbove(signer.intermediate)],
      trustBundle: signer.intermediate.trustBundle,
      expiresAt: certificate.notAfter,
      renewAfter: renewAfter(new Date(), certificate.notAfter),
    };
  }
}

function isSelfSigned(pem: string): boolean {
  const certificate = new x509.X509Certificate(pem);
  return certificate.subject === certificate.issuer;
}
