import type { Registry } from 'prom-client';
import { createLogger } from '../../core/log.js';
import type { RunningZoneCp, ZoneCpConfig } from '../../zone-cp/main.js';
import { api, registerZone, startFederatedGlobalCp, startTestZoneCp, tempStateDir, zoneCpConfig } from '../helpers/federation.js';

export type GlobalCp = Awaited<ReturnType<typeof startFederatedGlobalCp>>;

/** A global CP, one universal zone ("zone-a", region eu-west) and tenants placed in it; the zone CP restartable on the same ports and state dir. */
export class ZoneFixture {
  zone!: RunningZoneCp;
  zoneToken!: string;
  private config!: ZoneCpConfig;

  private constructor(readonly globalCp: GlobalCp) {}

  static async start(tenants: Array<{ name: string; trustDomain?: string }>, extra: Partial<ZoneCpConfig> = {}): Promise<ZoneFixture> {
    const fixture = new ZoneFixture(await startFederatedGlobalCp());
    fixture.zoneToken = await registerZone(fixture.globalCp.url, 'zone-a', 'eu-west');
    for (const tenant of tenants) {
      const created = await api(fixture.globalCp.url, 'POST', '/tenants', { ...tenant, zones: ['zone-a'] });
      if (created.status !== 201) throw new Error(`tenant ${tenant.name}: ${JSON.stringify(created.body)}`);
    }
    fixture.config = zoneCpConfig(fixture.globalCp, 'zone-a', fixture.zoneToken, await tempStateDir(), { xdsDebounceMs: 10, logLevel: process.env.ZLOG ?? 'silent', ...extra });
    await fixture.startZone();
    // Keep the ports: a restarted zone CP must be where the gateway looks for it.
    const [host, port] = splitHostPort(fixture.zone.grpcAddress);
    fixture.config = { ...fixture.config, grpcListen: { host, port }, listen: { host: '127.0.0.1', port: Number(new URL(fixture.zone.url).port) } };
    if (fixture.zone.plaintextXdsAddress) {
      const [plainHost, plainPort] = splitHostPort(fixture.zone.plaintextXdsAddress);
      fixture.config.plaintextXdsListen = { host: plainHost, port: plainPort };
    }
    return fixture;
  }

  get stateDir(): string {
    return this.config.stateDir;
  }

  async startZone(): Promise<void> {
    this.zone = await startTestZoneCp(this.config);
    await this.zone.synced();
  }

  async stopZone(): Promise<void> {
    await this.zone.stop();
  }

  async stop(): Promise<void> {
    await this.zone?.stop().catch(() => undefined);
    await this.globalCp.stop();
  }

  token(tenant: string, serviceAccount: string, namespace = 'demo'): string {
    return this.zone.issueDataplaneToken({ tenant, namespace, serviceAccount });
  }

  async ingressToken(): Promise<string> {
    const response = await fetch(`${this.zone.url}/api/v1/dataplane-tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.zoneToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ingress: true }),
    });
    if (response.status !== 201) throw new Error(`ingress token: ${response.status} ${await response.text()}`);
    return ((await response.json()) as { token: string }).token;
  }

  /** Registers (or reports) a dataplane with a token bound to its service account = its service. */
  async register(tenant: string, service: string, instance: string, address: string, port: number, protocol = 'http'): Promise<void> {
    const response = await fetch(`${this.zone.url}/api/v1/dataplanes`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.token(tenant, service)}`, 'content-type': 'application/json' },
      body: JSON.stringify({ tenant, namespace: 'demo', service, instance, address, ports: [{ port, protocol }] }),
    });
    if (response.status !== 200) throw new Error(`register ${service}/${instance}: ${response.status} ${await response.text()}`);
  }

  async deregister(tenant: string, service: string, instance: string): Promise<void> {
    const response = await fetch(`${this.zone.url}/api/v1/dataplanes/${service}/${instance}`, { method: 'DELETE', headers: { authorization: `Bearer ${this.token(tenant, service)}` } });
    if (response.status !== 204) throw new Error(`deregister ${service}/${instance}: ${response.status} ${await response.text()}`);
  }

  /** GET /api/v1/proxies: the connected proxies as the zone CP sees them. */
  async proxies(): Promise<ProxyStatus[]> {
    const response = await fetch(`${this.zone.url}/api/v1/proxies`, { headers: { authorization: `Bearer ${this.zoneToken}` } });
    return ((await response.json()) as { items: ProxyStatus[] }).items;
  }

  async proxy(id: string): Promise<ProxyStatus> {
    const found = (await this.proxies()).find((p) => p.id === id);
    if (!found) throw new Error(`proxy ${id} is not connected`);
    return found;
  }
}

export interface ProxyStatus {
  id: string;
  kind: string;
  port: 'mtls' | 'plaintext';
  spiffeId: string;
  connectedAt: string;
  userAgent: string;
  types: Record<string, { subscribed: string[] | '*'; sentVersion: string | null; ackedVersion: string | null; lastNack: string | null }>;
}

function splitHostPort(address: string): [string, number] {
  const colon = address.lastIndexOf(':');
  return [address.slice(0, colon).replace(/^\[|\]$/g, ''), Number(address.slice(colon + 1))];
}

/** The value of a metric (with these labels) in a registry; 0 when absent. */
export async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  const found = values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
  return found?.value ?? 0;
}

/** A logger for the gateway's clients in tests: silent unless GWLOG names a level. */
export const testLogger = () => createLogger('gateway', process.env.GWLOG ?? 'silent');
