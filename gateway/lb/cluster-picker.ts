/**
 * Endpoint selection for one cluster, composed like grpc-js-xds's policies:
 * priority (priority.ts) → weighted locality (locality.ts) → endpoint
 * (round-robin.ts), with outlier ejections (outlier.ts) counting as
 * unavailable. Health is recomputed on every pick, so traffic moves as
 * endpoints fail and recover: failover is gradual, failback automatic.
 */
import { DEFAULT_OVERPROVISIONING_FACTOR, endpointKey, normalizeLevels, type Endpoint, type LoadAssignment } from './assignment.js';
import { LocalityPicker } from './locality.js';
import type { OutlierDetector } from './outlier.js';
import { DEFAULT_PANIC_THRESHOLD, pickPriority, priorityLoad, priorityPanic } from './priority.js';
import { SmoothWeightedRoundRobin } from './round-robin.js';

/** An endpoint as placed in the assignment. */
export interface Host {
  /** `endpointKey(endpoint)`: what outlier detection, exclusion sets and metrics name it by. */
  readonly key: string;
  readonly endpoint: Endpoint;
  readonly priority: number;
  /** The locality's key. */
  readonly locality: string;
  /** The endpoint's weight within its locality. */
  readonly weight: number;
}

export interface ClusterPickerOptions {
  /** The cluster's outlier detector; the picker keeps its host list in step with the assignment. */
  readonly outlier?: OutlierDetector;
  /** [0, 1); picks the priority level. */
  readonly random?: () => number;
  /** Percent; Envoy's `healthy_panic_threshold`, default 50; 0 disables panic. */
  readonly panicThreshold?: number;
}

/** The balancer's view right now, for metrics and logs. */
export interface ClusterLoadState {
  readonly priorities: readonly number[];
  /** Percent of traffic per level. */
  readonly load: readonly number[];
  readonly panic: readonly boolean[];
  readonly available: readonly number[];
  readonly total: readonly number[];
}

interface LocalityState {
  readonly key: string;
  readonly weight: number;
  readonly hosts: readonly Host[];
}

interface LevelState {
  readonly priority: number;
  readonly localities: readonly LocalityState[];
  readonly picker: LocalityPicker;
}

/** Per level, per locality: the hosts that may take traffic now. */
type Availability = Host[][][];

const NONE: ReadonlySet<string> = new Set();

export class ClusterPicker {
  private levels: LevelState[] = [];
  private factor = DEFAULT_OVERPROVISIONING_FACTOR;
  private readonly endpoints = new SmoothWeightedRoundRobin();
  private outlier: OutlierDetector | undefined;
  private readonly random: () => number;
  private readonly panicThreshold: number;

  constructor(assignment: LoadAssignment, options: ClusterPickerOptions = {}) {
    this.outlier = options.outlier;
    this.random = options.random ?? Math.random;
    this.panicThreshold = options.panicThreshold ?? DEFAULT_PANIC_THRESHOLD;
    this.update(assignment);
  }

  /** A new outlier detector (new thresholds); it learns the hosts at the next `update`. */
  useOutlierDetector(outlier: OutlierDetector | undefined): void {
    this.outlier = outlier;
  }

  /** A new ClusterLoadAssignment; round-robin positions and outlier state of endpoints that stay are kept. */
  update(assignment: LoadAssignment): void {
    const factor = assignment.overprovisioningFactor;
    this.factor = factor !== undefined && factor > 0 ? factor : DEFAULT_OVERPROVISIONING_FACTOR;
    const previous = new Map(this.levels.map((level) => [level.priority, level.picker]));
    this.levels = normalizeLevels(assignment.levels).map(({ priority, localities }) => {
      const picker = previous.get(priority) ?? new LocalityPicker();
      picker.retain(new Set(localities.map((l) => l.key)));
      return {
        priority,
        picker,
        localities: localities.map((l) => ({
          key: l.key,
          weight: l.weight,
          hosts: l.endpoints.map((endpoint) => ({ key: endpointKey(endpoint), endpoint, priority, locality: l.key, weight: endpoint.weight ?? 1 })),
        })),
      };
    });
    const keys = new Set(this.levels.flatMap((level) => level.localities.flatMap((l) => l.hosts.map((h) => h.key))));
    this.endpoints.retain(keys);
    this.outlier?.setHosts(keys);
  }

  /**
   * The endpoint for the next attempt, or undefined when the cluster has
   * none to offer. `excluded` (endpoints already tried by this request) is
   * avoided: first within the chosen priority (localities by effective
   * weight among those with an untried endpoint), then in the other
   * priorities in order; only when every usable endpoint has been tried is
   * one of them tried again.
   */
  pick(excluded: ReadonlySet<string> = NONE): Host | undefined {
    const available = this.availability();
    const { load, panic } = this.loadFrom(available);
    const chosen = pickPriority(load, this.random());
    if (chosen === undefined) return undefined;
    const first = this.pickIn(chosen, panic[chosen] === true, available, excluded);
    if (first || excluded.size === 0) return first;
    for (let i = 0; i < this.levels.length; i++) {
      if (i === chosen) continue;
      const host = this.pickIn(i, panic[i] === true, available, excluded);
      if (host) return host;
    }
    return this.pickIn(chosen, panic[chosen] === true, available, NONE);
  }

  /** Priority load, panic and health per level right now. */
  state(): ClusterLoadState {
    const available = this.availability();
    const { load, panic } = this.loadFrom(available);
    return {
      priorities: this.levels.map((l) => l.priority),
      load,
      panic,
      available: available.map((level) => level.reduce((n, hosts) => n + hosts.length, 0)),
      total: this.levels.map((level) => level.localities.reduce((n, l) => n + l.hosts.length, 0)),
    };
  }

  private availability(): Availability {
    return this.levels.map((level) => level.localities.map((l) => l.hosts.filter((h) => h.endpoint.healthy && !this.outlier?.isEjected(h.key))));
  }

  private loadFrom(available: Availability): { load: number[]; panic: boolean[] } {
    const health = this.levels.map((level, i) => ({
      available: available[i]!.reduce((n, hosts) => n + hosts.length, 0),
      total: level.localities.reduce((n, l) => n + l.hosts.length, 0),
    }));
    return { load: priorityLoad(health, this.factor, this.panicThreshold), panic: priorityPanic(health, this.factor, this.panicThreshold) };
  }

  /** A host of level `i`: a locality by effective weight among those with a usable host, then round robin inside it. */
  private pickIn(i: number, panic: boolean, available: Availability, excluded: ReadonlySet<string>): Host | undefined {
    const level = this.levels[i]!;
    const candidates = level.localities
      .map((locality, j) => {
        // In panic a level balances over all its endpoints, whatever their health; localities keep their configured weights.
        const pool = panic ? locality.hosts : available[i]![j]!;
        const usable = excluded.size === 0 ? pool : pool.filter((h) => !excluded.has(h.key));
        return { key: locality.key, weight: locality.weight, available: pool.length, total: locality.hosts.length, usable };
      })
      .filter((c) => c.usable.length > 0);
    const locality = level.picker.pick(candidates, this.factor);
    return locality ? this.endpoints.pick(locality.usable) : undefined;
  }
}
