/**
 * Kubernetes label selectors: `a=b`, `a==b`, `a!=b`, `a`, `!a`, `a in (x,y)`, `a notin (x,y)`,
 * comma-separated and all required.
 */
export type Requirement =
  | { key: string; op: 'eq' | 'neq'; value: string }
  | { key: string; op: 'in' | 'notin'; values: string[] }
  | { key: string; op: 'exists' | 'notexists' };

const KEY = String.raw`[A-Za-z0-9][-A-Za-z0-9_./]*`;
const VALUE = String.raw`[A-Za-z0-9_.-]*`;
const EQUALITY = new RegExp(String.raw`^(${KEY})\s*(==|=|!=)\s*(${VALUE})$`);
// The value list is split by hand: a nested, optional pattern here would backtrack exponentially on bad input.
const SET = new RegExp(String.raw`^(${KEY})\s+(in|notin)\s*\(([^()]*)\)$`);
const SINGLE_VALUE = new RegExp(String.raw`^${VALUE}$`);
const EXISTS = new RegExp(String.raw`^(!?)\s*(${KEY})$`);

export function parseLabelSelector(text: string): Requirement[] | { error: string } {
  const requirements: Requirement[] = [];
  for (const raw of splitTopLevel(text)) {
    const part = raw.trim();
    if (!part) return { error: 'empty requirement' };
    let m: RegExpExecArray | null;
    if ((m = SET.exec(part))) {
      const values = m[3]!.split(',').map((v) => v.trim());
      if (!values.every((v) => SINGLE_VALUE.test(v))) return { error: `cannot parse requirement "${part}"` };
      requirements.push({ key: m[1]!, op: m[2] as 'in' | 'notin', values });
    } else if ((m = EQUALITY.exec(part))) {
      requirements.push({ key: m[1]!, op: m[2] === '!=' ? 'neq' : 'eq', value: m[3]! });
    } else if ((m = EXISTS.exec(part))) {
      requirements.push({ key: m[2]!, op: m[1] ? 'notexists' : 'exists' });
    } else {
      return { error: `cannot parse requirement "${part}"` };
    }
  }
  return requirements;
}

// Commas inside "in (a,b)" do not separate requirements.
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return parts;
}

export function matchesLabels(requirements: Requirement[], labels: Record<string, string>): boolean {
  return requirements.every((r) => {
    const has = Object.hasOwn(labels, r.key);
    const value = labels[r.key];
    switch (r.op) {
      case 'eq': return has && value === r.value;
      case 'neq': return !has || value !== r.value;
      case 'in': return has && r.values.includes(value!);
      case 'notin': return !has || !r.values.includes(value!);
      case 'exists': return has;
      case 'notexists': return !has;
    }
  });
}
