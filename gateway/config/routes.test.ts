import { describe, expect, it } from 'vitest';
import type { RequestFacts } from './model.js';
import { ConfigProblem } from './problems.js';
import { compileRetryPolicy, compileRouteAction } from './route-action.js';
import { compileRouteConfiguration } from './routes.js';

function facts(authority: string, path = '/', headers: Record<string, string> = {}, method = 'GET'): RequestFacts {
  return { authority, path, method, header: (name) => headers[name] };
}

const d = (seconds: number, nanos = 0) => ({ seconds: String(seconds), nanos });

describe('compileRouteAction', () => {
  const action = (route: Record<string, unknown>, vhRetry?: unknown) => compileRouteAction({ match: { prefix: '/' }, ...route }, 'rc/vh/r', vhRetry);

  it('names the route and reads a plain cluster as a one-entry split', () => {
    expect(action({ route: { cluster: 'a' } })).toEqual({ routeName: 'rc/vh/r', clusters: [{ name: 'a', weight: 1 }], timeouts: {} });
  });

  it('reads weighted_clusters with wrapped weights', () => {
    const split = action({ route: { weighted_clusters: { clusters: [{ name: 'v1', weight: { value: 90 } }, { name: 'v2', weight: { value: 10 } }] } } });
    expect(split.clusters).toEqual([{ name: 'v1', weight: 90 }, { name: 'v2', weight: 10 }]);
  });

  it('timeout: absent → undefined (the runtime default), 0 → 0 (none)', () => {
    expect(action({ route: { cluster: 'a' } }).timeouts.timeoutMs).toBeUndefined();
    expect(action({ route: { cluster: 'a', timeout: d(0) } }).timeouts.timeoutMs).toBe(0);
    expect(action({ route: { cluster: 'a', timeout: {} } }).timeouts.timeoutMs).toBe(0);
    expect(action({ route: { cluster: 'a', timeout: d(90) } }).timeouts.timeoutMs).toBe(90_000);
  });

  it('max_stream_duration bounds the request too: the shorter deadline wins', () => {
    const msd = (s: number) => ({ max_stream_duration: d(s) });
    expect(action({ route: { cluster: 'a', timeout: d(15), max_stream_duration: msd(15) } }).timeouts.timeoutMs).toBe(15_000);
    expect(action({ route: { cluster: 'a', timeout: d(30), max_stream_duration: msd(5) } }).timeouts.timeoutMs).toBe(5_000);
    expect(action({ route: { cluster: 'a', timeout: d(0), max_stream_duration: msd(60) } }).timeouts.timeoutMs).toBe(60_000);
    // No route timeout: Envoy's 15 s default still applies, and is shorter.
    expect(action({ route: { cluster: 'a', max_stream_duration: msd(60) } }).timeouts.timeoutMs).toBe(15_000);
    expect(action({ route: { cluster: 'a', timeout: d(10), max_stream_duration: { max_stream_duration: {} } } }).timeouts.timeoutMs).toBe(10_000);
  });

  it('idle_timeout: > 0 kept, 0 disables, absent undefined', () => {
    expect(action({ route: { cluster: 'a', idle_timeout: d(300) } }).idleTimeoutMs).toBe(300_000);
    expect(action({ route: { cluster: 'a', idle_timeout: d(0) } }).idleTimeoutMs).toBeUndefined();
    expect(action({ route: { cluster: 'a' } }).idleTimeoutMs).toBeUndefined();
  });

  it('takes the virtual host\'s retry policy when the route has none', () => {
    const vh = { retry_on: 'reset', num_retries: { value: 4 } };
    expect(action({ route: { cluster: 'a' } }, vh).retry?.numRetries).toBe(4);
    expect(action({ route: { cluster: 'a', retry_policy: { retry_on: '5xx' } } }, vh).retry?.numRetries).toBe(1);
    expect(action({ route: { cluster: 'a' } }).retry).toBeUndefined();
  });

  it('refuses actions the runtime cannot carry out', () => {
    expect(() => action({ redirect: { host_redirect: 'x' } })).toThrow('unsupported action redirect');
    expect(() => action({ direct_response: { status: 403 } })).toThrow(ConfigProblem);
    expect(() => action({ route: { cluster: 'a', prefix_rewrite: '/v2' } })).toThrow('unsupported prefix_rewrite');
    expect(() => action({ route: { cluster_header: 'x-cluster' } })).toThrow(ConfigProblem);
    expect(() => action({ route: { weighted_clusters: { clusters: [{ name: 'a', weight: {} }] } } })).toThrow('weights sum to 0');
    expect(() => action({ route: { cluster: 'a' }, typed_per_filter_config: { 'envoy.filters.http.rbac': {} } })).toThrow(ConfigProblem);
  });
});

describe('compileRetryPolicy', () => {
  it('applies Envoy\'s defaults: 1 retry, back-off 25 ms up to 10 × base', () => {
    const { policy, perTryTimeoutMs } = compileRetryPolicy({ retry_on: '5xx,connect-failure' });
    expect(policy.numRetries).toBe(1);
    expect(policy.backoffBaseMs).toBe(25);
    expect(policy.backoffMaxMs).toBe(250);
    expect([...policy.conditions.on]).toEqual(['5xx', 'connect-failure']);
    expect(perTryTimeoutMs).toBeUndefined();
  });

  it('reads num_retries (0 included), per_try_timeout, back-off and retriable status codes', () => {
    const { policy, perTryTimeoutMs } = compileRetryPolicy({
      retry_on: 'unavailable,retriable-status-codes,bogus',
      num_retries: {},
      per_try_timeout: d(2),
      retry_back_off: { base_interval: d(0, 50_000_000) },
      retriable_status_codes: [503, 504],
    });
    expect(policy.numRetries).toBe(0);
    expect(perTryTimeoutMs).toBe(2000);
    expect([policy.backoffBaseMs, policy.backoffMaxMs]).toEqual([50, 500]);
    expect([...policy.conditions.statusCodes]).toEqual([503, 504]);
    expect(policy.conditions.unknown).toEqual(['bogus']);
  });

  it('refuses a max back-off below the base, as Envoy does', () => {
    expect(() => compileRetryPolicy({ retry_back_off: { base_interval: d(1), max_interval: d(0, 500_000_000) } })).toThrow(ConfigProblem);
  });
});

describe('compileRouteConfiguration', () => {
  const config = {
    name: 'outbound:8080',
    virtual_hosts: [
      {
        name: 'web',
        domains: ['web.shop.mesh', 'web.shop.mesh:8080'],
        routes: [
          { name: 'admin', match: { prefix: '/admin' }, route: { cluster: 'admin' } },
          { name: 'default', match: { prefix: '/' }, route: { cluster: 'web' } },
        ],
      },
      { name: 'api', domains: ['*.api.mesh'], routes: [{ match: { path: '/only' }, route: { cluster: 'api' } }] },
    ],
  };
  const table = compileRouteConfiguration(config);

  it('picks the virtual host by authority, then the first route that matches', () => {
    expect(table.name).toBe('outbound:8080');
    expect(table.select(facts('web.shop.mesh', '/admin/users'))?.routeName).toBe('outbound:8080/web/admin');
    expect(table.select(facts('web.shop.mesh:8080', '/x'))?.clusters).toEqual([{ name: 'web', weight: 1 }]);
    expect(table.select(facts('v1.api.mesh', '/only'))?.routeName).toBe('outbound:8080/api/#0');
  });

  it('returns undefined when no virtual host or no route matches', () => {
    expect(table.select(facts('web.shop.mesh:9999', '/'))).toBeUndefined();
    expect(table.select(facts('v1.api.mesh', '/other'))).toBeUndefined();
  });

  it('honours ignore_port_in_host_matching', () => {
    const ignoring = compileRouteConfiguration({ ...config, ignore_port_in_host_matching: true });
    expect(ignoring.select(facts('web.shop.mesh:9999', '/'))?.routeName).toBe('outbound:8080/web/default');
  });

  it('says which virtual host and route could not be compiled', () => {
    const bad = { name: 'rc', virtual_hosts: [{ name: 'vh', domains: ['*'], routes: [{ name: 'r1', match: { safe_regex: { regex: '(?=x)' } }, route: { cluster: 'a' } }] }] };
    expect(() => compileRouteConfiguration(bad)).toThrow(/^virtual host vh: route r1: safe_regex: invalid regex "\(\?=x\)": lookahead/);
    expect(() => compileRouteConfiguration({ name: 'rc', virtual_hosts: [{ name: 'a', domains: ['x'], routes: [] }, { name: 'b', domains: ['x'], routes: [] }] })).toThrow(
      'duplicate domain x',
    );
  });
});
