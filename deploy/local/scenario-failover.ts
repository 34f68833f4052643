/**
 * `meshfed up --scenario failover`: cross-region failover, live. One
 * client's service loses its local instances (traffic moves to the other
 * zone of its region), then that zone's too (traffic crosses to another
 * region, as the tenant's LocalityFailover says), then both come back, one
 * at a time. At each step it prints, second by second, where the client's
 * requests were answered, how long the move took and what failed on the
 * way, then every client's numbers once traffic has settled.
 *
 * Instances "die" by their application closing its port: the sidecar's
 * health probe notices, the zone CP marks the endpoint unhealthy and
 * republishes the zone's inventory, and every zone's proxies get new
 * priorities — the real path, nothing short-circuited.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { renderTable } from '../../cli/ctl/output.js';
import type { WorkloadPlan, ZonePlan } from './plan.js';
import { answeredBy, renderTraffic, type ClientRow } from './status.js';
import type { RunningTopology } from './topology-runner.js';
import type { TrafficWindow } from './traffic.js';

export interface FailoverPlan {
  /** Index of the client in the order of `planTopology`'s workloads with traffic. */
  client: { zone: string; tenant: string; service: string };
  target: { tenant: string; namespace: string; service: string };
  /** The client's zone, another zone of its region, a zone of another region: all running the target. */
  local: string;
  sameRegion: string;
  otherRegion: string;
}

/** The first client whose target runs in its own zone, in another zone of its region and in another region. Pure. */
export function planFailover(plans: ZonePlan[]): FailoverPlan | { reason: string } {
  const runs = (zone: ZonePlan, target: FailoverPlan['target']) => zone.workloads.some((w) => w.role === 'service' && w.tenant === target.tenant && w.namespace === target.namespace && w.service === target.service);
  for (const zone of plans) {
    for (const w of zone.workloads) {
      if (!w.traffic) continue;
      const target = { tenant: w.tenant, namespace: w.traffic.namespace, service: w.traffic.service };
      if (!runs(zone, target)) continue;
      const sameRegion = plans.find((z) => z !== zone && z.region === zone.region && runs(z, target));
      const otherRegion = plans.find((z) => z.region !== zone.region && runs(z, target));
      if (sameRegion && otherRegion) {
        return { client: { zone: zone.name, tenant: w.tenant, service: w.service }, target, local: zone.name, sameRegion: sameRegion.name, otherRegion: otherRegion.name };
      }
    }
  }
  return { reason: 'needs a client whose target service runs in its own zone, in another zone of the same region, and in a zone of another region' };
}

export interface ScenarioOptions {
  say: (line: string) => void;
  signal?: AbortSignal;
  /** How long each step may take for traffic to move; default 45 s. */
  stepTimeoutMs?: number;
  /** How long traffic is measured once it has moved; default 5 s. */
  settleMs?: number;
  /** Share of the client's answers that must come from the expected zone, per second; default 0.95. */
  threshold?: number;
}

interface Step {
  title: string;
  zone: string;
  up: boolean;
  expect: string;
}

export interface StepResult {
  title: string;
  expect: string;
  /** Seconds from the change to the first second answered (≥ threshold) by the expected zone; undefined if it never was. */
  movedAfterS: number | undefined;
  transition: TrafficWindow;
  settled: TrafficWindow | undefined;
}

/** Runs the scenario; resolves with each step's numbers. Rejects with an AbortError when `signal` fires. */
export async function runFailoverScenario(running: RunningTopology, options: ScenarioOptions): Promise<StepResult[]> {
  const { say } = options;
  const plan = planFailover(running.plans);
  if ('reason' in plan) {
    say(`scenario failover: this topology cannot show it: ${plan.reason}`);
    return [];
  }
  const client = running.clients.find((c) => c.zone === plan.client.zone && c.tenant === plan.client.tenant && c.calls.startsWith(`${plan.client.service} →`));
  if (!client) throw new Error(`no load generator for ${plan.client.zone}/${plan.client.service}`);
  const isTarget = (w: WorkloadPlan) => w.role === 'service' && w.tenant === plan.target.tenant && w.namespace === plan.target.namespace && w.service === plan.target.service;
  const zoneOf = (name: string) => running.zones.find((z) => z.plan.name === name)!;
  const threshold = options.threshold ?? 0.95;
  const settleMs = options.settleMs ?? 5000;
  const stepTimeoutMs = options.stepTimeoutMs ?? 45_000;
  const what = `${plan.target.tenant}'s ${plan.target.service}.${plan.target.namespace}`;
  const wait = (ms: number) => sleep(ms, undefined, options.signal ? { signal: options.signal } : {});
  const rows = (from: number, to: number): ClientRow[] => running.clients.map((c) => ({ zone: c.zone, tenant: c.tenant, calls: c.calls, window: c.stats.between(from, to) }));
  const share = (w: TrafficWindow, zone: string) => (w.sent ? (w.byZone[zone] ?? 0) / w.sent : 0);

  say('');
  say(`scenario failover: ${plan.local}'s client (${plan.client.tenant} ${client.calls}) while ${what} fails in ${plan.local}, then in ${plan.sameRegion} (same region), and comes back.`);
  say(`  order of preference from ${plan.local}: ${plan.local} → ${plan.sameRegion} (same region) → ${plan.otherRegion} (other region, by the tenant's LocalityFailover)`);

  // Wait until the client is served locally before starting.
  const ready = await until(() => share(client.stats.window(2), plan.local) >= threshold, stepTimeoutMs, wait);
  if (!ready) say(`  (${plan.local}'s client is not answered by ${plan.local} yet: ${answeredBy(client.stats.window(2))}; starting anyway)`);
  const baseline = Date.now();
  await wait(settleMs);
  say(`step 0 — everything healthy (last ${Math.round(settleMs / 1000)} s):`);
  for (const line of renderTraffic(rows(baseline, Date.now()))) say(`    ${line}`);

  const steps: Step[] = [
    { title: `${what} dies in ${plan.local}`, zone: plan.local, up: false, expect: plan.sameRegion },
    { title: `…and in ${plan.sameRegion}: ${plan.local} must cross to another region`, zone: plan.sameRegion, up: false, expect: plan.otherRegion },
    { title: `${plan.sameRegion}'s instances come back`, zone: plan.sameRegion, up: true, expect: plan.sameRegion },
    { title: `${plan.local}'s instances come back`, zone: plan.local, up: true, expect: plan.local },
  ];
  const results: StepResult[] = [];
  try {
    for (const [i, step] of steps.entries()) {
      say('');
      say(`step ${i + 1}/${steps.length} — ${step.title}; expect ${plan.local}'s client answered by ${step.expect}`);
      const changedAt = Date.now();
      await zoneOf(step.zone).setApplications(isTarget, step.up);
      let movedAt: number | undefined;
      let second = 0;
      while (movedAt === undefined && Date.now() - changedAt < stepTimeoutMs) {
        await wait(changedAt + (second + 1) * 1000 - Date.now());
        second += 1;
        const tick = client.stats.between(changedAt + (second - 1) * 1000, changedAt + second * 1000);
        say(`    +${String(second).padStart(2)}s  ${tick.sent} sent  ${tick.failed} failed  answered by: ${answeredBy(tick)}${tick.topError ? `   (${tick.topError.error.slice(0, 60)})` : ''}`);
        if (tick.sent && share(tick, step.expect) >= threshold) movedAt = changedAt + second * 1000;
      }
      const transition = client.stats.between(changedAt, movedAt ?? Date.now());
      if (movedAt === undefined) {
        say(`  traffic did NOT move to ${step.expect} within ${Math.round(stepTimeoutMs / 1000)} s; ${transition.failed} of ${transition.sent} requests failed meanwhile`);
        results.push({ title: step.title, expect: step.expect, movedAfterS: undefined, transition, settled: undefined });
        continue;
      }
      say(`  moved to ${step.expect} within ${Math.round((movedAt - changedAt) / 1000)} s; ${transition.failed} of ${transition.sent} requests failed on the way`);
      const settleFrom = Date.now();
      await wait(settleMs);
      const settled = rows(settleFrom, Date.now());
      say(`  then, over ${Math.round(settleMs / 1000)} s:`);
      for (const line of renderTraffic(settled)) say(`    ${line}`);
      results.push({ title: step.title, expect: step.expect, movedAfterS: (movedAt - changedAt) / 1000, transition, settled: settled.find((r) => r.zone === client.zone && r.calls === client.calls)?.window });
    }
  } finally {
    // Whatever happened (Ctrl-C included), the applications run again.
    await Promise.all(running.zones.map((z) => z.setApplications(isTarget, true).catch(() => undefined)));
  }
  say('');
  say(`scenario failover — summary for ${plan.local}'s client:`);
  for (const line of renderTable(results, [
    { header: 'STEP', value: (r) => r.title },
    { header: 'EXPECTED', value: (r) => r.expect },
    { header: 'MOVED AFTER', value: (r) => (r.movedAfterS === undefined ? 'never' : `≤${Math.round(r.movedAfterS)}s`) },
    { header: 'FAILED ON THE WAY', value: (r) => `${r.transition.failed}/${r.transition.sent}` },
    { header: 'THEN ANSWERED BY', value: (r) => (r.settled ? answeredBy(r.settled) : '-') },
  ]).split('\n'))
    say(`  ${line}`);
  return results;
}

async function until(condition: () => boolean, timeoutMs: number, wait: (ms: number) => Promise<unknown>): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (condition()) return true;
    await wait(500);
  }
  return condition();
}
