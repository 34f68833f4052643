/**
 * Outlier detection for one cluster: Envoy's consecutive-error detectors
 * (consecutive 5xx, consecutive gateway failure, consecutive local-origin
 * failure) and its ejection bookkeeping. The clock is injected; ejections
 * end lazily, when the detector is next asked, at the exact instant they
 * expire (Envoy checks on its `interval` timer instead).
 *
 * Ejection time = base_ejection_time × the endpoint's ejection multiplier,
 * capped at max_ejection_time. The multiplier grows by one per ejection and
 * shrinks by one per full `interval` the endpoint then spends in service,
 * so an endpoint that keeps failing stays out longer and longer and one
 * that recovers is forgiven. At most max_ejection_percent of the cluster's
 * endpoints are ejected at once (counted after the ejection, as Envoy does
 * since 1.27), unless `alwaysEjectOneHost` allows a first one regardless.
 */

/** What happened on one attempt to an endpoint, as the proxy saw it. */
export type OutlierOutcome =
  /** The upstream answered (external origin). */
  | { readonly kind: 'response'; readonly status: number }
  /** Could not connect: refused, connect timeout, TLS handshake failure (local origin). */
  | { readonly kind: 'connect-failure' }
  /** Connected, then the stream or connection was reset before a response (local origin). */
  | { readonly kind: 'reset' }
  /** No response within the (per-try) timeout (local origin). */
  | { readonly kind: 'timeout' }
  /** A connection was established (local origin success). */
  | { readonly kind: 'connect-success' };

/** Envoy's OutlierDetection, decoded: wrappers unwrapped, durations in ms; absent fields take Envoy's defaults. */
export interface OutlierDetectionInput {
  readonly consecutive5xx?: number;
  readonly enforcingConsecutive5xx?: number;
  readonly consecutiveGatewayFailure?: number;
  readonly enforcingConsecutiveGatewayFailure?: number;
  readonly splitExternalLocalOriginErrors?: boolean;
  readonly consecutiveLocalOriginFailure?: number;
  readonly enforcingConsecutiveLocalOriginFailure?: number;
  readonly intervalMs?: number;
  readonly baseEjectionTimeMs?: number;
  readonly maxEjectionTimeMs?: number;
  readonly maxEjectionPercent?: number;
  readonly alwaysEjectOneHost?: boolean;
}

export interface Detector {
  /** Consecutive errors that make an endpoint an outlier. */
  readonly threshold: number;
  /** Percent chance that detecting an outlier ejects it (Envoy's `enforcing_*`). */
  readonly enforcing: number;
}

export interface OutlierDetectionConfig {
  /** Undefined: the detector is off (enforcing 0). */
  readonly consecutive5xx?: Detector;
  readonly consecutiveGatewayFailure?: Detector;
  /** Only with splitExternalLocalOriginErrors. */
  readonly consecutiveLocalOriginFailure?: Detector;
  readonly splitExternalLocalOriginErrors: boolean;
  readonly intervalMs: number;
  readonly baseEjectionTimeMs: number;
  readonly maxEjectionTimeMs: number;
  readonly maxEjectionPercent: number;
  readonly alwaysEjectOneHost: boolean;
}

/** Envoy's defaults. The gateway detector's enforcement defaults to 0, i.e. off. */
export const OUTLIER_DEFAULTS = {
  consecutive5xx: 5,
  enforcingConsecutive5xx: 100,
  consecutiveGatewayFailure: 5,
  enforcingConsecutiveGatewayFailure: 0,
  consecutiveLocalOriginFailure: 5,
  enforcingConsecutiveLocalOriginFailure: 100,
  intervalMs: 10_000,
  baseEjectionTimeMs: 30_000,
  maxEjectionTimeMs: 300_000,
  maxEjectionPercent: 10,
} as const;

/** Applies Envoy's defaults; a detector with enforcing 0 is dropped. Pure. */
export function outlierConfig(input: OutlierDetectionInput = {}): OutlierDetectionConfig {
  const d = OUTLIER_DEFAULTS;
  const detector = (threshold: number | undefined, fallback: number, enforcing: number | undefined, fallbackEnforcing: number): Detector | undefined => {
    const e = Math.min(100, enforcing ?? fallbackEnforcing);
    return e > 0 ? { threshold: Math.max(1, threshold ?? fallback), enforcing: e } : undefined;
  };
  const split = input.splitExternalLocalOriginErrors === true;
  const base = input.baseEjectionTimeMs ?? d.baseEjectionTimeMs;
  const localOrigin = split
    ? detector(input.consecutiveLocalOriginFailure, d.consecutiveLocalOriginFailure, input.enforcingConsecutiveLocalOriginFailure, d.enforcingConsecutiveLocalOriginFailure)
    : undefined;
  const c5xx = detector(input.consecutive5xx, d.consecutive5xx, input.enforcingConsecutive5xx, d.enforcingConsecutive5xx);
  const gateway = detector(input.consecutiveGatewayFailure, d.consecutiveGatewayFailure, input.enforcingConsecutiveGatewayFailure, d.enforcingConsecutiveGatewayFailure);
  return {
    ...(c5xx ? { consecutive5xx: c5xx } : {}),
    ...(gateway ? { consecutiveGatewayFailure: gateway } : {}),
    ...(localOrigin ? { consecutiveLocalOriginFailure: localOrigin } : {}),
    splitExternalLocalOriginErrors: split,
    intervalMs: input.intervalMs ?? d.intervalMs,
    baseEjectionTimeMs: base,
    // Envoy rejects max < base; never let the cap undercut the base.
    maxEjectionTimeMs: Math.max(base, input.maxEjectionTimeMs ?? d.maxEjectionTimeMs),
    maxEjectionPercent: Math.min(100, Math.max(0, input.maxEjectionPercent ?? d.maxEjectionPercent)),
    alwaysEjectOneHost: input.alwaysEjectOneHost === true,
  };
}

export type EjectionReason = 'consecutive-5xx' | 'consecutive-gateway-failure' | 'consecutive-local-origin-failure';

export interface Ejection {
  readonly key: string;
  readonly reason: EjectionReason;
  readonly durationMs: number;
  readonly untilMs: number;
}

interface HostState {
  consecutive5xx: number;
  consecutiveGateway: number;
  consecutiveLocalOrigin: number;
  multiplier: number;
  ejectedAt?: number;
  ejectedFor?: number;
  /** When the last ejection ended; the multiplier decays from here. */
  returnedAt?: number;
}

const isGatewayError = (status: number) => status === 502 || status === 503 || status === 504;

export interface OutlierDetectorOptions {
  /** Milliseconds, monotonic. */
  readonly now?: () => number;
  /** [0, 1), for enforcing percentages below 100. */
  readonly random?: () => number;
}

export class OutlierDetector {
  private readonly hosts = new Map<string, HostState>();
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(
    readonly config: OutlierDetectionConfig,
    options: OutlierDetectorOptions = {},
  ) {
    this.now = options.now ?? (() => performance.now());
    this.random = options.random ?? Math.random;
  }

  /** The cluster's endpoints: new ones start clean, departed ones are forgotten (and stop counting as ejected). */
  setHosts(keys: Iterable<string>): void {
    const wanted = new Set(keys);
    for (const key of this.hosts.keys()) if (!wanted.has(key)) this.hosts.delete(key);
    for (const key of wanted) if (!this.hosts.has(key)) this.hosts.set(key, { consecutive5xx: 0, consecutiveGateway: 0, consecutiveLocalOrigin: 0, multiplier: 0 });
  }

  /**
   * Counts one outcome for an endpoint; returns the ejection it caused, if
   * any. Outcomes for endpoints not in the cluster are ignored.
   */
  record(key: string, outcome: OutlierOutcome): Ejection | undefined {
    const host = this.hosts.get(key);
    if (!host) return undefined;
    this.refresh(host);
    const { config } = this;

    if (outcome.kind === 'response') {
      if (config.splitExternalLocalOriginErrors) host.consecutiveLocalOrigin = 0; // it connected
      return this.countStatus(key, host, outcome.status);
    }
    if (outcome.kind === 'connect-success') {
      if (config.splitExternalLocalOriginErrors) host.consecutiveLocalOrigin = 0;
      return undefined;
    }
    if (config.splitExternalLocalOriginErrors) {
      host.consecutiveLocalOrigin++;
      return this.check(key, host, config.consecutiveLocalOriginFailure, host.consecutiveLocalOrigin, 'consecutive-local-origin-failure');
    }
    // Without the split, local-origin errors count as the status the proxy answers with.
    return this.countStatus(key, host, outcome.kind === 'timeout' ? 504 : 503);
  }

  /** Whether the endpoint is ejected now (ends an ejection whose time has passed). */
  isEjected(key: string): boolean {
    const host = this.hosts.get(key);
    if (!host) return false;
    this.refresh(host);
    return host.ejectedAt !== undefined;
  }

  /** Endpoints ejected now. */
  ejectedCount(): number {
    let count = 0;
    for (const host of this.hosts.values()) {
      this.refresh(host);
      if (host.ejectedAt !== undefined) count++;
    }
    return count;
  }

  /** When the endpoint's current ejection ends, or undefined. */
  ejectedUntil(key: string): number | undefined {
    const host = this.hosts.get(key);
    if (!host) return undefined;
    this.refresh(host);
    return host.ejectedAt === undefined ? undefined : host.ejectedAt + (host.ejectedFor ?? 0);
  }

  private countStatus(key: string, host: HostState, status: number): Ejection | undefined {
    if (status < 500 || status > 599) {
      host.consecutive5xx = 0;
      host.consecutiveGateway = 0;
      return undefined;
    }
    let ejection: Ejection | undefined;
    if (isGatewayError(status)) {
      host.consecutiveGateway++;
      ejection = this.check(key, host, this.config.consecutiveGatewayFailure, host.consecutiveGateway, 'consecutive-gateway-failure');
    } else {
      host.consecutiveGateway = 0;
    }
    host.consecutive5xx++;
    return ejection ?? this.check(key, host, this.config.consecutive5xx, host.consecutive5xx, 'consecutive-5xx');
  }

  /**
   * Ejects once the count reaches the threshold — and again on every
   * further error while it stays there, so an endpoint refused by the
   * max-percent cap is ejected as soon as room frees up.
   */
  private check(key: string, host: HostState, detector: Detector | undefined, count: number, reason: EjectionReason): Ejection | undefined {
    if (!detector || count < detector.threshold || host.ejectedAt !== undefined) return undefined;
    if (!this.roomToEject()) return undefined;
    if (detector.enforcing < 100 && this.random() * 100 >= detector.enforcing) return undefined;
    return this.eject(key, host, reason);
  }

  private roomToEject(): boolean {
    const ejected = this.ejectedCount();
    if (ejected === 0 && this.config.alwaysEjectOneHost) return true;
    return (100 * (ejected + 1)) / this.hosts.size <= this.config.maxEjectionPercent;
  }

  private eject(key: string, host: HostState, reason: EjectionReason): Ejection {
    const { baseEjectionTimeMs: base, maxEjectionTimeMs: max, intervalMs } = this.config;
    const now = this.now();
    if (host.returnedAt !== undefined && intervalMs > 0) {
      host.multiplier = Math.max(0, host.multiplier - Math.floor((now - host.returnedAt) / intervalMs));
    }
    // Envoy stops growing the multiplier one step past the cap, so recovery takes a bounded time.
    if (host.multiplier * base < max + base) host.multiplier++;
    const durationMs = Math.min(base * host.multiplier, max);
    host.ejectedAt = now;
    host.ejectedFor = durationMs;
    return { key, reason, durationMs, untilMs: now + durationMs };
  }

  private refresh(host: HostState): void {
    if (host.ejectedAt === undefined) return;
    const until = host.ejectedAt + (host.ejectedFor ?? 0);
    if (this.now() < until) return;
    host.ejectedAt = undefined;
    host.ejectedFor = undefined;
    host.returnedAt = until;
    // Back in service with clean counters, so a few new errors do not eject it again at once.
    host.consecutive5xx = 0;
    host.consecutiveGateway = 0;
    host.consecutiveLocalOrigin = 0;
  }
}
