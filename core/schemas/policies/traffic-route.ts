import { Type, type Static } from '@sinclair/typebox';
import { Labels, Strict, TargetRef } from '../common.js';
import { re2SyntaxError } from '../../re2-syntax.js';
import { requireExactlyOne, type ValidationIssue } from './issues.js';

const StringMatch = Strict(
  {
    exact: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    prefix: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    regex: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: 'RE2 syntax.' })),
  },
  'Exactly one of exact, prefix, regex.',
);

const HeaderMatch = Strict({
  name: Type.String({ pattern: '^[A-Za-z0-9!#$%&\'*+.^_`|~-]+$', maxLength: 256 }),
  exact: Type.Optional(Type.String({ maxLength: 1024 })),
  prefix: Type.Optional(Type.String({ maxLength: 1024 })),
  regex: Type.Optional(Type.String({ maxLength: 1024 })),
  present: Type.Optional(Type.Boolean()),
  invert: Type.Optional(Type.Boolean()),
});

const HttpMatch = Strict(
  {
    path: Type.Optional(StringMatch),
    method: Type.Optional(Type.Union(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'CONNECT', 'TRACE'].map((m) => Type.Literal(m)))),
    headers: Type.Optional(Type.Array(HeaderMatch, { maxItems: 32 })),
  },
  'All given conditions must hold.',
);

const SplitEntry = Strict({
  weight: Type.Integer({ minimum: 0, maximum: 100, description: 'Percent of matching requests.' }),
  tags: Type.Optional(Labels),
});

const RouteRule = Strict({
  matches: Type.Optional(Type.Array(HttpMatch, { maxItems: 32, description: 'Any match selects the rule; none means every request.' })),
  split: Type.Array(SplitEntry, { minItems: 1, maxItems: 32, description: 'Weighted destinations, by endpoint tags (e.g. version). Weights sum to 100.' }),
});

export const TrafficRouteSpec = Strict({
  targetRef: TargetRef,
  rules: Type.Array(RouteRule, { minItems: 1, maxItems: 128, description: 'First matching rule wins.' }),
});
export type TrafficRouteSpec = Static<typeof TrafficRouteSpec>;

const HEADER_MATCHERS = ['exact', 'prefix', 'regex', 'present'] as const;
const PATH_MATCHERS = ['exact', 'prefix', 'regex'] as const;

export function checkTrafficRoute(spec: TrafficRouteSpec): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  spec.rules.forEach((rule, r) => {
    const sum = rule.split.reduce((total, s) => total + s.weight, 0);
    if (sum !== 100) issues.push({ path: `/spec/rules/${r}/split`, message: `weights must sum to 100, got ${sum}` });
    rule.matches?.forEach((match, m) => {
      if (match.path) requireExactlyOne(issues, `/spec/rules/${r}/matches/${m}/path`, match.path, PATH_MATCHERS);
      match.headers?.forEach((header, h) => requireExactlyOne(issues, `/spec/rules/${r}/matches/${m}/headers/${h}`, header, HEADER_MATCHERS));
      for (const [where, pattern] of regexesOf(match)) {
        const error = re2SyntaxError(pattern);
        if (error) issues.push({ path: `/spec/rules/${r}/matches/${m}/${where}`, message: `invalid RE2 regular expression "${pattern}": ${error}` });
      }
    });
  });
  return issues;
}

function regexesOf(match: Static<typeof HttpMatch>): Array<[string, string]> {
  const found: Array<[string, string]> = [];
  if (match.path?.regex !== undefined) found.push(['path/regex', match.path.regex]);
  match.headers?.forEach((h, i) => {
    if (h.regex !== undefined) found.push([`headers/${i}/regex`, h.regex]);
  });
  return found;
}
