/**
 * Universal mode: the sidecar registers the workload it fronts with its
 * zone CP (`POST /api/v1/dataplanes`) and keeps re-posting it as its health
 * report. Health is the application's: every inbound target port must
 * accept a TCP connection. A change of health is reported at once, so the
 * zone CP moves traffic away within one probe interval instead of waiting
 * for the registration to go stale. Stopping deregisters.
 */
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { DataplaneRegistration } from '../../core/schemas/dataplane.js';

const checkRegistration = TypeCompiler.Compile(DataplaneRegistration);

/** Reads and validates a dataplane file (YAML or JSON); a ConfigError names the field that is wrong. */
export async function readDataplaneFile(path: string): Promise<DataplaneRegistration> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`--dataplane-file: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (error) {
    throw new ConfigError(`--dataplane-file: ${path} is not YAML or JSON: ${(error as Error).message}`);
  }
  return parseDataplane(value, path);
}

/** Validates a parsed dataplane description. Pure; throws a ConfigError naming the first wrong field. */
export function parseDataplane(value: unknown, source: string): DataplaneRegistration {
  if (checkRegistration.Check(value)) return value;
  const first = [...checkRegistration.Errors(value)][0];
  throw new ConfigError(`--dataplane-file: ${source}: ${first?.path || '/'}: ${first?.message ?? 'invalid'}`);
}

/** Ports the application itself listens on (its target ports). Pure. */
export function applicationPorts(dataplane: DataplaneRegistration): number[] {
  return [...new Set(dataplane.ports.map((p) => p.targetPort ?? p.port))].sort((a, b) => a - b);
}

export interface RegistrationOptions {
  /** The zone CP's API, e.g. http://127.0.0.1:5682. */
  readonly zoneCpUrl: string;
  readonly token: string;
  readonly dataplane: DataplaneRegistration;
  /** Where the application listens; default 127.0.0.1. */
  readonly applicationAddress?: string;
  /** How often the application is probed; default 2 s. */
  readonly probeIntervalMs?: number;
  /** How often the registration is re-posted while nothing changes; default 10 s (the zone marks it unhealthy after 30 s of silence). */
  readonly reportIntervalMs?: number;
  readonly log: Logger;
}

/** Whether something accepts TCP connections at address:port within `timeoutMs`. */
export function probeTcp(address: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: address, port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export class DataplaneRegistrar {
  private healthy: boolean | undefined;
  private registered = false;
  private lastReportAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private running: Promise<void> = Promise.resolve();
  private readonly registeredListeners: Array<() => void> = [];

  constructor(private readonly options: RegistrationOptions) {}

  /** Probes and registers once (errors are logged, not thrown), then keeps going in the background. */
  async start(): Promise<void> {
    await this.tick();
    this.schedule();
  }

  /** Whether the zone CP has accepted the registration at least once. */
  isRegistered(): boolean {
    return this.registered;
  }

  /** Calls `listener` when the zone CP first accepts the registration. */
  onRegistered(listener: () => void): void {
    this.registeredListeners.push(listener);
  }

  applicationHealthy(): boolean {
    return this.healthy === true;
  }

  /** Stops reporting and deregisters, so callers stop being sent here at once rather than after the zone's timeout. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    const { dataplane } = this.options;
    try {
      const response = await fetch(`${this.options.zoneCpUrl}/api/v1/dataplanes/${encodeURIComponent(dataplane.service)}/${encodeURIComponent(dataplane.instance)}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${this.options.token}` },
        signal: AbortSignal.timeout(3_000),
      });
      if (response.ok) this.options.log.info({ service: dataplane.service, instance: dataplane.instance }, 'dataplane deregistered');
    } catch (error) {
      this.options.log.warn({ err: (error as Error).message }, 'could not deregister the dataplane (the zone CP will expire it)');
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().finally(() => this.schedule());
    }, this.options.probeIntervalMs ?? 2_000);
  }

  private async tick(): Promise<void> {
    const address = this.options.applicationAddress ?? '127.0.0.1';
    const results = await Promise.all(applicationPorts(this.options.dataplane).map((port) => probeTcp(address, port, 1_000)));
    const healthy = results.every(Boolean);
    const changed = healthy !== this.healthy;
    if (changed && this.healthy !== undefined) this.options.log.warn({ healthy }, healthy ? 'application is up again' : 'application does not accept connections');
    this.healthy = healthy;
    const due = Date.now() - this.lastReportAt >= (this.options.reportIntervalMs ?? 10_000);
    if (!this.stopped && (changed || due || !this.registered)) await this.report(healthy);
  }

  private async report(healthy: boolean): Promise<void> {
    try {
      const response = await fetch(`${this.options.zoneCpUrl}/api/v1/dataplanes`, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.options.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ ...this.options.dataplane, healthy }),
        signal: AbortSignal.timeout(5_000),
      });
      if (!response.ok) {
        const body = (await response.json().catch(() => ({}))) as { message?: string };
        this.options.log.error({ status: response.status, message: body.message }, 'the zone CP refused the dataplane registration');
        return;
      }
      const first = !this.registered;
      this.registered = true;
      if (first) {
        this.options.log.info({ service: this.options.dataplane.service, instance: this.options.dataplane.instance, healthy }, 'dataplane registered');
        for (const listener of this.registeredListeners) listener();
      }
      this.lastReportAt = Date.now();
    } catch (error) {
      this.options.log.warn({ err: (error as Error).message }, 'cannot reach the zone CP to report the dataplane; retrying');
    }
  }
}
