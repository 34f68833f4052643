import { Type, type Static } from '@sinclair/typebox';
import { Dns1123Label, Strict, TargetRef } from '../common.js';
import type { PolicyContext, ValidationIssue } from './issues.js';

export const LocalityFailoverSpec = Strict({
  targetRef: TargetRef,
  crossRegion: Type.Optional(
    Type.Array(
      Strict({
        from: Dns1123Label('Region whose clients this entry applies to.'),
        to: Type.Array(Dns1123Label('Region.'), { minItems: 1, maxItems: 32, uniqueItems: true, description: 'Regions to fail over to, in order.' }),
      }),
      { maxItems: 128, description: 'Explicit cross-region failover order. A region not listed fails over to every other region at one level.' },
    ),
  ),
  allowCrossRegion: Type.Optional(Type.Boolean({ description: 'false keeps traffic inside the client\'s region. Default true.' })),
  spilloverThreshold: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: 100,
      description: 'Healthy percent of a level below which traffic starts spilling to the next one. Default 72 (Envoy overprovisioning factor 1.4).',
    }),
  ),
});
export type LocalityFailoverSpec = Static<typeof LocalityFailoverSpec>;

export function checkLocalityFailover(spec: LocalityFailoverSpec, ctx: PolicyContext): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const seenFrom = new Set<string>();
  spec.crossRegion?.forEach((entry, i) => {
    if (seenFrom.has(entry.from)) issues.push({ path: `/spec/crossRegion/${i}/from`, message: `region "${entry.from}" is listed twice` });
    seenFrom.add(entry.from);
    if (!ctx.knownRegions.has(entry.from)) issues.push({ path: `/spec/crossRegion/${i}/from`, message: unknownRegion(entry.from, ctx) });
    entry.to.forEach((region, j) => {
      if (region === entry.from) issues.push({ path: `/spec/crossRegion/${i}/to/${j}`, message: 'a region cannot fail over to itself' });
      else if (!ctx.knownRegions.has(region)) issues.push({ path: `/spec/crossRegion/${i}/to/${j}`, message: unknownRegion(region, ctx) });
    });
  });
  if (spec.allowCrossRegion === false && spec.crossRegion?.length) {
    issues.push({ path: '/spec/crossRegion', message: 'contradicts allowCrossRegion: false' });
  }
  return issues;
}

function unknownRegion(region: string, ctx: PolicyContext): string {
  const known = [...ctx.knownRegions].sort().join(', ') || 'none';
  return `no registered zone is in region "${region}" (known regions: ${known})`;
}
