import { describe, expect, it } from 'vitest';
import type { ChangeEntry } from '../store/records.js';
import { batchChanges } from './publisher.js';

let seq = 0;
const change = (tenant: string, what: string, revision: number): ChangeEntry => ({ id: `${++seq}-0`, tenant, what, revision });

describe('batchChanges', () => {
  it('is empty for no changes', () => {
    const batch = batchChanges([]);
    expect(batch.policies.size).toBe(0);
    expect(batch.tenants.size).toBe(0);
    expect(batch.placement).toBe(false);
  });

  it('groups policy changes per tenant with the fields touched and the highest revision', () => {
    const batch = batchChanges([
      change('acme', 'policy:Timeout/web', 4),
      change('globex', 'policy:Retry/api', 2),
      change('acme', 'policy:Retry/web', 6),
      change('acme', 'policy:Timeout/web', 5),
    ]);
    expect([...batch.policies.keys()].sort()).toEqual(['acme', 'globex']);
    expect([...batch.policies.get('acme')!.fields].sort()).toEqual(['Retry/web', 'Timeout/web']);
    expect(batch.policies.get('acme')!.revision).toBe(6);
    expect([...batch.policies.get('globex')!.fields]).toEqual(['Retry/api']);
    expect(batch.policies.get('globex')!.revision).toBe(2);
    expect(batch.tenants.size).toBe(0);
    expect(batch.placement).toBe(false);
  });

  it('keeps the highest revision even when entries arrive out of revision order', () => {
    const batch = batchChanges([change('acme', 'policy:Timeout/a', 9), change('acme', 'policy:Timeout/b', 3)]);
    expect(batch.policies.get('acme')!.revision).toBe(9);
  });

  it('marks a tenant change for a whole-bucket sync and a placement sync', () => {
    const batch = batchChanges([change('acme', 'tenant', 1)]);
    expect([...batch.tenants]).toEqual(['acme']);
    expect(batch.placement).toBe(true);
    expect(batch.policies.size).toBe(0);
  });

  it('marks a zone change for a placement sync only', () => {
    const batch = batchChanges([change('', 'zone:eu-1', 3)]);
    expect(batch.placement).toBe(true);
    expect(batch.tenants.size).toBe(0);
    expect(batch.policies.size).toBe(0);
  });

  it('keeps policy and tenant changes of the same tenant side by side', () => {
    const batch = batchChanges([change('acme', 'policy:Timeout/web', 2), change('acme', 'tenant', 3), change('acme', 'tenant', 4)]);
    expect([...batch.tenants]).toEqual(['acme']);
    expect(batch.policies.get('acme')!.revision).toBe(2);
    expect(batch.placement).toBe(true);
  });

  it('ignores entries of an unknown kind', () => {
    const batch = batchChanges([change('acme', 'token:abc', 3)]);
    expect(batch.policies.size).toBe(0);
    expect(batch.tenants.size).toBe(0);
    expect(batch.placement).toBe(false);
  });
});
