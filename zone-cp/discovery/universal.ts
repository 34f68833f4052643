import { isIP } from 'node:net';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomically } from '../../core/atomic-file.js';
import type { Logger } from '../../core/log.js';
import type { DataplaneRegistration, Locality } from '../../core/schemas/dataplane.js';
import type { DataplaneClaims } from '../dataplanes/tokens.js';
import { endpointKey, type DiscoverySource, type LocalEndpoint } from './model.js';

export interface Liveness {
  /** No report for this long: the endpoint stays but is unhealthy. */
  unhealthyAfterMs: number;
  /** No report for this long: the endpoint is removed. */
  removeAfterMs: number;
}

export const DEFAULT_LIVENESS: Liveness = { unhealthyAfterMs: 30_000, removeAfterMs: 5 * 60_000 };

/** What a dataplane's last report means now. Pure. */
export function livenessOf(lastSeenMs: number, nowMs: number, liveness: Liveness): 'reporting' | 'silent' | 'gone' {
  const age = nowMs - lastSeenMs;
  if (age >= liveness.removeAfterMs) return 'gone';
  if (age >= liveness.unhealthyAfterMs) return 'silent';
  return 'reporting';
}

/** Why a registration does not fit its token, or undefined. Pure. */
export function registrationProblem(claims: DataplaneClaims, body: DataplaneRegistration): { path: string; message: string } | undefined {
  if (body.tenant !== claims.tenant) return { path: '/body/tenant', message: `the dataplane token is for tenant "${claims.tenant}"` };
  if (body.namespace !== claims.namespace) return { path: '/body/namespace', message: `the dataplane token is for namespace "${claims.namespace}"` };
  if (!isIP(body.address)) return { path: '/body/address', message: 'must be an IPv4 or IPv6 literal (proxies refuse host names)' };
  const seen = new Set<number>();
  for (const [i, p] of body.ports.entries()) {
    if (seen.has(p.port)) return { path: `/body/ports/${i}/port`, message: `port ${p.port} is listed twice` };
    seen.add(p.port);
  }
  return undefined;
}

interface Registered {
  endpoint: LocalEndpoint;
  reportedHealthy: boolean;
  lastSeenMs: number;
}

/**
 * Universal mode: dataplanes register themselves (and report health by
 * registering again). Registrations are kept in the state dir so a zone CP
 * restart does not empty every cluster before the dataplanes report again.
 */
export class UniversalDiscovery implements DiscoverySource {
  readonly name = 'universal';
  private readonly registered = new Map<string, Registered>();
  private onChange: ((endpoints: LocalEndpoint[]) => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private saveTimer: NodeJS.Timeout | undefined;
  private lastHealth = new Map<string, boolean>();
  private started = false;

  constructor(
    private readonly options: { stateDir: string; defaultLocality: () => Locality; liveness?: Liveness; log: Logger },
  ) {}

  private get liveness(): Liveness {
    return this.options.liveness ?? DEFAULT_LIVENESS;
  }

  private get file(): string {
    return join(this.options.stateDir, 'dataplanes.json');
  }

  async start(onChange: (endpoints: LocalEndpoint[]) => void): Promise<void> {
    this.onChange = onChange;
    const saved = await readFile(this.file, 'utf8').catch(() => '');
    // Saved registrations count as just seen: their dataplanes get a full liveness period to report again.
    const now = Date.now();
    if (saved) for (const r of JSON.parse(saved) as Registered[]) this.registered.set(endpointKey(r.endpoint), { ...r, lastSeenMs: now });
    this.started = true;
    this.emit();
    this.timer = setInterval(() => this.sweep(), Math.max(100, Math.min(this.liveness.unhealthyAfterMs / 4, 5000)));
    this.timer.unref();
  }

  ready(): boolean {
    return this.started;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    if (this.saveTimer) {
      clearTimeout(this.saveTimer);
      await this.save();
    }
    this.onChange = undefined;
  }

  /** A registration or health report. The caller has checked it against the token (registrationProblem). */
  register(claims: DataplaneClaims, body: DataplaneRegistration): LocalEndpoint {
    const endpoint: LocalEndpoint = {
      tenant: body.tenant,
      namespace: body.namespace,
      service: body.service,
      instance: body.instance,
      address: body.address,
      ports: body.ports,
      serviceAccount: claims.serviceAccount,
      tags: body.tags ?? {},
      locality: body.locality ?? this.options.defaultLocality(),
      healthy: body.healthy ?? true,
    };
    const key = endpointKey(endpoint);
    const before = this.registered.get(key);
    this.registered.set(key, { endpoint, reportedHealthy: endpoint.healthy, lastSeenMs: Date.now() });
    if (!before || JSON.stringify(before.endpoint) !== JSON.stringify(endpoint)) this.changed();
    else if (!this.lastHealth.get(key)) this.changed();
    return endpoint;
  }

  /** Deregistration (a dataplane shutting down cleanly). Only the token's own tenant and namespace. */
  deregister(claims: DataplaneClaims, service: string, instance: string): boolean {
    const key = endpointKey({ tenant: claims.tenant, namespace: claims.namespace, service, instance });
    const existed = this.registered.delete(key);
    if (existed) this.changed();
    return existed;
  }

  list(): Array<LocalEndpoint & { lastSeen: string }> {
    return [...this.registered.values()].map((r) => ({ ...this.current(r, Date.now()), lastSeen: new Date(r.lastSeenMs).toISOString() }));
  }

  private current(r: Registered, now: number): LocalEndpoint {
    return { ...r.endpoint, healthy: r.reportedHealthy && livenessOf(r.lastSeenMs, now, this.liveness) === 'reporting' };
  }

  private sweep(): void {
    const now = Date.now();
    let changed = false;
    for (const [key, r] of this.registered) {
      const state = livenessOf(r.lastSeenMs, now, this.liveness);
      if (state === 'gone') {
        this.registered.delete(key);
        this.options.log.info({ dataplane: key }, 'dataplane stopped reporting; removed');
        changed = true;
      } else if (state === 'silent' && this.lastHealth.get(key) && r.reportedHealthy) {
        this.options.log.warn({ dataplane: key }, 'dataplane stopped reporting; marked unhealthy');
        changed = true;
      }
    }
    if (changed) this.changed();
  }

  private changed(): void {
    this.emit();
    this.saveTimer ??= setTimeout(() => {
      this.saveTimer = undefined;
      void this.save();
    }, 500);
  }

  private emit(): void {
    const now = Date.now();
    const endpoints = [...this.registered.values()].map((r) => this.current(r, now));
    this.lastHealth = new Map(endpoints.map((e) => [endpointKey(e), e.healthy]));
    this.onChange?.(endpoints);
  }

  private async save(): Promise<void> {
    await writeFileAtomically(this.file, JSON.stringify([...this.registered.values()])).catch((error: Error) =>
      this.options.log.error({ err: error.message }, 'could not save dataplane registrations'),
    );
  }
}
