/**
 * Checks that a pattern is valid RE2, the syntax Envoy compiles. There is no
 * RE2 in plain Node, so this rejects what RE2 lacks (lookaround, backreferences,
 * atomic groups, possessive quantifiers), rewrites RE2-only syntax into its
 * JavaScript equivalent, and lets JavaScript judge the rest of the grammar.
 * Returns an error message, or undefined when the pattern is valid.
 */
export function re2SyntaxError(pattern: string): string | undefined {
  let js = '';
  let unicode = false;
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '\\') {
      const next = pattern[i + 1];
      if (next === undefined) return 'trailing backslash';
      if (/[1-9]/.test(next)) return `backreference \\${next} is not supported by RE2`;
      if (next === 'k' && pattern[i + 2] === '<') return 'named backreference \\k<…> is not supported by RE2';
      if (next === 'A') js += '^';
      else if (next === 'z') js += '$';
      else if ((next === 'p' || next === 'P') && /[A-Za-z]/.test(pattern[i + 2] ?? '') && pattern[i + 2] !== '{') {
        js += `\\${next}{${pattern[i + 2]}}`;
        unicode = true;
        i++;
      } else {
        if (next === 'p' || next === 'P') unicode = true;
        js += ch + next;
      }
      i++;
      continue;
    }
    if (ch === '[') {
      const end = classEnd(pattern, i);
      if (end === -1) return 'missing closing ]';
      js += pattern.slice(i, end + 1);
      i = end;
      continue;
    }
    if (ch === '(' && pattern[i + 1] === '?') {
      const rest = pattern.slice(i + 2);
      if (/^(=|!|<=|<!)/.test(rest)) return 'lookahead and lookbehind are not supported by RE2';
      if (rest.startsWith('>')) return 'atomic groups are not supported by RE2';
      if (rest.startsWith('P<')) {
        js += '(?<';
        i += 3;
        continue;
      }
      const flags = /^([imsU]*)(?:-([imsU]*))?([:)])/.exec(rest);
      if (flags && (flags[1] || flags[2])) {
        // Inline flags: valid RE2; JavaScript has no equivalent, and they do not change validity.
        js += flags[3] === ':' ? '(?:' : '';
        i += 1 + flags[0].length;
        continue;
      }
    }
    if ((ch === '+' || ch === '*' || ch === '?' || ch === '}') && pattern[i + 1] === '+') {
      return 'possessive quantifiers are not supported by RE2';
    }
    js += ch;
  }
  try {
    new RegExp(js, unicode ? 'u' : '');
    return undefined;
  } catch (error) {
    return (error as Error).message.replace(/^Invalid regular expression: /, '');
  }
}

/** Index of the ] that closes the class opened at `start` ("[]a]" and "[^]a]" start with a literal ]). */
function classEnd(pattern: string, start: number): number {
  let i = start + 1;
  if (pattern[i] === '^') i++;
  if (pattern[i] === ']') i++;
  for (; i < pattern.length; i++) {
    if (pattern[i] === '\\') i++;
    else if (pattern[i] === ']') return i;
  }
  return -1;
}
