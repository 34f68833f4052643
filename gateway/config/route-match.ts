/**
 * RouteMatch → a predicate on the request (Envoy's route entry matching):
 * the path specifier, `case_sensitive`, the header matchers and gRPC. A
 * criterion meshfed cannot evaluate (query parameters, runtime fractions,
 * TLS context, metadata) is a problem, not ignored: ignoring it would make
 * the route match requests it was meant to leave to the next one.
 */
import { isObject, objectsIn, textOf } from '../xds/resources.js';
import type { RequestFacts } from './model.js';
import { fail, within } from './problems.js';
import type { RegexCache } from './regex.js';
import { asciiLower, comparison, compileStringMatcher, regexMatch, type StringMatch } from './string-matcher.js';
import { setFields, wrappedBool } from './values.js';

export type RequestPredicate = (request: RequestFacts) => boolean;

/**
 * A header's value, pseudo-headers included: the runtime may not list
 * `:method` or `:path` among an HTTP/1.1 request's headers, yet Envoy's
 * matchers see them (it keeps HTTP/1.1 requests in HTTP/2 form).
 */
export function headerValue(request: RequestFacts, name: string): string | undefined {
  const value = request.header(name);
  if (value !== undefined) return value;
  if (name === ':method') return request.method;
  if (name === ':path') return request.path;
  if (name === ':authority') return request.authority || undefined;
  return undefined;
}

/** The path without query string and fragment: what `path`, `safe_regex` and `path_separated_prefix` compare (Envoy strips both). */
export function pathOnly(path: string): string {
  const end = path.search(/[?#]/);
  return end === -1 ? path : path.slice(0, end);
}

const UNSUPPORTED_MATCH_FIELDS = ['query_parameters', 'runtime_fraction', 'tls_context', 'dynamic_metadata', 'filter_state', 'connect_matcher', 'path_match_policy'];

/** Compiles a RouteMatch. Throws a ConfigProblem. */
export function compileRouteMatch(match: unknown, regexes: RegexCache): RequestPredicate {
  if (!isObject(match)) return fail('route has no match');
  const unsupported = setFields(match, UNSUPPORTED_MATCH_FIELDS);
  if (unsupported.length) fail(`unsupported match ${unsupported.join(', ')}`);
  const path = compilePathSpecifier(match, regexes);
  const headers = objectsIn(match.headers).map((header, i) => within(`header ${textOf(header.name) || `#${i}`}`, () => compileHeaderMatcher(header, regexes)));
  const grpc = match.grpc !== undefined ? isGrpcRequest : undefined;
  return (request) => path(request.path) && headers.every((h) => h(request)) && (grpc === undefined || grpc(request));
}

/** prefix (on the whole :path, query included, as Envoy), path, safe_regex, path_separated_prefix. */
function compilePathSpecifier(match: Record<string, unknown>, regexes: RegexCache): (path: string) => boolean {
  // case_sensitive covers prefix and path (and path_separated_prefix); Envoy ignores it for safe_regex.
  const ignoreCase = wrappedBool(match.case_sensitive) === false;
  if (typeof match.prefix === 'string') {
    const prefix = comparison('prefix', match.prefix, ignoreCase);
    return (path) => prefix.matches(path);
  }
  if (typeof match.path === 'string') {
    const exact = comparison('exact', match.path, ignoreCase);
    return (path) => exact.matches(pathOnly(path));
  }
  if (match.safe_regex !== undefined) {
    const regex = within('safe_regex', () => regexMatch(match.safe_regex, regexes));
    return (path) => regex.matches(pathOnly(path));
  }
  if (typeof match.path_separated_prefix === 'string') {
    const prefix = ignoreCase ? asciiLower(match.path_separated_prefix) : match.path_separated_prefix;
    return (path) => {
      const p = ignoreCase ? asciiLower(pathOnly(path)) : pathOnly(path);
      return p === prefix || p.startsWith(`${prefix}/`);
    };
  }
  return fail('route match has no path specifier');
}

/** Envoy's Grpc::Common::hasGrpcContentType: `application/grpc`, or it followed by `+…` or `;…`. */
function isGrpcRequest(request: RequestFacts): boolean {
  const contentType = headerValue(request, 'content-type') ?? '';
  if (!contentType.startsWith('application/grpc')) return false;
  return contentType.length === 16 || contentType[16] === '+' || contentType[16] === ';';
}

/** What a header matcher checks of a present value. */
type ValueCheck = { readonly kind: 'present'; readonly present: boolean } | { readonly kind: 'value'; readonly match: StringMatch };

/**
 * A HeaderMatcher, with Envoy's semantics (HeaderUtility::matchHeaders):
 * - an absent header (and no treat_missing_header_as_empty) matches only
 *   `present_match: false`, or `present_match: true` inverted; every value
 *   matcher fails on it, inverted or not;
 * - a present header's result is flipped by invert_match;
 * - no specifier at all means presence;
 * - the legacy `exact_match: ""` matches any value.
 */
export function compileHeaderMatcher(header: Record<string, unknown>, regexes: RegexCache): RequestPredicate {
  const name = asciiLower(textOf(header.name));
  if (!name) fail('header matcher has no name');
  const check = compileValueCheck(header, regexes);
  const invert = header.invert_match === true;
  const missingAsEmpty = header.treat_missing_header_as_empty === true;
  return (request) => {
    let value = headerValue(request, name);
    if (value === undefined && missingAsEmpty) value = '';
    if (value === undefined) return check.kind === 'present' && check.present === invert;
    const matched = check.kind === 'present' ? check.present : check.match.matches(value);
    return matched !== invert;
  };
}

function compileValueCheck(header: Record<string, unknown>, regexes: RegexCache): ValueCheck {
  if (typeof header.exact_match === 'string') {
    const exact = header.exact_match;
    return { kind: 'value', match: exact === '' ? { matches: () => true, description: 'any value' } : comparison('exact', exact) };
  }
  for (const [field, kind] of [['prefix_match', 'prefix'], ['suffix_match', 'suffix'], ['contains_match', 'contains']] as const) {
    if (typeof header[field] !== 'string') continue;
    if (header[field] === '') fail(`empty ${field}`);
    return { kind: 'value', match: comparison(kind, header[field]) };
  }
  if (header.safe_regex_match !== undefined) return { kind: 'value', match: within('safe_regex_match', () => regexMatch(header.safe_regex_match, regexes)) };
  if (header.string_match !== undefined) return { kind: 'value', match: within('string_match', () => compileStringMatcher(header.string_match, regexes)) };
  if (header.range_match !== undefined) return { kind: 'value', match: rangeMatch(header.range_match) };
  if (header.present_match !== undefined) return { kind: 'present', present: header.present_match === true };
  return { kind: 'present', present: true };
}

/** `range_match` [start, end): the value must be a whole number (int64, so BigInt). */
function rangeMatch(range: unknown): StringMatch {
  const bound = (v: unknown): bigint => {
    if (v === undefined) return 0n;
    if ((typeof v === 'string' && /^-?\d+$/.test(v)) || (typeof v === 'number' && Number.isSafeInteger(v))) return BigInt(v);
    return fail('range_match: bounds must be integers');
  };
  const start = isObject(range) ? bound(range.start) : 0n;
  const end = isObject(range) ? bound(range.end) : 0n;
  return {
    matches: (value) => /^[+-]?\d{1,19}$/.test(value.trim()) && BigInt(value.trim()) >= start && BigInt(value.trim()) < end,
    description: `range [${start}, ${end})`,
  };
}
