import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { accessLogRecord, createAccessLogger, rbacDeniedDetails, RESPONSE_FLAGS, type AccessLogEntry } from './access-log.js';

const ENTRY: AccessLogEntry = {
  start_time: '2025-01-02T03:04:05.678Z',
  duration_ms: 12.5,
  method: 'GET',
  path: '/api/orders?page=2',
  protocol: 'HTTP/1.1',
  authority: 'orders.shop.svc:8080',
  status: 503,
  response_flags: [RESPONSE_FLAGS.UpstreamConnectionFailure, RESPONSE_FLAGS.UpstreamRetryLimitExceeded],
  bytes_received: 0,
  bytes_sent: 91,
  upstream_cluster: 'orders_shop_svc_8080',
  upstream_host: '10.0.0.7:8080',
  upstream_zone: 'eu-1',
  attempts: 3,
  trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
  source_principal: 'spiffe://acme.mesh/ns/shop/sa/web',
  direction: 'outbound',
  listener: 'outbound:15001',
};

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshfed-access-log-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function readLines(path: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(path, 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  return text
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('createAccessLogger', () => {
  it('appends one parseable JSON line per request with every field', async () => {
    const path = join(dir, 'access.log');
    const logger = createAccessLogger(path);
    logger.log(ENTRY);
    logger.log({ ...ENTRY, status: 200, response_flags: [], upstream_host: null, trace_id: null, protocol: 'HTTP/2' });
    await logger.close();

    const [first, second] = await readLines(path);
    expect(first).toEqual({
      level: 30,
      component: 'access-log',
      start_time: '2025-01-02T03:04:05.678Z',
      duration_ms: 12.5,
      method: 'GET',
      path: '/api/orders',
      protocol: 'HTTP/1.1',
      authority: 'orders.shop.svc:8080',
      status: 503,
      response_flags: 'UF,URX',
      response_code_details: null,
      bytes_received: 0,
      bytes_sent: 91,
      upstream_cluster: 'orders_shop_svc_8080',
      upstream_host: '10.0.0.7:8080',
      upstream_zone: 'eu-1',
      attempts: 3,
      trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
      source_principal: 'spiffe://acme.mesh/ns/shop/sa/web',
      direction: 'outbound',
      listener: 'outbound:15001',
    });
    expect(second).toMatchObject({ status: 200, response_flags: '-', upstream_host: null, trace_id: null, protocol: 'HTTP/2' });
  });

  it('never writes headers, tokens a caller object happens to carry, or the query string', async () => {
    const path = join(dir, 'access.log');
    const logger = createAccessLogger(path);
    const leaky = { ...ENTRY, path: '/callback?access_token=s3cr3t&state=1', authorization: 'Bearer s3cr3t', token: 'dp-token-xyz', headers: { authorization: 'Bearer s3cr3t', cookie: 'sid=1' } };
    logger.log(leaky);
    await logger.close();

    const text = await readFile(path, 'utf8');
    expect(text).not.toMatch(/authorization|s3cr3t|dp-token-xyz|cookie|headers|access_token/i);
    expect(JSON.parse(text)).toMatchObject({ path: '/callback' });
    expect(Object.keys(accessLogRecord(leaky))).not.toContain('token');
  });

  it('records an RBAC denial the way Envoy does: 403, no flag, the matched policy in the details', async () => {
    const path = join(dir, 'access.log');
    const logger = createAccessLogger(path);
    logger.log({ ...ENTRY, status: 403, response_flags: [], response_code_details: rbacDeniedDetails(undefined), direction: 'inbound' });
    await logger.close();
    const [line] = await readLines(path);
    expect(line).toMatchObject({ status: 403, response_flags: '-', response_code_details: 'rbac_access_denied_matched_policy[none]' });
    expect(rbacDeniedDetails('allow web\tonly')).toBe('rbac_access_denied_matched_policy[allow_web_only]');
  });

  it('appends to an existing file and ignores lines logged after close', async () => {
    const path = join(dir, 'access.log');
    const a = createAccessLogger(path);
    a.log(ENTRY);
    await a.close();
    const b = createAccessLogger(path);
    b.log({ ...ENTRY, status: 201 });
    const closed = b.close();
    b.log({ ...ENTRY, status: 202 });
    await closed;
    await b.close();
    expect((await readLines(path)).map((l) => l.status)).toEqual([503, 201]);
  });

  it('fails at creation, naming the path, when the file cannot be opened', () => {
    const path = join(dir, 'missing', 'access.log');
    expect(() => createAccessLogger(path)).toThrow(`access log "${path}": cannot open for appending`);
  });

  it('writes nothing when off', async () => {
    const logger = createAccessLogger('off');
    logger.log(ENTRY);
    await logger.close();
    await expect(stat(join(process.cwd(), 'off'))).rejects.toThrow();
  });

  it('closes a stdout logger without closing stdout', async () => {
    const logger = createAccessLogger('stdout');
    await logger.close();
    expect(process.stdout.writable).toBe(true);
  });
});
