import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { Counter, type Registry } from 'prom-client';
import type { Logger } from '../../core/log.js';
import { API_VERSION, TargetRef } from '../../core/schemas/common.js';
import { TenantState } from '../../core/schemas/federation.js';
import { POLICY_KINDS, POLICY_KIND_NAMES, PolicyDocument, isPolicyKind, type PolicyKind } from '../../core/schemas/policies/index.js';
import { checkTargetRef } from '../../core/schemas/policies/issues.js';
import { RepeatedProblems } from '../../core/federation/repeated-problems.js';
import { firstError, passesIgnoringUnknownFields as passes } from '../../core/schemas/unknown-fields.js';

const tenantStateCheck = TypeCompiler.Compile(TenantState);
const policyDocumentCheck = TypeCompiler.Compile(PolicyDocument);
const specChecks = new Map<PolicyKind, TypeCheck<TSchema>>(POLICY_KIND_NAMES.map((kind) => [kind, TypeCompiler.Compile(POLICY_KINDS[kind].spec)]));
const targetRefCheck = TypeCompiler.Compile(TargetRef);

/** Where a document read from a tenant bucket first fails its check, short enough for a log line. */
export interface DocumentProblem {
  /** JSON pointer of the first offending field ("" for the whole value). */
  path: string;
  message: string;
}

export type DocumentCheck<T> = { ok: true; document: T } | { ok: false; problem: DocumentProblem };

/** The problem of a KV value that does not even parse. */
export const NOT_JSON: DocumentProblem = { path: '', message: 'not JSON' };

const clip = (text: string, length = 63) => text.slice(0, length);

function firstProblem(check: TypeCheck<TSchema>, value: unknown, prefix = '', unknownFieldsCount = false): DocumentProblem {
  const error = firstError(check, value, unknownFieldsCount);
  if (!error) return { path: prefix, message: 'fails its schema' };
  return { path: clip(`${prefix}${error.path}`, 120), message: clip(error.message, 160) };
}

/** Checks the value of a tenant bucket's tenant key against TenantState. Pure. */
export function checkTenantState(value: unknown): DocumentCheck<TenantState> {
  return passes(tenantStateCheck, value) ? { ok: true, document: value as TenantState } : { ok: false, problem: firstProblem(tenantStateCheck, value) };
}

/**
 * Checks a value read from the policy key of `kind`/`name`: the stored
 * document's schema, its kind's spec schema and target, and that it is the
 * document its key names (the kind decides what the zone does with it). Not
 * the other semantic checks the global CP ran when the policy was written:
 * some consult what only the global CP knows (the regions registered then).
 * Pure.
 */
export function checkPolicyDocument(value: unknown, key: { kind: string; name: string }): DocumentCheck<PolicyDocument> {
  const refuse = (path: string, message: string): DocumentCheck<PolicyDocument> => ({ ok: false, problem: { path, message } });
  if (!isPolicyKind(key.kind)) return refuse('/kind', `"${clip(key.kind)}" is not a policy kind this zone CP knows`);
  if (!passes(policyDocumentCheck, value)) return { ok: false, problem: firstProblem(policyDocumentCheck, value) };
  const document = value as PolicyDocument;
  if (document.kind !== key.kind) return refuse('/kind', `is ${document.kind}, but its key is that of a ${key.kind}`);
  if (document.metadata.name !== key.name) return refuse('/metadata/name', `is "${clip(document.metadata.name)}", but its key names "${key.name}"`);
  const spec = specChecks.get(key.kind)!;
  // Not in a TrafficPermission's spec: an unknown field there may narrow whom a rule admits, and ignoring it would widen access.
  const specPasses = key.kind === 'TrafficPermission' ? spec.Check(document.spec) : passes(spec, document.spec);
  if (!specPasses) return { ok: false, problem: firstProblem(spec, document.spec, '/spec', key.kind === 'TrafficPermission') };
  const [targetIssue] = checkTargetRef(document.spec.targetRef as TargetRef);
  if (targetIssue) return refuse(targetIssue.path, targetIssue.message);
  return { ok: true, document };
}

/** The target a refused document names, if it can be read and would be accepted. */
function readableTarget(value: unknown): TargetRef | undefined {
  const spec: unknown = value && typeof value === 'object' ? (value as { spec?: unknown }).spec : undefined;
  const targetRef: unknown = spec && typeof spec === 'object' ? (spec as { targetRef?: unknown }).targetRef : undefined;
  if (!targetRefCheck.Check(targetRef) || checkTargetRef(targetRef).length) return undefined;
  return targetRef;
}

/**
 * What stands in for a TrafficPermission the zone refused: a permission
 * without rules (an RBAC ALLOW with no policy: no caller is admitted) on the
 * target the refused document names, or on the whole tenant when that cannot
 * be read. Named as the refused one, so it ranks among the tenant's
 * permissions where that one would have. Pure.
 */
export function fencedPermission(value: unknown, name: string, revision: number): PolicyDocument {
  return {
    apiVersion: API_VERSION,
    kind: 'TrafficPermission',
    metadata: { name, labels: {}, resourceVersion: `refused-${revision}`, generation: 0, creationTimestamp: '' },
    spec: { targetRef: readableTarget(value) ?? { kind: 'Tenant' }, rules: [] },
  };
}

/** What the view holds in place of a refused document. */
export type DocumentAction = 'kept-previous' | 'dropped' | 'fenced';

export interface DocumentRejection {
  tenant: string;
  key: string;
  /** "TenantState", or the policy kind the key names ("unknown" for a kind this zone CP does not know). */
  kind: string;
  /** KV revision of the entry: the same entry read again is not counted again. */
  revision: number;
  problem: DocumentProblem;
  action: DocumentAction;
}

/** Told what became of each tenant state and policy read: DocumentRejections, or a test's fake. */
export interface DocumentOutcomes {
  rejected(rejection: DocumentRejection): void;
  /** A valid document under `key`, or the key's deletion: nothing refused there is in force any more. */
  settled(tenant: string, key: string): void;
}

const CONSEQUENCE: Record<DocumentAction, string> = {
  'kept-previous': 'refused a tenant state that fails its schema; keeping the last valid one, so this zone reports the revision it has applied, not the refused one',
  dropped: 'refused a policy that fails its schema; this zone applies none under its key (defaults, or a tenant-wide policy of the kind, apply instead)',
  fenced: 'refused a TrafficPermission that fails its schema; its target admits no caller in this zone until a valid one arrives',
};

/**
 * Makes refused tenant states and policies visible: counts each refused
 * entry once (by its KV revision) in meshfed_federation_document_rejected_total,
 * and warns once per key for as long as the same problem repeats; a different
 * problem, or the same one after the key settled, warns again.
 */
export class DocumentRejections implements DocumentOutcomes {
  private readonly counter: Counter<'tenant' | 'kind'>;
  /** By tenant/key; settled by a valid document or a delete. */
  private readonly problems = new RepeatedProblems();

  constructor(
    private readonly log: Logger,
    registry: Registry,
  ) {
    this.counter = new Counter({
      name: 'meshfed_federation_document_rejected_total',
      help: 'Tenant states and policies refused by this zone CP for failing their schema, by tenant and kind (TenantState or the policy kind).',
      labelNames: ['tenant', 'kind'],
      registers: [registry],
    });
  }

  rejected({ tenant, key, kind, revision, problem, action }: DocumentRejection): void {
    const seen = this.problems.note(`${tenant}/${key}`, revision, `${problem.path} ${problem.message}`);
    if (seen === 'seen') return;
    this.counter.inc({ tenant, kind });
    const fields = { tenant, key: clip(key, 200), kind, revision, path: problem.path, problem: problem.message, action };
    if (seen === 'repeated') this.log.debug(fields, 'refused another document with the same problem');
    else this.log.warn(fields, CONSEQUENCE[action]);
  }

  settled(tenant: string, key: string): void {
    if (this.problems.settle(`${tenant}/${key}`)) this.log.info({ tenant, key }, 'the document refused under this key was replaced by a valid one or deleted');
  }
}
