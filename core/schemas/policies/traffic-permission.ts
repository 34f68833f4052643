import { Type, type Static } from '@sinclair/typebox';
import { Dns1123Label, Strict, TargetRef } from '../common.js';
import { parseSpiffeId } from '../../spiffe.js';
import type { PolicyContext, ValidationIssue } from './issues.js';

const Source = Strict(
  {
    spiffeId: Type.Optional(Type.String({ maxLength: 2048, description: 'Exact SPIFFE ID in the tenant\'s trust domain.' })),
    namespace: Type.Optional(Dns1123Label('Source namespace.')),
    serviceAccount: Type.Optional(
      Type.String({ pattern: '^(\\*|[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?)$', description: 'Service account in that namespace, or * (default) for any.' }),
    ),
  },
  'A source identity: spiffeId, or namespace (and serviceAccount).',
);

export const TrafficPermissionSpec = Strict({
  targetRef: TargetRef,
  rules: Type.Array(
    Strict({
      action: Type.Union([Type.Literal('Allow'), Type.Literal('Deny')]),
      sources: Type.Array(Source, { minItems: 1, maxItems: 256 }),
    }),
    { minItems: 1, maxItems: 256, description: 'Deny rules win over allow rules; no matching rule denies.' },
  ),
});
export type TrafficPermissionSpec = Static<typeof TrafficPermissionSpec>;

export function checkTrafficPermission(spec: TrafficPermissionSpec, ctx: PolicyContext): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  spec.rules.forEach((rule, r) =>
    rule.sources.forEach((source, s) => {
      const at = `/spec/rules/${r}/sources/${s}`;
      if ((source.spiffeId === undefined) === (source.namespace === undefined)) {
        issues.push({ path: at, message: 'set exactly one of spiffeId, namespace' });
        return;
      }
      if (source.serviceAccount !== undefined && source.namespace === undefined) {
        issues.push({ path: `${at}/serviceAccount`, message: 'goes with namespace, not spiffeId' });
      }
      if (source.spiffeId === undefined) return;
      const path = `${at}/spiffeId`;
      const parsed = parseSpiffeId(source.spiffeId);
      if ('error' in parsed) issues.push({ path, message: parsed.error });
      // Another tenant's identities are never selectable: they are not even named.
      else if (parsed.trustDomain !== ctx.trustDomain) {
        issues.push({ path, message: `must be in this tenant's trust domain "${ctx.trustDomain}"` });
      }
    }),
  );
  return issues;
}
