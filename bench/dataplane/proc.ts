/**
 * CPU time from /proc: utime + stime of a process (all its threads), and of
 * the bench's waited-for children (cutime + cstime of this process), which is
 * how the load generator's CPU is read: h2load and wrk are reaped by this
 * process when they exit, so the delta of cutime + cstime across one run is
 * theirs (the servers are reaped only at the end).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** The fields after "(comm)" of /proc/<pid>/stat: index 0 is field 3 (state). */
function statFields(pid: number | 'self'): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

const ticksToMicros = (ticks: number) => (ticks / CLK_TCK) * 1e6;

/** utime + stime in µs, or NaN if the process is gone. */
export function processCpuMicros(pid: number): number {
  const f = statFields(pid);
  return f ? ticksToMicros(Number(f[11]) + Number(f[12])) : Number.NaN;
}

/** Sum over `pids`: NaN if any is gone. 0 for none. */
export function processesCpuMicros(pids: number[]): number {
  return pids.reduce((sum, pid) => sum + processCpuMicros(pid), 0);
}

/** cutime + cstime of this process: CPU of the children it has waited for, in µs. */
export function reapedChildrenCpuMicros(): number {
  const f = statFields('self');
  return f ? ticksToMicros(Number(f[13]) + Number(f[14])) : Number.NaN;
}

/**
 * CPU time the whole machine spent busy (user, nice, system, irq, softirq,
 * steal: every core, from the first line of /proc/stat), in µs. Minus what the
 * bench's own processes used, it tells how much other work shared the cores
 * during a run.
 */
export function machineBusyMicros(): number {
  try {
    const first = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    const ticks = first.trim().split(/\s+/).slice(1).map(Number);
    const field = (i: number) => ticks[i] ?? 0;
    // user nice system idle iowait irq softirq steal …
    return ticksToMicros(field(0) + field(1) + field(2) + field(5) + field(6) + field(7));
  } catch {
    return Number.NaN;
  }
}
