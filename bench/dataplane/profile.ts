/**
 * `--profile <dir>`: where a Node proxy's CPU goes. Each gateway runs with
 * ./profile-hook.ts, which profiles it from just before the measurements
 * until it exits (V8's sampling profiler, 1 ms) and writes the profile and the
 * source maps of the meshfed modules it loaded, so positions in tsx's
 * generated JavaScript become TypeScript file:line here.
 *
 * Per profile, over the samples that are not idle:
 * - self: where the CPU was when sampled (native and Node internals included);
 * - inclusive: samples with the function anywhere on the stack (once per sample, recursion or not),
 *   shown for every function and for meshfed's own;
 * - meshfed-attributed: each sample charged to the innermost frame in meshfed's
 *   own code (gateway/, core/, cli/), so the Node internals a function calls count
 *   for it: what a change in that function could save.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { SourceMap, type SourceMapPayload } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmt } from './report.js';

export interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number }; children?: number[] }>;
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface FunctionCost {
  /** "name (file:line)" */
  label: string;
  /** meshfed's own code (gateway/, core/, cli/) */
  own: boolean;
  micros: number;
}

export interface ProfileSummary {
  /** µs sampled, idle excluded */
  busyMicros: number;
  idleMicros: number;
  self: FunctionCost[];
  inclusive: FunctionCost[];
  attributed: FunctionCost[];
}

// dist/… when the built gateway is profiled.
const OWN = /^(dist\/)?(gateway|core|cli)\//;

/** Summarizes one profile; `maps` are source map payloads by module URL; paths are shown relative to `root`. Pure. */
export function summarizeProfile(profile: CpuProfile, maps: Record<string, SourceMapPayload>, root: string): ProfileSummary {
  const sourceMaps = new Map<string, SourceMap>();
  const mapFor = (url: string) => {
    if (!maps[url]) return undefined;
    let map = sourceMaps.get(url);
    if (!map) sourceMaps.set(url, (map = new SourceMap(maps[url])));
    return map;
  };
  const parent = new Map<number, number>();
  const frames = new Map<number, { key: string; own: boolean; idle: boolean }>();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parent.set(child, node.id);
    const { functionName, url, lineNumber, columnNumber } = node.callFrame;
    let file = url;
    let line = lineNumber + 1;
    const map = url.startsWith('file:') ? mapFor(url) : undefined;
    if (map) {
      const entry = map.findEntry(lineNumber, columnNumber) as { originalSource?: string; originalLine?: number };
      if (entry.originalSource) {
        file = entry.originalSource;
        line = (entry.originalLine ?? 0) + 1;
      }
    }
    if (file.startsWith('file:')) file = relative(root, fileURLToPath(file));
    const name = functionName || '(anonymous)';
    frames.set(node.id, { key: file ? `${name} (${file}:${line})` : name, own: OWN.test(file), idle: functionName === '(idle)' });
  }
  const self = new Map<string, FunctionCost>();
  const inclusive = new Map<string, FunctionCost>();
  const attributed = new Map<string, FunctionCost>();
  const add = (table: Map<string, FunctionCost>, key: string, own: boolean, micros: number) => {
    const entry = table.get(key) ?? { label: key, own, micros: 0 };
    entry.micros += micros;
    table.set(key, entry);
  };
  let busyMicros = 0;
  let idleMicros = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const micros = profile.timeDeltas[i + 1] ?? 0; // a sample's time is the gap to the next one
    const leaf = frames.get(profile.samples[i]!)!;
    if (leaf.idle) {
      idleMicros += micros;
      continue;
    }
    busyMicros += micros;
    add(self, leaf.key, leaf.own, micros);
    const seen = new Set<string>();
    let innermostOwn: { key: string } | undefined;
    for (let id: number | undefined = profile.samples[i]; id !== undefined; id = parent.get(id)) {
      const frame = frames.get(id)!;
      if (frame.key === '(root)') continue;
      if (!seen.has(frame.key)) {
        seen.add(frame.key);
        add(inclusive, frame.key, frame.own, micros);
      }
      if (frame.own && !innermostOwn) innermostOwn = frame;
    }
    add(attributed, innermostOwn?.key ?? '(no meshfed frame on the stack)', Boolean(innermostOwn), micros);
  }
  const top = (table: Map<string, FunctionCost>) => [...table.values()].sort((a, b) => b.micros - a.micros);
  return { busyMicros, idleMicros, self: top(self), inclusive: top(inclusive), attributed: top(attributed) };
}

/** Markdown for every profile in `dir` (`<role>.cpuprofile` + `<role>.sourcemaps.json`), `count` rows per table. */
export function profileReport(dir: string, root: string, count = 12): string[] {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort();
  } catch (error) {
    return ['', `Profiles: cannot read ${dir}: ${(error as Error).message}`];
  }
  if (!files.length) return ['', `Profiles: none written to ${dir} (a gateway killed with SIGKILL writes none)`];
  const out = ['', `**Profiles** (V8 CPU profiler from the first measurement to the gateway's exit, ${dir}) — the measured figures above are inflated by the profiler`];
  for (const file of files) {
    const role = file.replace(/\.cpuprofile$/, '');
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
    let maps: Record<string, SourceMapPayload> = {};
    try {
      maps = JSON.parse(readFileSync(join(dir, `${role}.sourcemaps.json`), 'utf8')) as Record<string, SourceMapPayload>;
    } catch {
      out.push('', `(${role}: no source maps; positions are tsx's generated JavaScript)`);
    }
    const summary = summarizeProfile(profile, maps, root);
    const pct = (micros: number) => `${fmt((100 * micros) / summary.busyMicros, 1)} %`;
    const table = (title: string, rows: FunctionCost[]) => [
      '',
      `${title}`,
      '',
      '| % of busy | ms | function (file:line) |',
      '|---:|---:|---|',
      ...rows.slice(0, count).map((r) => `| ${pct(r.micros)} | ${fmt(r.micros / 1000)} | ${r.label.replace(/\|/g, '\\|')} |`),
    ];
    out.push(
      '',
      `*${role}*: busy ${fmt(summary.busyMicros / 1e6, 1)} s, idle ${fmt(summary.idleMicros / 1e6, 1)} s`,
      ...table('self (where the CPU was)', summary.self),
      ...table('inclusive, every function (Node internals show which machinery the time goes through)', summary.inclusive),
      ...table('inclusive, meshfed code only (gateway/, core/, cli/)', summary.inclusive.filter((r) => r.own)),
      ...table('attributed to the innermost meshfed frame (what it and the Node internals it calls cost)', summary.attributed),
    );
  }
  return out;
}
