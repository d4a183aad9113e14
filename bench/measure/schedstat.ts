// On-CPU time of processes, exact: /proc/PID/task/TID/schedstat's first field
// is the nanoseconds the thread ran. utime/stime (cpu.ts) are sampled at the
// scheduler tick (250 Hz here) and charge a whole tick to a thread that was
// running when it fired, so a thread that wakes every millisecond for a few
// microseconds is overcharged many times; for light traffic, where each
// wake-up is short, only schedstat tells the truth. Summing the threads that
// exist at each reading misses a thread that ran and exited in between; the
// daemons' threads live as long as the tunnel.
import { readdirSync, readFileSync } from 'node:fs';

/** One thread's on-CPU nanoseconds, keyed "PID/TID name". */
export type ThreadTimes = Map<string, number>;

/** The first field of a schedstat line (time on the CPU, ns). */
export function parseSchedstat(text: string): number {
  const ns = Number(text.trim().split(/\s+/)[0]);
  if (!Number.isFinite(ns)) throw new Error(`unexpected schedstat line: ${JSON.stringify(text)}`);
  return ns;
}

/** On-CPU ns of every thread of `pids` now; null when a process is gone. */
export function threadTimes(pids: readonly number[]): ThreadTimes | null {
  const out: ThreadTimes = new Map();
  for (const pid of pids) {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      return null;
    }
    for (const tid of tids) {
      try {
        const ns = parseSchedstat(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8'));
        const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
        out.set(`${pid}/${tid} ${name}`, ns);
      } catch {
        /* the thread ended between the listing and the read */
      }
    }
  }
  return out;
}

/** Per-thread ms between two readings (threads that appeared count from 0), largest first. */
export function threadDeltasMs(before: ThreadTimes, after: ThreadTimes): Array<{ thread: string; ms: number }> {
  return [...after]
    .map(([thread, ns]) => ({ thread, ms: (ns - (before.get(thread) ?? 0)) / 1e6 }))
    .sort((a, b) => b.ms - a.ms);
}

/** Total ms between two readings. */
export function totalMs(deltas: ReadonlyArray<{ ms: number }>): number {
  return deltas.reduce((s, d) => s + d.ms, 0);
}
