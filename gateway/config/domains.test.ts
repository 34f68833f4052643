import { describe, expect, it } from 'vitest';
import { compileDomainIndex, portStart } from './domains.js';
import { ConfigProblem } from './problems.js';

const index = (hosts: Record<string, string[]>, ignorePort = false) =>
  compileDomainIndex(Object.entries(hosts).map(([value, domains]) => ({ domains, value })), { ignorePort });

describe('virtual host selection by authority', () => {
  const hosts = index({
    exact: ['api.foo.com'],
    longSuffix: ['*.api.foo.com'],
    suffix: ['*.foo.com'],
    dashSuffix: ['*-bar.foo.com'],
    prefix: ['api.*'],
    longPrefix: ['api.foo.*'],
    fallback: ['*'],
  });

  it('prefers an exact domain, then the longest suffix wildcard, then the longest prefix wildcard, then *', () => {
    expect(hosts.select('api.foo.com')).toBe('exact');
    expect(hosts.select('v1.api.foo.com')).toBe('longSuffix');
    expect(hosts.select('www.foo.com')).toBe('suffix');
    expect(hosts.select('baz-bar.foo.com')).toBe('dashSuffix');
    expect(hosts.select('api.foo.org')).toBe('longPrefix');
    expect(hosts.select('api.example')).toBe('prefix');
    expect(hosts.select('other.org')).toBe('fallback');
  });

  it('never lets a wildcard match the empty string', () => {
    expect(hosts.select('-bar.foo.com')).toBe('suffix');
    expect(index({ suffix: ['*.foo.com'] }).select('.foo.com')).toBeUndefined();
    expect(index({ prefix: ['foo.*'] }).select('foo.')).toBeUndefined();
  });

  it('compares case-insensitively', () => {
    expect(hosts.select('API.Foo.COM')).toBe('exact');
    expect(index({ upper: ['Web.Shop.Mesh'] }).select('web.shop.mesh')).toBe('upper');
  });

  it('keeps the port: a domain without one does not match an authority with one (Envoy)', () => {
    const web = index({ bare: ['web.shop.mesh'], withPort: ['web.shop.mesh:8080'] });
    expect(web.select('web.shop.mesh')).toBe('bare');
    expect(web.select('web.shop.mesh:8080')).toBe('withPort');
    expect(web.select('web.shop.mesh:9090')).toBeUndefined();
  });

  it('drops the authority\'s port with ignore_port_in_host_matching, never a domain\'s', () => {
    const web = index({ bare: ['web.shop.mesh'], withPort: ['other.mesh:8080'] }, true);
    expect(web.select('web.shop.mesh:9090')).toBe('bare');
    expect(web.select('other.mesh:8080')).toBeUndefined();
    expect(index({ v6: ['[::1]'] }, true).select('[::1]:80')).toBe('v6');
  });

  it('returns undefined when nothing matches and there is no *', () => {
    expect(index({ a: ['a.mesh'] }).select('b.mesh')).toBeUndefined();
  });

  it('refuses what Envoy refuses: duplicate domains (in any case), two *, a host without domains', () => {
    expect(() => index({ a: ['x.mesh'], b: ['X.mesh'] })).toThrow('duplicate domain X.mesh');
    expect(() => index({ a: ['*'], b: ['*'] })).toThrow(ConfigProblem);
    expect(() => index({ a: [] })).toThrow('virtual host has no domains');
  });
});

describe('portStart', () => {
  it('finds the port of host:port and [v6]:port, not a colon inside brackets', () => {
    expect(portStart('a.mesh:80')).toBe(6);
    expect(portStart('[::1]:80')).toBe(5);
    expect(portStart('[::1]')).toBe(-1);
    expect(portStart('a.mesh')).toBe(-1);
  });
});
