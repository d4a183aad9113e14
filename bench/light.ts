// The light-interactive-traffic case: what an ssh-like trickle costs each
// tunnel in CPU. A ping every 200 ms for 20 s through one tunnel at a time
// (order rotated per round), with the on-CPU time of both ends' daemons,
// every thread, read from schedstat (measure/schedstat.ts) before and after.
// The reading after waits out a short tail, so work a tunnel does because of
// the traffic but after it (sealtun's KeepWarm lingers 1 s) is counted too.
import { sleep } from './exec.js';
import { ping, type PingSamples } from './measure/ping.js';
import { threadDeltasMs, threadTimes, totalMs } from './measure/schedstat.js';
import type { Tunnel } from './tunnels/types.js';

export interface LightPlan {
  rounds: number;
  /** Length of the trickle, seconds. */
  seconds: number;
  /** Ping interval, seconds. */
  intervalS: number;
  /** Quiet time before each measurement and after it, seconds (a spell from earlier traffic ends; this one's tail is counted). */
  settleS: number;
}

export const LIGHT_PLAN: LightPlan = { rounds: 3, seconds: 20, intervalS: 0.2, settleS: 2 };

export interface LightRecord {
  tunnel: string;
  round: number;
  /** On-CPU ms of both ends' daemons (all threads) over the trickle and its tail; null if a process was gone. */
  cpuMs: number | null;
  /** The threads that ran most, for reading where the time went. */
  topThreads: Array<{ thread: string; ms: number }>;
  samples: PingSamples;
}

/** How long the case takes, for the plan's estimate. */
export function lightSeconds(plan: LightPlan, tunnels: number): number {
  return plan.rounds * tunnels * (plan.seconds + 2 * plan.settleS + 0.5);
}

/** Runs the case on `tunnels` from namespace `ns`; `report` gets one line per measurement. */
export async function lightCase(tunnels: readonly Tunnel[], ns: string, plan: LightPlan, report: (line: string) => void): Promise<LightRecord[]> {
  const out: LightRecord[] = [];
  const count = Math.round(plan.seconds / plan.intervalS);
  for (let round = 1; round <= plan.rounds; round++) {
    const shift = (round - 1) % tunnels.length;
    for (const t of [...tunnels.slice(shift), ...tunnels.slice(0, shift)]) {
      if (!t.alive()) continue;
      await sleep(plan.settleS * 1000);
      const before = threadTimes(t.pids());
      const samples = await ping(ns, t.target, { count, intervalS: plan.intervalS, deadlineS: plan.seconds + 3 });
      await sleep(plan.settleS * 1000);
      const after = threadTimes(t.pids());
      const deltas = before && after ? threadDeltasMs(before, after) : null;
      const rec: LightRecord = { tunnel: t.id, round, cpuMs: deltas ? totalMs(deltas) : null, topThreads: deltas?.slice(0, 6) ?? [], samples };
      out.push(rec);
      const avg = samples.rttsMs.length ? samples.rttsMs.reduce((a, b) => a + b, 0) / samples.rttsMs.length : NaN;
      report(`light traffic · round ${round}/${plan.rounds} · ${t.id.padEnd(24)} | CPU ${rec.cpuMs === null ? '—' : rec.cpuMs.toFixed(1)} ms, RTT ${avg.toFixed(3)} ms avg, ${samples.received}/${samples.sent} replies`);
    }
  }
  return out;
}
