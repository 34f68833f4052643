import { describe, expect, it } from 'vitest';
import { CircuitBreaker, type Admission, type BreakerResource } from './circuit-breaker.js';

const release = (admission: Admission) => {
  if (!admission.admitted) throw new Error('expected admission');
  return admission.release;
};

describe('CircuitBreaker', () => {
  it('admits up to the threshold and rejects the excess at once, saying why', () => {
    const breaker = new CircuitBreaker({ maxRequests: 2 });
    const first = release(breaker.tryAcquire('requests'));
    release(breaker.tryAcquire('requests'));
    expect(breaker.tryAcquire('requests')).toEqual({ admitted: false, resource: 'requests', limit: 2, active: 2 });
    first();
    expect(breaker.tryAcquire('requests').admitted).toBe(true);
  });

  it('counts a release once, however often it is called', () => {
    const breaker = new CircuitBreaker({ maxConnections: 1 });
    const done = release(breaker.tryAcquire('connections'));
    done();
    done();
    expect(breaker.inUse('connections')).toBe(0);
    release(breaker.tryAcquire('connections'));
    expect(breaker.tryAcquire('connections').admitted).toBe(false);
  });

  it('keeps each resource apart', () => {
    const breaker = new CircuitBreaker({ maxPendingRequests: 1, maxRequests: 1 });
    release(breaker.tryAcquire('pending-requests'));
    expect(breaker.tryAcquire('requests').admitted).toBe(true);
    expect(breaker.tryAcquire('pending-requests')).toMatchObject({ admitted: false, resource: 'pending-requests' });
  });

  it('uses Envoy\'s defaults: 1024 connections, pending and requests, 3 retries', () => {
    const breaker = new CircuitBreaker();
    const resources: BreakerResource[] = ['connections', 'pending-requests', 'requests', 'retries'];
    expect(resources.map((r) => breaker.limit(r))).toEqual([1024, 1024, 1024, 3]);
    for (let i = 0; i < 3; i++) release(breaker.tryAcquire('retries'));
    expect(breaker.tryAcquire('retries')).toEqual({ admitted: false, resource: 'retries', limit: 3, active: 3 });
  });

  it('with a retry budget, lets retries follow active + pending requests instead of maxRetries', () => {
    const breaker = new CircuitBreaker({ maxRetries: 100, retryBudget: { budgetPercent: 50, minRetryConcurrency: 1 } });
    expect(breaker.limit('retries')).toBe(1);
    for (let i = 0; i < 4; i++) release(breaker.tryAcquire('requests'));
    release(breaker.tryAcquire('pending-requests'));
    release(breaker.tryAcquire('pending-requests'));
    expect(breaker.limit('retries')).toBe(3);
    for (let i = 0; i < 3; i++) release(breaker.tryAcquire('retries'));
    expect(breaker.tryAcquire('retries')).toEqual({ admitted: false, resource: 'retries', limit: 3, active: 3 });
  });

  it('takes Envoy\'s budget defaults (20 %, at least 3) for an empty retry budget', () => {
    const breaker = new CircuitBreaker({ retryBudget: {} });
    expect(breaker.limit('retries')).toBe(3);
    for (let i = 0; i < 20; i++) release(breaker.tryAcquire('requests'));
    expect(breaker.limit('retries')).toBe(4);
  });
});
