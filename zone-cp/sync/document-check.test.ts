import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { Logger } from '../../core/log.js';
import type { PolicyDocument } from '../../core/schemas/policies/index.js';
import { ACME_POLICIES, policy } from '../xds/generate/fixtures.js';
import { buildPolicyIndex, matchPolicy } from '../xds/generate/policy-match.js';
import { permissionRbac } from '../xds/generate/rbac.js';
import { DocumentRejections, checkPolicyDocument, checkTenantState, fencedPermission, type DocumentRejection } from './document-check.js';

const keyOf = (p: PolicyDocument) => ({ kind: p.kind, name: p.metadata.name });
const web = { kind: 'Service', name: 'web', namespace: 'shop' };
const permission = policy('TrafficPermission', 'web-callers', { targetRef: web, rules: [{ action: 'Allow', sources: [{ namespace: 'shop' }] }] });

/** A logger that records level and message; enough for what DocumentRejections calls. */
function recordingLog() {
  const lines: Array<{ level: string; fields: Record<string, unknown>; message: string }> = [];
  const at = (level: string) => (fields: Record<string, unknown>, message: string) => void lines.push({ level, fields, message });
  return { lines, log: { warn: at('warn'), info: at('info'), debug: at('debug') } as unknown as Logger };
}

async function rejectedTotal(registry: Registry): Promise<Record<string, number>> {
  const metric = await registry.getSingleMetric('meshfed_federation_document_rejected_total')!.get();
  return Object.fromEntries(metric.values.map((v) => [`${v.labels.tenant}/${v.labels.kind}`, v.value]));
}

describe('checkTenantState', () => {
  it('accepts a tenant state and refuses one that fails the schema, with the first problem\'s path', () => {
    const state = { name: 'acme', trustDomain: 'acme.mesh', zones: ['eu-1'], revision: 3 };
    expect(checkTenantState(state)).toEqual({ ok: true, document: state });
    expect(checkTenantState({ ...state, revision: 'three' })).toMatchObject({ ok: false, problem: { path: '/revision' } });
    expect(checkTenantState(null)).toMatchObject({ ok: false, problem: { path: '' } });
  });
});

describe('checkPolicyDocument', () => {
  it('accepts every policy of the xDS golden tests, each under its own key', () => {
    for (const p of ACME_POLICIES) expect(checkPolicyDocument(p, keyOf(p))).toEqual({ ok: true, document: p });
  });

  it.each([
    ['a value that is no document', 'text', ''],
    ['a document without metadata', { ...permission, metadata: undefined }, '/metadata'],
    ['a spec that fails its kind\'s schema', { ...permission, spec: { ...permission.spec, rules: [{ action: 'Allow', sources: [{ namespace: 'shop', ipBlock: '10.0.0.0/8' }] }] } }, '/spec/rules/0/sources/0/ipBlock'],
    ['a Service target without its namespace', { ...permission, spec: { ...permission.spec, targetRef: { kind: 'Service', name: 'web' } } }, '/spec/targetRef/namespace'],
    ['a document of another kind than its key', { ...permission, kind: 'Timeout', spec: { targetRef: web, request: '5s' } }, '/kind'],
    ['a document named other than its key', { ...permission, metadata: { ...permission.metadata, name: 'other' } }, '/metadata/name'],
  ])('refuses %s', (_what, value, path) => {
    const checked = checkPolicyDocument(value, { kind: 'TrafficPermission', name: 'web-callers' });
    expect(checked.ok).toBe(false);
    expect(!checked.ok && checked.problem.path).toBe(path);
  });

  it('reads fields it does not know as a protobuf reader would (ignored), except in a TrafficPermission\'s spec, where one may narrow a rule', () => {
    const retry = ACME_POLICIES.find((p) => p.kind === 'Retry')!;
    const newer = { ...retry, metadata: { ...retry.metadata, annotations: { a: 'b' } }, spec: { ...retry.spec, futureField: 1 } };
    expect(checkPolicyDocument(newer, keyOf(retry))).toMatchObject({ ok: true });
    expect(checkTenantState({ name: 'acme', trustDomain: 'acme.mesh', zones: ['eu-1'], revision: 3, futureField: true })).toMatchObject({ ok: true });
    expect(checkPolicyDocument({ ...permission, metadata: { ...permission.metadata, annotations: { a: 'b' } } }, keyOf(permission))).toMatchObject({ ok: true });
    expect(checkPolicyDocument({ ...permission, spec: { ...permission.spec, futureField: 1 } }, keyOf(permission))).toMatchObject({ ok: false, problem: { path: '/spec/futureField' } });
  });

  it('refuses a kind it does not know, and keeps the problem short', () => {
    const checked = checkPolicyDocument(permission, { kind: `Future${'x'.repeat(500)}`, name: 'web-callers' });
    expect(checked).toMatchObject({ ok: false, problem: { path: '/kind' } });
    expect(JSON.stringify(checked).length).toBeLessThan(300);
  });
});

describe('fencedPermission', () => {
  const rbacOf = (fence: PolicyDocument, service = { namespace: 'shop', name: 'web' }) => {
    const matched = matchPolicy(buildPolicyIndex([fence]), 'TrafficPermission', service);
    return matched && permissionRbac(matched, 'acme.mesh');
  };

  it('admits no caller to the target the refused document names', () => {
    const refused = { ...permission, spec: { targetRef: web, rules: 'allow everyone' } };
    const fence = fencedPermission(refused, 'web-callers', 9);
    expect(fence).toMatchObject({ kind: 'TrafficPermission', metadata: { name: 'web-callers', resourceVersion: 'refused-9' }, spec: { targetRef: web, rules: [] } });
    expect(rbacOf(fence)).toEqual({ action: 'ALLOW', policies: {} });
    expect(rbacOf(fence, { namespace: 'shop', name: 'payments' })).toBeUndefined();
  });

  it('fences the whole tenant when the refused document\'s target cannot be read', () => {
    for (const refused of [undefined, 'text', { spec: { targetRef: { kind: 'Service', name: 'web' } } }, { spec: { targetRef: { kind: 'Mesh' } } }]) {
      const fence = fencedPermission(refused, 'web-callers', 9);
      expect(fence.spec.targetRef).toEqual({ kind: 'Tenant' });
      expect(rbacOf(fence, { namespace: 'any', name: 'service' })).toEqual({ action: 'ALLOW', policies: {} });
    }
  });
});

describe('DocumentRejections', () => {
  const rejection = (revision: number, fields: Partial<DocumentRejection> = {}): DocumentRejection => ({
    tenant: 'acme',
    key: 'policy.Timeout.web',
    kind: 'Timeout',
    revision,
    problem: { path: '/spec/request', message: 'Expected string' },
    action: 'dropped',
    ...fields,
  });

  it('counts each refused entry once by its revision, by tenant and kind', async () => {
    const registry = new Registry();
    const { log, lines } = recordingLog();
    const rejections = new DocumentRejections(log, registry);
    for (let i = 0; i < 3; i++) rejections.rejected(rejection(7));
    rejections.rejected(rejection(8, { key: 'tenant', kind: 'TenantState', problem: { path: '/revision', message: 'Expected integer' }, action: 'kept-previous' }));
    expect(await rejectedTotal(registry)).toEqual({ 'acme/Timeout': 1, 'acme/TenantState': 1 });
    expect(lines.map((l) => l.level)).toEqual(['warn', 'warn']);
    expect(lines[0]!.fields).toMatchObject({ tenant: 'acme', key: 'policy.Timeout.web', kind: 'Timeout', revision: 7, path: '/spec/request', problem: 'Expected string', action: 'dropped' });
    expect(lines[1]!.message).toMatch(/keeping the last valid one/);
  });

  it('warns once per key while the same problem repeats, again for a new problem or after the key settled', async () => {
    const registry = new Registry();
    const { log, lines } = recordingLog();
    const rejections = new DocumentRejections(log, registry);
    rejections.rejected(rejection(1));
    rejections.rejected(rejection(2));
    rejections.rejected(rejection(3, { key: 'policy.Timeout.api' }));
    expect(lines.map((l) => l.level)).toEqual(['warn', 'debug', 'warn']);
    rejections.rejected(rejection(4, { problem: { path: '', message: 'not JSON' } }));
    rejections.settled('acme', 'policy.Timeout.web');
    rejections.settled('acme', 'policy.Timeout.web');
    rejections.rejected(rejection(6));
    expect(lines.map((l) => l.level)).toEqual(['warn', 'debug', 'warn', 'warn', 'info', 'warn']);
    expect(await rejectedTotal(registry)).toEqual({ 'acme/Timeout': 5 });
  });

  it('says what a fenced TrafficPermission means', () => {
    const { log, lines } = recordingLog();
    new DocumentRejections(log, new Registry()).rejected(rejection(1, { key: 'policy.TrafficPermission.web', kind: 'TrafficPermission', action: 'fenced' }));
    expect(lines[0]!.message).toMatch(/admits no caller/);
  });
});
