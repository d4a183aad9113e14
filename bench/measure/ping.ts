// Round-trip latency through a tunnel with iputils ping. Per-reply lines are
// kept (not just ping's summary) because the report needs p99, and samples
// from several rounds are pooled before the statistics are taken.
import { run, sleep } from '../exec.js';
import { mean, percentile } from '../report/stats.js';

export interface PingSamples {
  sent: number;
  received: number;
  /** One RTT per reply, in ms, duplicates excluded. */
  rttsMs: number[];
}

export interface RttStats {
  samples: number;
  avgMs: number;
  p99Ms: number;
  /** Share of echo requests without a reply, 0..1. */
  lossRate: number;
}

const REPLY = /^\d+ bytes from [^:]+: icmp_seq=\d+ .*time=([\d.]+) ms(.*)$/;
const SUMMARY = /^(\d+) packets transmitted, (\d+) received/;

/** Parses iputils ping output (per-reply lines and the summary line). */
export function parsePing(text: string): PingSamples {
  const rttsMs: number[] = [];
  let sent = 0;
  let received = 0;
  for (const line of text.split('\n')) {
    const reply = REPLY.exec(line.trim());
    if (reply) {
      if (!reply[2]!.includes('DUP!')) rttsMs.push(Number(reply[1]));
      continue;
    }
    const summary = SUMMARY.exec(line.trim());
    if (summary) {
      sent = Number(summary[1]);
      received = Number(summary[2]);
    }
  }
  // Without a summary (ping killed hard) the replies are still valid samples.
  if (sent === 0) sent = received = rttsMs.length;
  return { sent, received, rttsMs };
}

/** Pools several ping runs into avg, p99 and loss; null when nothing came back. */
export function rttStats(runs: readonly PingSamples[]): RttStats | null {
  const all = runs.flatMap((r) => r.rttsMs);
  const sent = runs.reduce((s, r) => s + r.sent, 0);
  const received = runs.reduce((s, r) => s + r.received, 0);
  if (all.length === 0) return null;
  return { samples: all.length, avgMs: mean(all), p99Ms: percentile(all, 0.99), lossRate: sent > 0 ? 1 - received / sent : 0 };
}

export interface PingOptions {
  count: number;
  intervalS: number;
  /** Hard limit on the whole run, seconds. */
  deadlineS: number;
}

/** Pings `target` from namespace `ns`; a failed ping yields what it got (possibly nothing). */
export async function ping(ns: string, target: string, opts: PingOptions): Promise<PingSamples> {
  const r = await run(['ping', '-n', '-c', String(opts.count), '-i', String(opts.intervalS), '-W', '1', '-w', String(Math.ceil(opts.deadlineS)), target], {
    ns,
    timeoutMs: (opts.deadlineS + 5) * 1000,
  });
  return parsePing(r.stdout);
}

/** Waits until one ping from `ns` reaches `target` (a tunnel is up when traffic passes). */
export async function waitReachable(ns: string, target: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await run(['ping', '-n', '-c', '1', '-W', '1', target], { ns, timeoutMs: 5000 });
    if (r.code === 0) return;
    if (Date.now() > deadline) throw new Error(`${target} not reachable from ${ns} within ${timeoutMs} ms`);
    await sleep(100);
  }
}
