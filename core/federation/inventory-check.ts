import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Counter, type Registry } from 'prom-client';
import type { Logger } from '../log.js';
import { ZoneInventory } from '../schemas/federation.js';
import { RepeatedProblems } from './repeated-problems.js';
import { firstError, passesIgnoringUnknownFields } from '../schemas/unknown-fields.js';

const check = TypeCompiler.Compile(ZoneInventory);

/** Where an inventory first fails its schema, short enough for a log line. */
export interface InventoryProblem {
  /** JSON pointer of the first offending field ("" for the whole value). */
  path: string;
  message: string;
  /** "namespace/name" of the service the path points into, when there is one. */
  service?: string;
}

export type InventoryCheck = { ok: true; inventory: ZoneInventory } | { ok: false; problem: InventoryProblem };

/**
 * Checks a value read from a tenant bucket's inventory key of `zone`. The
 * key and bucket say whose inventory it is, whatever the value claims, so an
 * accepted inventory carries `zone` and `tenant`. Pure.
 */
export function checkZoneInventory(value: unknown, owner: { tenant: string; zone: string }): InventoryCheck {
  // Fields a newer zone CP added are ignored, so a rolling upgrade does not take its inventories down.
  if (passesIgnoringUnknownFields(check, value)) return { ok: true, inventory: { ...(value as ZoneInventory), zone: owner.zone, tenant: owner.tenant } };
  return { ok: false, problem: firstProblem(value) };
}

function firstProblem(value: unknown): InventoryProblem {
  const error = firstError(check, value);
  if (!error) return { path: '', message: 'fails the inventory schema' };
  const problem: InventoryProblem = { path: error.path.slice(0, 120), message: error.message.slice(0, 160) };
  const index = /^\/services\/(\d+)(\/|$)/.exec(error.path)?.[1];
  // Only reached through a path into services/N, so the value is an object with a services array.
  const services: unknown = index !== undefined ? (value as { services?: unknown }).services : undefined;
  const service: unknown = Array.isArray(services) ? services[Number(index)] : undefined;
  if (service && typeof service === 'object') {
    const { namespace, name } = service as { namespace?: unknown; name?: unknown };
    if (typeof namespace === 'string' && typeof name === 'string') problem.service = `${namespace.slice(0, 63)}/${name.slice(0, 63)}`;
  }
  return problem;
}

export interface InventoryRejection {
  tenant: string;
  /** The zone whose inventory key it is. */
  zone: string;
  /** KV revision of the entry: the same entry read again is not counted again. */
  revision: number;
  problem: InventoryProblem;
}

/** Told what became of each inventory read: InventoryRejections, or a test's fake. */
export interface InventoryOutcomes {
  rejected(rejection: InventoryRejection): void;
  accepted(tenant: string, zone: string): void;
}

/**
 * Makes refused inventories visible: counts each refused entry once (by its
 * KV revision) in meshfed_federation_inventory_rejected_total, and warns once
 * per zone and tenant for as long as the same problem repeats (a zone
 * publishing one broken inventory after another warns once, not on every
 * endpoint change); a different problem, or the same one after an accepted
 * inventory, warns again.
 */
export class InventoryRejections implements InventoryOutcomes {
  private readonly counter: Counter<'tenant' | 'zone'>;
  /** By tenant/zone; settled by an accepted inventory. */
  private readonly problems = new RepeatedProblems();

  constructor(
    private readonly log: Logger,
    registry: Registry,
  ) {
    this.counter = new Counter({
      name: 'meshfed_federation_inventory_rejected_total',
      help: 'Zone inventories refused for failing their schema, by tenant and publishing zone: that zone counts as having published none.',
      labelNames: ['tenant', 'zone'],
      registers: [registry],
    });
  }

  rejected({ tenant, zone, revision, problem }: InventoryRejection): void {
    const seen = this.problems.note(`${tenant}/${zone}`, revision, `${problem.path} ${problem.message}`);
    if (seen === 'seen') return;
    this.counter.inc({ tenant, zone });
    const fields = { tenant, inventoryZone: zone, revision, path: problem.path, problem: problem.message, ...(problem.service ? { service: problem.service } : {}) };
    if (seen === 'repeated') this.log.debug(fields, 'refused another inventory with the same problem');
    else this.log.warn(fields, 'refused a zone inventory that fails its schema; that zone counts as having published none for this tenant');
  }

  accepted(tenant: string, zone: string): void {
    if (this.problems.settle(`${tenant}/${zone}`)) this.log.info({ tenant, inventoryZone: zone }, 'accepted a valid inventory again');
  }
}
