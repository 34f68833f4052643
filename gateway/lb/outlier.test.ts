import { describe, expect, it } from 'vitest';
import { OutlierDetector, outlierConfig, type OutlierDetectionInput, type OutlierOutcome } from './outlier.js';

const S = 1000;
const fail5xx: OutlierOutcome = { kind: 'response', status: 500 };
const ok: OutlierOutcome = { kind: 'response', status: 200 };
const connectFailure: OutlierOutcome = { kind: 'connect-failure' };

/** A detector over `hosts` endpoints h0…hN-1 with a settable clock. */
function setup(input: OutlierDetectionInput, hosts = 10, random = () => 0) {
  const clock = { now: 0 };
  const detector = new OutlierDetector(outlierConfig(input), { now: () => clock.now, random });
  detector.setHosts(Array.from({ length: hosts }, (_, i) => `h${i}`));
  const fail = (key: string, times: number, outcome: OutlierOutcome = fail5xx) => {
    let ejection;
    for (let i = 0; i < times; i++) ejection = detector.record(key, outcome) ?? ejection;
    return ejection;
  };
  return { clock, detector, fail };
}

describe('outlierConfig', () => {
  it('takes Envoy\'s defaults: consecutive 5xx on at 5, gateway failures off, local origin only when split', () => {
    expect(outlierConfig({})).toEqual({
      consecutive5xx: { threshold: 5, enforcing: 100 },
      splitExternalLocalOriginErrors: false,
      intervalMs: 10_000,
      baseEjectionTimeMs: 30_000,
      maxEjectionTimeMs: 300_000,
      maxEjectionPercent: 10,
      alwaysEjectOneHost: false,
    });
  });

  it('reads what the zone CP renders for consecutiveConnectFailures only: 5xx off, local origin on', () => {
    const config = outlierConfig({ enforcingConsecutive5xx: 0, splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailure: 3, enforcingConsecutiveLocalOriginFailure: 100 });
    expect(config.consecutive5xx).toBeUndefined();
    expect(config.consecutiveGatewayFailure).toBeUndefined();
    expect(config.consecutiveLocalOriginFailure).toEqual({ threshold: 3, enforcing: 100 });
  });

  it('never lets max_ejection_time undercut base_ejection_time', () => {
    expect(outlierConfig({ baseEjectionTimeMs: 60 * S, maxEjectionTimeMs: 10 * S }).maxEjectionTimeMs).toBe(60 * S);
  });
});

describe('OutlierDetector: detection', () => {
  it('ejects on the 5th consecutive 5xx, not before', () => {
    const { detector, fail } = setup({ maxEjectionPercent: 100 });
    expect(fail('h0', 4)).toBeUndefined();
    expect(detector.isEjected('h0')).toBe(false);
    expect(fail('h0', 1)).toEqual({ key: 'h0', reason: 'consecutive-5xx', durationMs: 30 * S, untilMs: 30 * S });
    expect(detector.isEjected('h0')).toBe(true);
    expect(detector.isEjected('h1')).toBe(false);
  });

  it('resets the consecutive count on a success (4xx counts as success)', () => {
    const { detector, fail } = setup({ maxEjectionPercent: 100 });
    fail('h0', 4);
    detector.record('h0', ok);
    expect(fail('h0', 4)).toBeUndefined();
    detector.record('h0', { kind: 'response', status: 404 });
    expect(fail('h0', 4)).toBeUndefined();
    expect(fail('h0', 1)?.reason).toBe('consecutive-5xx');
  });

  it('counts 502/503/504 as gateway failures; another 5xx breaks that run but still counts as 5xx', () => {
    const { detector, fail } = setup({ maxEjectionPercent: 100, enforcingConsecutive5xx: 0, consecutiveGatewayFailure: 3, enforcingConsecutiveGatewayFailure: 100 });
    fail('h0', 2, { kind: 'response', status: 503 });
    detector.record('h0', fail5xx);
    expect(fail('h0', 2, { kind: 'response', status: 502 })).toBeUndefined();
    expect(fail('h0', 1, { kind: 'response', status: 504 })?.reason).toBe('consecutive-gateway-failure');
  });

  it('without the split, counts connect failures and timeouts as the 503/504 the proxy answers with', () => {
    const { fail } = setup({ maxEjectionPercent: 100 });
    fail('h0', 2, connectFailure);
    fail('h0', 2, { kind: 'timeout' });
    expect(fail('h0', 1, { kind: 'reset' })?.reason).toBe('consecutive-5xx');
  });

  it('with the split, counts local-origin failures apart: 5xx responses do not add to them, and any response resets them (it connected)', () => {
    const input = { maxEjectionPercent: 100, enforcingConsecutive5xx: 0, splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailure: 3 };
    const { detector, fail } = setup(input);
    expect(fail('h0', 10, fail5xx)).toBeUndefined();
    fail('h0', 2, connectFailure);
    detector.record('h0', fail5xx);
    expect(fail('h0', 2, connectFailure)).toBeUndefined();
    expect(fail('h0', 1, { kind: 'timeout' })?.reason).toBe('consecutive-local-origin-failure');

    fail('h1', 2, connectFailure);
    detector.record('h1', { kind: 'connect-success' });
    expect(fail('h1', 2, { kind: 'reset' })).toBeUndefined();
    detector.record('h1', ok);
    expect(fail('h1', 2, connectFailure)).toBeUndefined();
  });

  it('enforces with the configured probability', () => {
    let r = 0.6;
    const { detector, fail } = setup({ maxEjectionPercent: 100, enforcingConsecutive5xx: 50 }, 10, () => r);
    expect(fail('h0', 5)).toBeUndefined();
    r = 0.4;
    expect(detector.record('h0', fail5xx)?.reason).toBe('consecutive-5xx');
  });

  it('ignores outcomes for endpoints not in the cluster', () => {
    const { fail } = setup({ maxEjectionPercent: 100 });
    expect(fail('elsewhere', 10)).toBeUndefined();
  });
});

describe('OutlierDetector: ejection time', () => {
  const input = { maxEjectionPercent: 100, baseEjectionTimeMs: 10 * S, maxEjectionTimeMs: 25 * S, intervalMs: 10 * S };

  it('returns the endpoint to service when its time is up, with clean counters', () => {
    const { clock, detector, fail } = setup(input);
    fail('h0', 5);
    clock.now = 10 * S - 1;
    expect(detector.isEjected('h0')).toBe(true);
    clock.now = 10 * S;
    expect(detector.isEjected('h0')).toBe(false);
    expect(detector.ejectedUntil('h0')).toBeUndefined();
    expect(fail('h0', 4)).toBeUndefined();
  });

  it('grows base × ejections in a row, capped at max: 10 s, 20 s, 25 s, 25 s', () => {
    const { clock, detector, fail } = setup(input);
    const durations: number[] = [];
    for (let i = 0; i < 4; i++) {
      const ejection = fail('h0', 5)!;
      durations.push(ejection.durationMs);
      clock.now = ejection.untilMs;
      expect(detector.isEjected('h0')).toBe(false);
    }
    expect(durations).toEqual([10 * S, 20 * S, 25 * S, 25 * S]);
  });

  it('forgives one step per full interval back in service', () => {
    const { clock, fail } = setup(input);
    let ejection = fail('h0', 5)!; // ×1
    clock.now = ejection.untilMs;
    ejection = fail('h0', 5)!; // ×2
    clock.now = ejection.untilMs;
    ejection = fail('h0', 5)!; // ×3 → 25 s (capped)
    expect(ejection.durationMs).toBe(25 * S);
    clock.now = ejection.untilMs + 19 * S; // one full interval in service: ×3 → ×2, then ×3 again
    expect(fail('h0', 5)!.durationMs).toBe(25 * S);
    clock.now += 25 * S + 20 * S; // two intervals: ×3 → ×1, then ×2
    expect(fail('h0', 5)!.durationMs).toBe(20 * S);
    clock.now += 20 * S + 300 * S; // long healthy: back to ×1
    expect(fail('h0', 5)!.durationMs).toBe(10 * S);
  });
});

describe('OutlierDetector: max_ejection_percent', () => {
  it('never ejects past the cap, counting the ejection itself: 10 endpoints at 20 % → 2', () => {
    const { detector, fail } = setup({ maxEjectionPercent: 20 });
    expect(fail('h0', 5)).toBeDefined();
    expect(fail('h1', 5)).toBeDefined();
    expect(fail('h2', 5)).toBeUndefined();
    expect(detector.ejectedCount()).toBe(2);
    expect(detector.isEjected('h2')).toBe(false);
  });

  it('3 endpoints at 50 % → 1 (Envoy ≥ 1.27; older versions ejected 2)', () => {
    const { detector, fail } = setup({ maxEjectionPercent: 50 }, 3);
    fail('h0', 5);
    fail('h1', 5);
    expect(detector.ejectedCount()).toBe(1);
  });

  it('keeps a lone endpoint below 100 %, unless alwaysEjectOneHost', () => {
    expect(setup({ maxEjectionPercent: 99 }, 1).fail('h0', 5)).toBeUndefined();
    expect(setup({ maxEjectionPercent: 99, alwaysEjectOneHost: true }, 1).fail('h0', 5)).toBeDefined();
    expect(setup({ maxEjectionPercent: 100 }, 1).fail('h0', 5)).toBeDefined();
  });

  it('ejects a refused endpoint on its next error once room frees up', () => {
    const { clock, detector, fail } = setup({ maxEjectionPercent: 10, baseEjectionTimeMs: 10 * S });
    fail('h0', 5);
    expect(fail('h1', 7)).toBeUndefined();
    clock.now = 10 * S;
    expect(detector.record('h1', fail5xx)?.key).toBe('h1');
    expect(detector.ejectedCount()).toBe(1);
  });

  it('stops counting endpoints that leave the cluster', () => {
    const { detector, fail } = setup({ maxEjectionPercent: 100 });
    fail('h0', 5);
    detector.setHosts(['h1', 'h2']);
    expect(detector.ejectedCount()).toBe(0);
    expect(detector.isEjected('h0')).toBe(false);
  });
});
