import { describe, expect, it } from 'vitest';
import { policy } from './fixtures.js';
import { buildPolicyIndex, matchPolicy, policiesFor } from './policy-match.js';

const web = { name: 'web', namespace: 'shop' };
const tenantWide = (name: string, request = '1s') => policy('Timeout', name, { targetRef: { kind: 'Tenant' }, request });
const forService = (name: string, service: string, request = '1s') => policy('Timeout', name, { targetRef: { kind: 'Service', name: service, namespace: 'shop' }, request });

describe('matchPolicy', () => {
  it('prefers a Service targetRef over a tenant-wide one, whatever the names', () => {
    const index = buildPolicyIndex([tenantWide('a-tenant'), forService('z-web', 'web')]);
    expect(matchPolicy(index, 'Timeout', web)?.name).toBe('z-web');
    expect(matchPolicy(index, 'Timeout', { name: 'other', namespace: 'shop' })?.name).toBe('a-tenant');
  });

  it('takes the first by name among equals, whatever order the documents come in', () => {
    const docs = [forService('web-b', 'web'), forService('web-a', 'web'), tenantWide('t-b'), tenantWide('t-a')];
    for (const order of [docs, [...docs].reverse()]) {
      const index = buildPolicyIndex(order);
      expect(matchPolicy(index, 'Timeout', web)?.name).toBe('web-a');
      expect(matchPolicy(index, 'Timeout', { name: 'api', namespace: 'shop' })?.name).toBe('t-a');
    }
  });

  it('does not match the same service name in another namespace', () => {
    const index = buildPolicyIndex([forService('web', 'web')]);
    expect(matchPolicy(index, 'Timeout', { name: 'web', namespace: 'other' })).toBeUndefined();
  });

  it('keeps kinds apart and carries the typed spec and resource version', () => {
    const index = buildPolicyIndex([forService('t', 'web', '3s'), policy('Retry', 'r', { targetRef: { kind: 'Tenant' }, attempts: 2, retryOn: ['5xx'] })]);
    expect(policiesFor(index, web)).toEqual({
      Timeout: { name: 't', kind: 'Timeout', resourceVersion: 't-1', spec: expect.objectContaining({ request: '3s' }) },
      Retry: { name: 'r', kind: 'Retry', resourceVersion: 'r-1', spec: expect.objectContaining({ attempts: 2 }) },
    });
  });

  it('ignores documents without a usable targetRef', () => {
    const broken = policy('Timeout', 'a', { request: '1s' });
    const halfRef = policy('Timeout', 'b', { targetRef: { kind: 'Service', name: 'web' }, request: '1s' });
    expect(matchPolicy(buildPolicyIndex([broken, halfRef]), 'Timeout', web)).toBeUndefined();
  });
});
