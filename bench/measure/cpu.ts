// CPU cost from /proc: utime+stime of the tunnel processes (all their threads;
// the per-process stat sums them), and the whole host's busy time from
// /proc/stat, which also catches kernel work (softirq, TUN, veth) that no
// process is charged for.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let clockTicks: number | undefined;

/** USER_HZ, the unit of /proc times (almost always 100). */
export function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** utime + stime ticks from the text of /proc/PID/stat (the name field may contain spaces and parens). */
export function parseProcStatTicks(text: string): number {
  const fields = text.slice(text.lastIndexOf(')') + 2).trim().split(/\s+/);
  // After the name: state is field 3; utime and stime are fields 14 and 15.
  const utime = Number(fields[14 - 3]);
  const stime = Number(fields[15 - 3]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error('unexpected /proc/PID/stat format');
  return utime + stime;
}

/** Busy ticks from the aggregate `cpu` line of /proc/stat: everything but idle, iowait and steal. */
export function parseHostStatTicks(text: string): number {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) throw new Error('no cpu line in /proc/stat');
  const [user, nice, system, , , irq, softirq] = line.trim().split(/\s+/).slice(1).map(Number);
  return user! + nice! + system! + irq! + softirq!;
}

/** CPU seconds used so far by all `pids` together; null if one of them is gone. */
export function processCpuSeconds(pids: readonly number[]): number | null {
  let ticks = 0;
  for (const pid of pids) {
    try {
      ticks += parseProcStatTicks(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return null;
    }
  }
  return ticks / ticksPerSecond();
}

export function hostCpuSeconds(): number {
  return parseHostStatTicks(readFileSync('/proc/stat', 'utf8')) / ticksPerSecond();
}

/** Seconds of CPU per GB (10^9 bytes) of payload moved. */
export function cpuSecondsPerGB(cpuSeconds: number, bytes: number): number | null {
  return bytes > 0 ? cpuSeconds / (bytes / 1e9) : null;
}
