import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { declaresBody, headWithoutUpgrade, requestedUpgrade } from './http-connections.js';
import { hasNoBody, type DownstreamRequest } from './http-proxy.js';

describe('upgrade requests', () => {
  it('requestedUpgrade: the Upgrade type, lowercase, only when Connection lists upgrade', () => {
    expect(requestedUpgrade({ connection: 'keep-alive, Upgrade', upgrade: 'WebSocket' })).toBe('websocket');
    expect(requestedUpgrade({ connection: 'keep-alive', upgrade: 'websocket' })).toBeUndefined();
    expect(requestedUpgrade({ connection: 'upgrade' })).toBeUndefined();
  });

  it('declaresBody: Transfer-Encoding, or a Content-Length other than 0', () => {
    expect([declaresBody({}), declaresBody({ 'content-length': '0' }), declaresBody({ 'content-length': '5' }), declaresBody({ 'transfer-encoding': 'chunked' })]).toEqual([false, false, true, true]);
  });

  it('headWithoutUpgrade: the head as received, without Upgrade, HTTP2-Settings and their Connection tokens', () => {
    const request = {
      method: 'POST',
      url: '/a?b=1',
      httpVersion: '1.1',
      rawHeaders: ['Host', 'svc.demo.mesh', 'Connection', 'Upgrade, HTTP2-Settings, keep-alive', 'Upgrade', 'h2c', 'HTTP2-Settings', 'AAMA', 'Content-Length', '5', 'X-Two', 'a', 'X-Two', 'b'],
    };
    expect(headWithoutUpgrade(request)).toBe('POST /a?b=1 HTTP/1.1\r\nHost: svc.demo.mesh\r\nConnection: keep-alive\r\nContent-Length: 5\r\nX-Two: a\r\nX-Two: b\r\n\r\n');
    expect(headWithoutUpgrade({ ...request, rawHeaders: ['Connection', 'Upgrade', 'Upgrade', 'websocket'] })).toBe('POST /a?b=1 HTTP/1.1\r\n\r\n');
  });
});

describe('hasNoBody (RFC 9112 §6.3; HTTP/2: END_STREAM on the headers)', () => {
  const h1 = (headers: IncomingHttpHeaders) => ({ headers }) as unknown as IncomingMessage;
  it('HTTP/1.x: no Content-Length and no Transfer-Encoding, or Content-Length 0', () => {
    expect([hasNoBody(h1({})), hasNoBody(h1({ 'content-length': '0' })), hasNoBody(h1({ 'content-length': '3' })), hasNoBody(h1({ 'transfer-encoding': 'chunked' }))]).toEqual([true, true, false, false]);
  });
  it('HTTP/2: whatever the headers say, END_STREAM decides', () => {
    const h2 = (endAfterHeaders: boolean) => ({ headers: {}, stream: { endAfterHeaders } }) as unknown as DownstreamRequest;
    expect([hasNoBody(h2(true)), hasNoBody(h2(false))]).toEqual([true, false]);
  });
});
