/**
 * Loaded into a gateway process by the dataplane bench when it profiles
 * (`node --import tsx --import bench/dataplane/profile-hook.ts cli/meshfed.ts gateway …`,
 * with $BENCH_PROFILE_PREFIX = <dir>/<role>):
 *
 * - on the first SIGUSR2 (the bench sends it just before it first measures
 *   the target), starts V8's CPU profiler, so start-up is left out;
 * - at exit, stops it and writes `<prefix>.cpuprofile`, and the source maps
 *   of the meshfed modules the process loaded to `<prefix>.sourcemaps.json`,
 *   so ./profile.ts can turn positions in tsx's generated JavaScript into
 *   TypeScript file:line.
 *
 * Does nothing else; without the variable, nothing at all. (The inspector
 * session is the process's own: `post` runs synchronously, so the exit
 * handler can use it.)
 */
import { readdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { findSourceMap } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const prefix = process.env.BENCH_PROFILE_PREFIX;
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FOLDERS = ['gateway', 'core', 'cli'];

function typeScriptFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return typeScriptFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

function writeSourceMaps(file: string): void {
  const maps: Record<string, unknown> = {};
  for (const path of FOLDERS.flatMap((folder) => typeScriptFiles(join(ROOT, folder)))) {
    const url = pathToFileURL(path).href;
    const map = findSourceMap(url);
    if (map) maps[url] = map.payload;
  }
  writeFileSync(file, JSON.stringify(maps));
}

if (prefix) {
  const session = new Session();
  session.connect();
  let profiling = false;
  process.on('SIGUSR2', () => {
    if (profiling) return;
    profiling = true;
    session.post('Profiler.enable');
    session.post('Profiler.start');
  });
  process.once('exit', () => {
    if (!profiling) return;
    session.post('Profiler.stop', (error, result) => {
      if (error) {
        console.error(`profile-hook: Profiler.stop: ${error.message}`);
        return;
      }
      writeFileSync(`${prefix}.cpuprofile`, JSON.stringify(result.profile));
    });
    writeSourceMaps(`${prefix}.sourcemaps.json`);
  });
}
