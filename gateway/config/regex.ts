/**
 * RE2 (what Envoy's `safe_regex` compiles) as JavaScript regular
 * expressions, anchored for a full match as Envoy's RegexMatcher matches.
 *
 * Node has no RE2, so a pattern is translated: RE2-only syntax is rewritten
 * to its JavaScript meaning (`(?P<n>`, `\A`, `\z`, `\Q…\E`, POSIX classes,
 * `\x{…}`, leading `(?i)`/`(?s)`/`(?m)`), and what RE2 rejects is refused
 * (lookaround, backreferences, possessive quantifiers), so a pattern that
 * Envoy would NACK is a problem here as well. `.` and `\s` are spelt out
 * because JavaScript's differ from RE2's (`\r`, Unicode spaces). Refused
 * too, because JavaScript cannot express them without the `u` flag (which
 * changes the meaning of other escapes): `\p{…}` classes, flags after the
 * start, `(?U)`.
 *
 * Unlike RE2, JavaScript backtracks: a pathological pattern can be slow.
 */
import { fail } from './problems.js';

export interface TranslatedRegex {
  readonly source: string;
  readonly flags: string;
}

/** RE2 POSIX classes, as the ASCII ranges RE2 gives them. */
const POSIX_CLASSES: Readonly<Record<string, string>> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7F',
  blank: '\\t ',
  cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-\\/:-@\\[-`{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
};

/** RE2's \s: no \v and no Unicode spaces, unlike JavaScript's. */
const RE2_SPACE = '\\t\\n\\f\\r ';
const RE2_MAX_REPEAT = 1000;

/** Translates an RE2 pattern into a JavaScript one that matches the same strings in full. Throws a ConfigProblem. */
export function translateRe2(pattern: string): TranslatedRegex {
  if (pattern.length === 0) fail('empty regex');
  const { flags, start } = leadingFlags(pattern);
  const body = translateBody(pattern, start, flags);
  // With `m`, ^ and $ match at line breaks; a full match still means the whole text.
  const source = flags.includes('m') ? `(?<![\\s\\S])(?:${body})(?![\\s\\S])` : `^(?:${body})$`;
  return { source, flags: flags.replace('s', '') };
}

/** `(?i)`, `(?s)`, `(?m)` at the very start: the only place JavaScript can take them (as flags). */
function leadingFlags(pattern: string): { flags: string; start: number } {
  let flags = '';
  let start = 0;
  for (let m = /^\(\?([a-zA-Z]+)\)/.exec(pattern); m; m = /^\(\?([a-zA-Z]+)\)/.exec(pattern.slice(start))) {
    for (const flag of m[1]!) {
      if (flag === 'U') fail('ungreedy flag (?U) is not supported');
      if (!'ims'.includes(flag)) fail(`unknown flag (?${flag})`);
      if (!flags.includes(flag)) flags += flag;
    }
    start += m[0].length;
  }
  return { flags, start };
}

function translateBody(pattern: string, start: number, flags: string): string {
  let out = '';
  // Balanced groups matter beyond validity: `a)|(b` would otherwise escape the anchoring wrapper.
  let depth = 0;
  for (let i = start; i < pattern.length; ) {
    const ch = pattern[i]!;
    if (ch === '\\') {
      const escape = translateEscape(pattern, i, false);
      out += escape.js;
      i += escape.length;
    } else if (ch === '[') {
      const cls = translateClass(pattern, i);
      out += cls.js;
      i += cls.length;
    } else if (ch === '(') {
      const group = translateGroupOpening(pattern, i);
      out += group.js;
      i += group.length;
      depth++;
    } else if (ch === ')') {
      if (--depth < 0) fail('unexpected )');
      out += ch;
      i++;
    } else if (ch === '.') {
      out += flags.includes('s') ? '[\\s\\S]' : '[^\\n]';
      i++;
    } else if ('*+?}'.includes(ch) && pattern[i + 1] === '+') {
      fail('possessive quantifiers are not supported by RE2');
    } else if (ch === '{') {
      checkRepeat(pattern, i);
      out += ch;
      i++;
    } else {
      out += ch;
      i++;
    }
  }
  if (depth > 0) fail('missing )');
  return out;
}

function translateGroupOpening(pattern: string, i: number): { js: string; length: number } {
  if (pattern[i + 1] !== '?') return { js: '(', length: 1 };
  const rest = pattern.slice(i + 2);
  if (rest.startsWith('P<')) return { js: '(?<', length: 4 };
  if (rest.startsWith(':')) return { js: '(?:', length: 3 };
  if (/^(=|!|<=|<!)/.test(rest)) fail('lookahead and lookbehind are not supported by RE2');
  if (rest.startsWith('<')) return { js: '(?<', length: 3 };
  if (rest.startsWith('>')) fail('atomic groups are not supported by RE2');
  if (/^[a-zA-Z-]+[:)]/.test(rest)) fail('flags are supported only at the start of the pattern');
  return fail('invalid group syntax (?');
}

/** RE2 rejects repeat counts above 1000; a `{` that is not a repeat is a literal in both. */
function checkRepeat(pattern: string, i: number): void {
  const m = /^\{(\d+)(?:,(\d*))?\}/.exec(pattern.slice(i));
  if (!m) return;
  const counts = [m[1], m[2]].filter((c): c is string => c !== undefined && c !== '').map(Number);
  if (counts.some((c) => c > RE2_MAX_REPEAT)) fail(`repeat count above ${RE2_MAX_REPEAT}`);
}

/** A character class, from its `[` to its `]`. A `]` right after `[` or `[^` is a literal in RE2 (JavaScript would close an empty class). */
function translateClass(pattern: string, start: number): { js: string; length: number } {
  let i = start + 1;
  let js = '[';
  if (pattern[i] === '^') {
    js += '^';
    i++;
  }
  if (pattern[i] === ']') {
    js += '\\]';
    i++;
  }
  while (i < pattern.length) {
    const ch = pattern[i]!;
    if (ch === ']') return { js: js + ']', length: i + 1 - start };
    if (ch === '\\') {
      const escape = translateEscape(pattern, i, true);
      js += escape.js;
      i += escape.length;
    } else if (ch === '[' && pattern[i + 1] === ':') {
      const m = /^\[:(\^?)([a-z]+):\]/.exec(pattern.slice(i));
      if (!m) {
        js += '\\[';
        i++;
        continue;
      }
      const ranges = POSIX_CLASSES[m[2]!];
      if (!ranges) fail(`unknown POSIX class [:${m[2]}:]`);
      if (m[1]) fail(`negated POSIX class [:^${m[2]}:] is not supported`);
      js += ranges;
      i += m[0].length;
    } else {
      js += ch === '[' ? '\\[' : ch;
      i++;
    }
  }
  return fail('missing closing ]');
}

const hex4 = (code: number) => `\\u${code.toString(16).padStart(4, '0')}`;

/** One escape sequence at `i` (the backslash). */
function translateEscape(pattern: string, i: number, inClass: boolean): { js: string; length: number } {
  const next = pattern[i + 1];
  if (next === undefined) fail('trailing backslash');
  if (/[0-7]/.test(next)) {
    // RE2: \0 and \1-\7 followed by another octal digit are octal codes (up to three digits); a lone \1-\9 is a backreference.
    const octal = /^[0-7]{1,3}/.exec(pattern.slice(i + 1))![0];
    if (next !== '0' && octal.length === 1) fail(`backreference \\${next} is not supported by RE2`);
    return { js: hex4(parseInt(octal, 8)), length: 1 + octal.length };
  }
  if (/[89]/.test(next)) fail(`backreference \\${next} is not supported by RE2`);
  switch (next) {
    case 'x':
      return hexEscape(pattern, i);
    case 'Q':
      return quotedLiteral(pattern, i, inClass);
    case 'A':
    case 'z':
      if (inClass) fail(`\\${next} is not allowed in a character class`);
      return { js: next === 'A' ? '(?<![\\s\\S])' : '(?![\\s\\S])', length: 2 };
    case 'b':
    case 'B':
      if (inClass) fail(`\\${next} is not allowed in a character class`);
      return { js: `\\${next}`, length: 2 };
    case 's':
      return { js: inClass ? RE2_SPACE : `[${RE2_SPACE}]`, length: 2 };
    case 'S':
      return { js: inClass ? '\\S' : `[^${RE2_SPACE}]`, length: 2 };
    case 'a':
      return { js: '\\x07', length: 2 };
    case 'd':
    case 'D':
    case 'w':
    case 'W':
    case 'f':
    case 'n':
    case 'r':
    case 't':
    case 'v':
      return { js: `\\${next}`, length: 2 };
    case 'p':
    case 'P':
      return fail('Unicode classes \\p and \\P are not supported');
    default:
      // RE2 lets any punctuation be escaped; letters and digits it does not know are errors.
      if (/[A-Za-z0-9]/.test(next)) fail(`unsupported escape \\${next}`);
      return { js: `\\${next}`, length: 2 };
  }
}

function hexEscape(pattern: string, i: number): { js: string; length: number } {
  const braced = /^\\x\{([0-9A-Fa-f]{1,6})\}/.exec(pattern.slice(i));
  if (braced) {
    const code = parseInt(braced[1]!, 16);
    if (code > 0xffff) fail(`\\x{${braced[1]}} is outside the Basic Multilingual Plane: not supported`);
    return { js: hex4(code), length: braced[0].length };
  }
  const plain = /^\\x([0-9A-Fa-f]{2})/.exec(pattern.slice(i));
  if (!plain) fail('invalid \\x escape');
  return { js: `\\x${plain[1]}`, length: 4 };
}

/** `\Q…\E`: everything in between is literal. */
function quotedLiteral(pattern: string, i: number, inClass: boolean): { js: string; length: number } {
  const end = pattern.indexOf('\\E', i + 2);
  const literal = pattern.slice(i + 2, end === -1 ? pattern.length : end);
  const special = inClass ? /[\\\][^-]/g : /[\\^$.*+?()[\]{}|/]/g;
  return { js: literal.replace(special, '\\$&'), length: (end === -1 ? pattern.length : end + 2) - i };
}

/**
 * Compiled full-match regexes, one per distinct pattern, shared by every
 * resource of a snapshot so each pattern is compiled once per snapshot.
 * A pattern that does not compile is remembered as such.
 */
export class RegexCache {
  private readonly compiled = new Map<string, RegExp | { readonly error: string }>();

  /** The RegExp that tests whether a whole string matches `pattern`. Throws a ConfigProblem for an invalid pattern. */
  fullMatch(pattern: string): RegExp {
    let entry = this.compiled.get(pattern);
    if (!entry) {
      entry = compileFullMatch(pattern);
      this.compiled.set(pattern, entry);
    }
    if (entry instanceof RegExp) return entry;
    return fail(`invalid regex ${JSON.stringify(pattern)}: ${entry.error}`);
  }
}

function compileFullMatch(pattern: string): RegExp | { error: string } {
  try {
    const { source, flags } = translateRe2(pattern);
    return new RegExp(source, flags);
  } catch (error) {
    return { error: (error as Error).message.replace(/^Invalid regular expression: /, '') };
  }
}
