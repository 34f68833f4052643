import { describe, expect, it } from 'vitest';
import { StreamState, type CachedResource, type ProxySnapshot } from './stream-state.js';

const LDS = 'type.googleapis.com/envoy.config.listener.v3.Listener';
const EDS = 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment';
const CDS = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';

const res = (name: string, version: string): CachedResource => ({ name, version, any: { type_url: 'x', value: Buffer.from(`${name}${version}`) } });
const snap = (type: string, ...resources: CachedResource[]): ProxySnapshot => new Map([[type, new Map(resources.map((r) => [r.name, r]))]]);
const req = (type: string, names: string[], nonce = '', version = '', error?: string) => ({
  type_url: type,
  resource_names: names,
  response_nonce: nonce,
  version_info: version,
  error_detail: error ? { message: error, code: 3 } : null,
});

describe('StreamState', () => {
  it('sends everything for a wildcard type, then nothing until the content changes', () => {
    const s = new StreamState();
    expect(s.onRequest(req(LDS, []))).toEqual({ kind: 'subscribe' });
    const first = s.responseFor(LDS, snap(LDS, res('a', '1'), res('b', '1')))!;
    expect(first.resources).toHaveLength(2);
    expect(s.onRequest(req(LDS, [], first.nonce, first.version_info))).toEqual({ kind: 'ack', version: first.version_info });
    expect(s.responseFor(LDS, snap(LDS, res('a', '1'), res('b', '1')))).toBeUndefined();
    const second = s.responseFor(LDS, snap(LDS, res('a', '2'), res('b', '1')))!;
    expect(second.version_info).not.toBe(first.version_info);
    expect(second.nonce).not.toBe(first.nonce);
    expect(s.status()[LDS]).toMatchObject({ subscribed: '*', ackedVersion: first.version_info, sentVersion: second.version_info });
  });

  it('sends only the names subscribed, and again when the subscription reaches an existing resource', () => {
    const s = new StreamState();
    const all = snap(EDS, res('a', '1'), res('b', '1'), res('c', '1'));
    s.onRequest(req(EDS, ['a']));
    const first = s.responseFor(EDS, all)!;
    expect(first.resources.map((r) => r.value.toString())).toEqual(['a1']);
    s.onRequest(req(EDS, ['a', 'missing'], first.nonce, first.version_info));
    expect(s.responseFor(EDS, all)).toBeUndefined();
    s.onRequest(req(EDS, ['a', 'b'], first.nonce, first.version_info));
    // Endpoints and routes go out only when new or changed: the client keeps what a response leaves out.
    const second = s.responseFor(EDS, all)!;
    expect(second.resources.map((r) => r.value.toString())).toEqual(['b1']);
    s.onRequest(req(EDS, ['a', 'b'], second.nonce, second.version_info));
    expect(s.responseFor(EDS, snap(EDS, res('a', '2'), res('b', '1')))!.resources.map((r) => r.value.toString())).toEqual(['a2']);
  });

  it('resends every listener when one changes, and everything after a NACK', () => {
    const s = new StreamState();
    s.onRequest(req(LDS, []));
    const first = s.responseFor(LDS, snap(LDS, res('a', '1'), res('b', '1')))!;
    s.onRequest(req(LDS, [], first.nonce, first.version_info));
    expect(s.responseFor(LDS, snap(LDS, res('a', '2'), res('b', '1')))!.resources).toHaveLength(2);
    // Clusters too, even when subscribed by name (proxyless gRPC does): a cluster left out is deleted.
    const c = new StreamState();
    c.onRequest(req(CDS, ['a', 'b']));
    const cds = c.responseFor(CDS, snap(CDS, res('a', '1'), res('b', '1')))!;
    c.onRequest(req(CDS, ['a', 'b'], cds.nonce, cds.version_info));
    expect(c.responseFor(CDS, snap(CDS, res('a', '2'), res('b', '1')))!.resources).toHaveLength(2);
    const e = new StreamState();
    e.onRequest(req(EDS, ['a', 'b']));
    const one = e.responseFor(EDS, snap(EDS, res('a', '1'), res('b', '1')))!;
    e.onRequest(req(EDS, ['a', 'b'], one.nonce, '', 'rejected'));
    expect(e.responseFor(EDS, snap(EDS, res('a', '2'), res('b', '1')))!.resources).toHaveLength(2);
  });

  it('a NACKed content is not sent again; the next change is', () => {
    const s = new StreamState();
    s.onRequest(req(LDS, []));
    const bad = s.responseFor(LDS, snap(LDS, res('a', 'bad')))!;
    expect(s.onRequest(req(LDS, [], bad.nonce, '', 'port is not valid'))).toEqual({ kind: 'nack', version: bad.version_info, message: 'port is not valid' });
    expect(s.responseFor(LDS, snap(LDS, res('a', 'bad')))).toBeUndefined();
    expect(s.status()[LDS]!.lastNack).toBe('port is not valid');
    expect(s.responseFor(LDS, snap(LDS, res('a', 'good')))).toBeDefined();
  });

  it('ignores requests answering an older nonce', () => {
    const s = new StreamState();
    s.onRequest(req(LDS, []));
    const one = s.responseFor(LDS, snap(LDS, res('a', '1')))!;
    s.responseFor(LDS, snap(LDS, res('a', '2')));
    expect(s.onRequest(req(LDS, [], one.nonce, one.version_info))).toEqual({ kind: 'stale' });
  });
});
