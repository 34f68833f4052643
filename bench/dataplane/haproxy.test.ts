import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderHaproxyConfig, type HaproxyRole } from './haproxy.js';

const haveHaproxy = (() => {
  try {
    execFileSync('haproxy', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const listen = { host: '127.0.0.1', port: 18001 };
const upstream = { host: '127.0.0.1', port: 18002 };
const roles: Record<string, HaproxyRole> = {
  respond: { kind: 'respond', listen, body: 'ok' },
  http: { kind: 'proxy', mode: 'http', listen, upstream },
  tcp: { kind: 'proxy', mode: 'tcp', listen, upstream },
  'http mTLS both sides': {
    kind: 'proxy',
    mode: 'http',
    listen,
    upstream,
    tls: { listen: { caFile: '/x/ca.pem', crtFile: '/x/server.pem' }, upstream: { caFile: '/x/ca.pem', crtFile: '/x/client.pem', serverName: 'upstream.bench.mesh' } },
  },
  'tcp by SNI': { kind: 'proxy', mode: 'tcp', listen, upstream, sniSuffix: '.bench.mesh' },
  'respond over TLS': { kind: 'respond', listen, body: 'ok', tls: { crtFile: '/x/server.pem' } },
};

describe('renderHaproxyConfig', () => {
  it('pins one thread and keeps connections alive on both sides in http mode', () => {
    const text = renderHaproxyConfig('t', roles.http!);
    expect(text).toContain('nbthread 1');
    expect(text).toContain('option http-keep-alive');
    expect(text).toContain('http-reuse always');
    expect(text).toContain('bind 127.0.0.1:18001\n');
    expect(text).toContain('server upstream 127.0.0.1:18002\n');
  });
  it('has no http options in tcp mode', () => {
    const text = renderHaproxyConfig('t', roles.tcp!);
    expect(text).toContain('mode tcp');
    expect(text).not.toContain('http');
  });
  it('answers by itself as the backend', () => {
    expect(renderHaproxyConfig('t', roles.respond!)).toContain('http-request return status 200 content-type text/plain string ok');
  });
  it('answers over TLS as the TLS targets\' backend, asking no client certificate', () => {
    expect(renderHaproxyConfig('t', roles['respond over TLS']!)).toContain('bind 127.0.0.1:18001 ssl crt /x/server.pem alpn http/1.1\n');
  });
  it('routes by SNI when asked', () => {
    expect(renderHaproxyConfig('t', roles['tcp by SNI']!)).toContain('use_backend out if { req_ssl_sni -m end .bench.mesh }');
  });

  it.skipIf(!haveHaproxy)('renders configs that `haproxy -c` accepts (plaintext roles)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'meshfed-haproxy-cfg-'));
    try {
      for (const name of ['respond', 'http', 'tcp', 'tcp by SNI']) {
        const file = join(dir, `${name.replace(/ /g, '-')}.cfg`);
        writeFileSync(file, renderHaproxyConfig(name, roles[name]!));
        execFileSync('haproxy', ['-c', '-q', '-f', file], { stdio: 'pipe' });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
