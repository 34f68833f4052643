import { describe, expect, it } from 'vitest';
import { parseSpiffeId, workloadSpiffeId } from './spiffe.js';

describe('parseSpiffeId', () => {
  it.each([
    ['spiffe://acme.mesh/ns/shop/sa/web', 'acme.mesh', '/ns/shop/sa/web'],
    ['spiffe://acme.mesh', 'acme.mesh', ''],
    ['spiffe://t_1-x.mesh/a', 't_1-x.mesh', '/a'],
    ['spiffe://example.org/Path/With.Dots-and_Underscores', 'example.org', '/Path/With.Dots-and_Underscores'],
    ['spiffe://td/...', 'td', '/...'],
  ])('accepts %s', (text, trustDomain, path) => {
    expect(parseSpiffeId(text)).toEqual({ trustDomain, path });
  });

  it('accepts a trust domain of 255 characters and rejects 256', () => {
    expect(parseSpiffeId(`spiffe://${'a'.repeat(255)}/x`)).toEqual({ trustDomain: 'a'.repeat(255), path: '/x' });
    expect(parseSpiffeId(`spiffe://${'a'.repeat(256)}/x`)).toHaveProperty('error');
  });

  it.each([
    ['uppercase trust domain', 'spiffe://Acme.mesh/ns/a'],
    ['all-uppercase trust domain', 'spiffe://ACME.MESH/ns/a'],
    ['userinfo', 'spiffe://a@t.mesh/x'],
    ['userinfo with password', 'spiffe://t1.mesh:x@t2.mesh/ns/a'],
    ['port', 'spiffe://t.mesh:8443/ns/a'],
    ['empty port', 'spiffe://t.mesh:/ns/a'],
    ['query', 'spiffe://t.mesh/ns/a?x=1'],
    ['query without path', 'spiffe://t.mesh?x=1'],
    ['fragment', 'spiffe://t.mesh/ns/a#frag'],
    ['fragment without path', 'spiffe://t.mesh#frag'],
    ['empty trust domain', 'spiffe:///ns/a'],
    ['nothing after scheme', 'spiffe://'],
    ['trailing slash', 'spiffe://t.mesh/'],
    ['trailing slash after segment', 'spiffe://t.mesh/ns/a/'],
    ['empty inner segment', 'spiffe://t.mesh/ns//a'],
    ['"." segment', 'spiffe://t.mesh/ns/./a'],
    ['".." segment', 'spiffe://t.mesh/ns/../a'],
    ['trailing ".." segment', 'spiffe://t.mesh/ns/..'],
    ['percent-encoding', 'spiffe://t.mesh/ns/a%2Fb'],
    ['space in path', 'spiffe://t.mesh/ns/a b'],
    ['wrong scheme', 'https://t.mesh/ns/a'],
    ['uppercase scheme', 'SPIFFE://t.mesh/ns/a'],
    ['single slash', 'spiffe:/t.mesh/ns/a'],
    ['no scheme', 't.mesh/ns/a'],
    ['empty string', ''],
  ])('rejects %s: %s', (_what, text) => {
    const parsed = parseSpiffeId(text);
    expect(parsed).toHaveProperty('error');
    expect(parsed).not.toHaveProperty('trustDomain');
  });

  it('explains the scheme error', () => {
    expect(parseSpiffeId('https://t.mesh/x')).toEqual({ error: 'must start with spiffe://' });
  });
});

describe('workloadSpiffeId', () => {
  it('builds the /ns/<ns>/sa/<sa> form that parses back', () => {
    const id = workloadSpiffeId('acme.mesh', 'shop', 'web');
    expect(id).toBe('spiffe://acme.mesh/ns/shop/sa/web');
    expect(parseSpiffeId(id)).toEqual({ trustDomain: 'acme.mesh', path: '/ns/shop/sa/web' });
  });
});
