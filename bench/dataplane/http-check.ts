/**
 * One GET to a target the way the load generator reaches it: to `connectTo`
 * when set, with the URL's authority as Host (and, over https, its host as
 * SNI; the certificate is not checked, as h2load does not). Used to check a
 * target before measuring and to wait until a mesh route works.
 */
import http from 'node:http';
import https from 'node:https';
import type { Address } from './haproxy.js';

export interface CheckResult {
  status: number;
  body: string;
}

export function getOnce(url: string, connectTo: Address | undefined, timeoutMs = 5_000): Promise<CheckResult> {
  const parsed = new URL(url);
  const secure = parsed.protocol === 'https:';
  const options: https.RequestOptions = {
    host: connectTo?.host ?? parsed.hostname,
    port: connectTo?.port ?? (Number(parsed.port) || (secure ? 443 : 80)),
    path: `${parsed.pathname}${parsed.search}`,
    headers: { host: parsed.host },
    agent: false,
    timeout: timeoutMs,
    ...(secure ? { servername: parsed.hostname, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] } : {}),
  };
  return new Promise((resolve, reject) => {
    const request = (secure ? https : http).get(options, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`no response within ${timeoutMs} ms`)));
    request.on('error', reject);
  });
}

/** `getOnce` until it answers 200 with `body`; fails with the last answer or error after `timeoutMs`. */
export async function waitUntilAnswers(url: string, connectTo: Address | undefined, body: string, timeoutMs: number, stillRunning: () => string | undefined = () => undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const dead = stillRunning();
    if (dead) throw new Error(dead);
    try {
      const result = await getOnce(url, connectTo, 2_000);
      if (result.status === 200 && result.body === body) return;
      last = `HTTP ${result.status} "${result.body.trim().slice(0, 200)}"`;
    } catch (error) {
      last = (error as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`GET ${url}${connectTo ? ` via ${connectTo.host}:${connectTo.port}` : ''}: no 200 "${body}" within ${timeoutMs / 1000} s; last: ${last}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
