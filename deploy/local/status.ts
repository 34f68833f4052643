/**
 * The live status of a local federation: zones as the global CP reports
 * them (online, tenant revisions applied), and the load generators'
 * numbers (rate, success, latency, which zone answered). Rendering is
 * pure; StatusView redraws in place on a terminal and prints plain frames
 * otherwise.
 */
import { age, renderTable } from '../../cli/ctl/output.js';
import type { TrafficWindow } from './traffic.js';

export interface ZoneRow {
  name: string;
  region: string;
  state: string;
  lastSeen: string | null;
  tenants: Array<{ name: string; revision: number; appliedRevision: number | null; upToDate: boolean }>;
}

export interface ClientRow {
  zone: string;
  tenant: string;
  /** `web → echo.shop:8080` */
  calls: string;
  window: TrafficWindow;
}

export interface StatusInput {
  now: number;
  startedAt: number;
  /** From the global CP, or why it could not be asked. */
  zones: ZoneRow[] | { error: string };
  clients: ClientRow[];
  windowSeconds: number;
  /** This process's event-loop delay since the last frame: everything but Redis and NATS shares it. */
  eventLoop?: { p99Ms: number; maxMs: number };
}

/** GET /api/v1/zones at the global CP, as rows. */
export async function fetchZones(globalUrl: string, adminToken: string): Promise<ZoneRow[] | { error: string }> {
  try {
    const response = await fetch(`${globalUrl}/api/v1/zones`, { headers: { authorization: `Bearer ${adminToken}` }, signal: AbortSignal.timeout(3000) });
    if (!response.ok) return { error: `GET /api/v1/zones: HTTP ${response.status}` };
    const body = (await response.json()) as { items: Array<{ metadata: { name: string }; spec: { region: string }; status: Omit<ZoneRow, 'name' | 'region'> }> };
    return body.items.map((z) => ({ name: z.metadata.name, region: z.spec.region, state: z.status.state, lastSeen: z.status.lastSeen, tenants: z.status.tenants }));
  } catch (error) {
    return { error: `global CP unreachable: ${(error as Error).message}` };
  }
}

export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** `zone-a 62%  zone-b 38%`, biggest first. Pure. */
export function answeredBy(window: TrafficWindow): string {
  if (!window.ok) return '-';
  return Object.entries(window.byZone)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([zone, n]) => `${zone} ${Math.round((100 * n) / window.ok)}%`)
    .join('  ');
}

const ms = (value: number | undefined) => (value === undefined ? '-' : `${value}ms`);
const percent = (part: number, whole: number) => (whole ? `${Math.floor((1000 * part) / whole) / 10}%` : '-');

/** The traffic table, for the status and the failover scenario. Pure. */
export function renderTraffic(clients: ClientRow[]): string[] {
  if (!clients.length) return ['(no clients in this topology: no traffic)'];
  const lines = renderTable(clients, [
    { header: 'ZONE', value: (c) => c.zone },
    { header: 'TENANT', value: (c) => c.tenant },
    { header: 'CALLS', value: (c) => c.calls },
    { header: 'RATE', value: (c) => `${c.window.rate.toFixed(1)}/s` },
    { header: 'OK', value: (c) => percent(c.window.ok, c.window.sent) },
    { header: 'P50', value: (c) => ms(c.window.p50Ms) },
    { header: 'P99', value: (c) => ms(c.window.p99Ms) },
    { header: 'ANSWERED BY', value: (c) => answeredBy(c.window) },
    { header: 'ERRORS', value: (c) => (c.window.topError ? `${c.window.failed} (${c.window.topError.error.slice(0, 48)})` : '') },
  ]).split('\n');
  const foreign = clients.filter((c) => c.window.foreignTenant > 0);
  for (const c of foreign) lines.push(`!! ${c.zone} ${c.tenant}: ${c.window.foreignTenant} answers came from another tenant`);
  return lines;
}

/** One status frame. Pure. */
export function renderStatus(input: StatusInput): string[] {
  const loop = input.eventLoop ? ` · event loop p99 ${Math.round(input.eventLoop.p99Ms)}ms` : '';
  const lines = [`── meshfed up · running ${duration(input.now - input.startedAt)} · ${new Date(input.now).toISOString().slice(11, 19)} UTC${loop} · Ctrl-C stops everything`];
  if ('error' in input.zones) lines.push(`zones: ${input.zones.error}`);
  else {
    const online = input.zones.filter((z) => z.state === 'online').length;
    lines.push(`zones (global CP: ${online}/${input.zones.length} online)`);
    lines.push(
      ...renderTable(input.zones, [
        { header: 'ZONE', value: (z) => z.name },
        { header: 'REGION', value: (z) => z.region },
        { header: 'STATE', value: (z) => z.state },
        { header: 'LAST SEEN', value: (z) => age(z.lastSeen, input.now) },
        { header: 'TENANTS (APPLIED/REVISION)', value: (z) => z.tenants.map((t) => `${t.name} ${t.appliedRevision ?? '-'}/${t.revision}${t.upToDate ? '' : ' (behind)'}`).join('  ') || '-' },
      ])
        .split('\n')
        .map((l) => `  ${l}`),
    );
  }
  lines.push(`traffic (last ${input.windowSeconds} s, through each zone's client sidecar)`);
  lines.push(...renderTraffic(input.clients).map((l) => `  ${l}`));
  return lines;
}

export interface StatusViewOptions {
  out: NodeJS.WriteStream;
  /** Redraw in place (a terminal) or print each frame (a pipe, a file). */
  tty: boolean;
  intervalMs: number;
  frame: () => Promise<string[]>;
}

/** Shows a frame every interval: redrawn in place on a terminal, appended otherwise. */
export class StatusView {
  private timer: NodeJS.Timeout | undefined;
  private drawn = 0;
  private drawing: Promise<void> = Promise.resolve();

  constructor(private readonly options: StatusViewOptions) {}

  start(): void {
    if (this.timer) return;
    this.drawn = 0;
    void this.draw();
    this.timer = setInterval(() => void this.draw(), this.options.intervalMs);
  }

  /** Stops drawing; the last frame stays on the screen. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.drawing;
  }

  private draw(): Promise<void> {
    this.drawing = this.drawing.then(async () => {
      const lines = await this.options.frame().catch((error: Error) => [`status unavailable: ${error.message}`]);
      if (!this.timer && this.drawn) return;
      const { out } = this.options;
      if (!this.options.tty) {
        out.write(`${lines.join('\n')}\n\n`);
        return;
      }
      const width = out.columns || 160;
      // Back to the top of the previous frame, clear to the end of the screen, draw; lines are cut to the width so none wraps.
      const clear = this.drawn ? `\x1b[${this.drawn}A\r\x1b[0J` : '';
      out.write(`${clear}${lines.map((l) => (l.length >= width ? `${l.slice(0, width - 2)}…` : l)).join('\n')}\n`);
      this.drawn = lines.length;
    });
    return this.drawing;
  }
}
