/**
 * envoy.type.matcher.v3.StringMatcher → a predicate, shared by route header
 * matching, RBAC principal names and upstream SAN checks, so the three agree
 * on what `prefix` or `ignore_case` mean. Pure once compiled.
 */
import { isObject, textOf } from '../xds/resources.js';
import { fail } from './problems.js';
import type { RegexCache } from './regex.js';

export interface StringMatch {
  readonly matches: (value: string) => boolean;
  /** `exact spiffe://…`, `prefix /api`, `regex ^a.*`; for logs and error messages. */
  readonly description: string;
}

/** Envoy lowercases ASCII only (absl::AsciiStrToLower) when ignore_case is set. */
export const asciiLower = (value: string) => value.replace(/[A-Z]+/g, (upper) => upper.toLowerCase());

type Comparison = 'exact' | 'prefix' | 'suffix' | 'contains';

const COMPARE: Readonly<Record<Comparison, (value: string, pattern: string) => boolean>> = {
  exact: (value, pattern) => value === pattern,
  prefix: (value, pattern) => value.startsWith(pattern),
  suffix: (value, pattern) => value.endsWith(pattern),
  contains: (value, pattern) => value.includes(pattern),
};

/** A plain comparison; with `ignoreCase` both sides are ASCII-lowercased. */
export function comparison(kind: Comparison, pattern: string, ignoreCase = false): StringMatch {
  const compare = COMPARE[kind];
  const description = `${kind} ${pattern}${ignoreCase ? ' (ignoring case)' : ''}`;
  if (!ignoreCase) return { matches: (value) => compare(value, pattern), description };
  const lowered = asciiLower(pattern);
  return { matches: (value) => compare(asciiLower(value), lowered), description };
}

/** A `safe_regex` RegexMatcher (`{ regex }`): a full match, as Envoy's. */
export function regexMatch(matcher: unknown, regexes: RegexCache): StringMatch {
  const pattern = isObject(matcher) ? textOf(matcher.regex) : '';
  const regex = regexes.fullMatch(pattern);
  return { matches: (value) => regex.test(value), description: `regex ${pattern}` };
}

/** Compiles a StringMatcher. Throws a ConfigProblem for a matcher Envoy would reject or meshfed cannot evaluate. */
export function compileStringMatcher(matcher: unknown, regexes: RegexCache): StringMatch {
  if (!isObject(matcher)) return fail('string matcher is not an object');
  const ignoreCase = matcher.ignore_case === true;
  for (const kind of ['exact', 'prefix', 'suffix', 'contains'] as const) {
    if (typeof matcher[kind] !== 'string') continue;
    // Envoy's validation: only `exact` may be empty.
    if (kind !== 'exact' && matcher[kind] === '') fail(`empty ${kind}`);
    return comparison(kind, matcher[kind], ignoreCase);
  }
  if (matcher.safe_regex !== undefined) {
    if (ignoreCase) fail('ignore_case has no effect for safe_regex');
    return regexMatch(matcher.safe_regex, regexes);
  }
  if (matcher.custom !== undefined) fail('custom string matchers are not supported');
  return fail('string matcher has no pattern');
}
