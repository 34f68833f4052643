import { stringify } from 'yaml';

export type OutputFormat = 'table' | 'json' | 'yaml';
export const OUTPUT_FORMATS: OutputFormat[] = ['table', 'json', 'yaml'];

export interface Column<T> {
  header: string;
  value: (item: T) => string;
}

/** A kubectl-style table: upper-case headers, columns padded to their widest cell. */
export function renderTable<T>(items: T[], columns: Column<T>[]): string {
  const rows = [columns.map((c) => c.header), ...items.map((item) => columns.map((c) => c.value(item)))];
  const widths = columns.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]! + 3))).join('').trimEnd()).join('\n');
}

/** Lists print as multi-document YAML, so `get -o yaml > f && apply -f f` round-trips. */
export function renderDocuments(items: unknown[], format: 'json' | 'yaml', single: boolean): string {
  if (format === 'json') return JSON.stringify(single ? items[0] : { items }, null, 2);
  return items.map((item) => stringify(item).trimEnd()).join('\n---\n');
}

export function age(timestamp: string | null | undefined, now = Date.now()): string {
  if (!timestamp) return '-';
  const seconds = Math.max(0, Math.floor((now - Date.parse(timestamp)) / 1000));
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 172800) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
}

export function formatLabels(labels: Record<string, string> | undefined): string {
  const entries = Object.entries(labels ?? {});
  return entries.length ? entries.map(([k, v]) => `${k}=${v}`).join(',') : '<none>';
}
