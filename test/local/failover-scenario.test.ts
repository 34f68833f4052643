/**
 * `meshfed up --scenario failover`, in process, on three zones in two
 * regions (fixtures/three-zones.yaml): zone-a's client follows its echo
 * from zone-a to zone-b (same region), to zone-c (the other region, by
 * acme's LocalityFailover), and back, one step at a time.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runFailoverScenario } from '../../deploy/local/scenario-failover.js';
import { loadTopology } from '../../deploy/local/topology.js';
import { startTopology, type RunningTopology } from '../../deploy/local/topology-runner.js';
import { ROOT } from '../helpers/processes.js';

describe('the failover scenario', () => {
  let running: RunningTopology | undefined;
  let dataDir: string | undefined;

  afterAll(async () => {
    await running?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('moves zone-a\'s traffic to zone-b, then across regions to zone-c, then back, and says so at each step', async () => {
    const lines: string[] = [];
    const loaded = await loadTopology('test/local/fixtures/three-zones.yaml', ROOT);
    dataDir = await mkdtemp(join(tmpdir(), 'meshfed-failover-'));
    running = await startTopology({ loaded, dataDir, version: 'test', logLevel: 'silent', say: () => undefined });
    const results = await runFailoverScenario(running, { say: (l) => lines.push(l), settleMs: 1000, stepTimeoutMs: 20_000 });
    const output = lines.join('\n');

    expect(results.map((r) => r.expect), output).toEqual(['zone-b', 'zone-c', 'zone-b', 'zone-a']);
    for (const result of results) {
      const why = `${result.title}\n${output}`;
      expect(result.movedAfterS, why).toBeDefined();
      // Once moved, the expected zone answers (all of it, normally; stragglers of a gradual move are allowed on a loaded machine).
      const settled = result.settled!;
      expect((settled.byZone[result.expect] ?? 0) / settled.sent, why).toBeGreaterThanOrEqual(0.9);
      expect(settled.failed / settled.sent, why).toBeLessThanOrEqual(0.05);
    }
    expect(output).toContain('scenario failover — summary for zone-a\'s client:');
    expect(output).toMatch(/step 2\/4 — …and in zone-b: zone-a must cross to another region; expect zone-a's client answered by zone-c\n/);
    // The scenario leaves every application running.
    expect(running.zones.flatMap((z) => z.workloads).every((w) => w.app.listening)).toBe(true);
  }, 150_000);
});
