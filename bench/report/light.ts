// The light-traffic table: CPU per 20 s of a ping every 200 ms (both daemons,
// schedstat), its ratio to OpenVPN UDP round by round, and the RTT of those
// sparse pings.
import { markdownTable } from 'markdown-table';
import type { LightRecord } from '../light.js';
import { rttStats, type RttStats } from '../measure/ping.js';
import type { BenchResult } from '../results.js';
import { DASH, fmtMs, fmtRatio } from './format.js';
import { median, spread, type Spread } from './stats.js';
import { REFERENCE_TUNNEL } from './summary.js';

export interface LightRow {
  tunnel: string;
  label: string;
  cpuMs: Spread | null;
  /** Median of per-round ratios of CPU to the reference tunnel's. */
  cpuRatio: number | null;
  rtt: RttStats | null;
  /** Median of per-round ratios of average RTT to the reference tunnel's. */
  rttRatio: number | null;
}

function avg(r: LightRecord): number | null {
  return r.samples.rttsMs.length ? r.samples.rttsMs.reduce((a, b) => a + b, 0) / r.samples.rttsMs.length : null;
}

function medianRatio(mine: readonly LightRecord[], ref: readonly LightRecord[], value: (r: LightRecord) => number | null): number | null {
  const ratios: number[] = [];
  for (const r of mine) {
    const other = ref.find((x) => x.round === r.round);
    const a = value(r);
    const b = other ? value(other) : null;
    if (a !== null && b) ratios.push(a / b);
  }
  return ratios.length ? median(ratios) : null;
}

export function lightRows(result: BenchResult): LightRow[] {
  const records = result.light ?? [];
  const ref = records.filter((r) => r.tunnel === REFERENCE_TUNNEL);
  const ids = [...new Set(records.map((r) => r.tunnel))];
  return ids.map((id) => {
    const mine = records.filter((r) => r.tunnel === id);
    return {
      tunnel: id,
      label: result.tunnels.find((t) => t.id === id)?.label ?? id,
      cpuMs: spread(mine.map((r) => r.cpuMs).filter((v): v is number => v !== null)),
      cpuRatio: medianRatio(mine, ref, (r) => r.cpuMs),
      rtt: rttStats(mine.map((r) => r.samples)),
      rttRatio: medianRatio(mine, ref, avg),
    };
  });
}

export function lightTable(rows: readonly LightRow[], seconds: number): string {
  const fmt = (s: Spread | null): string => (s ? (s.n > 1 ? `${s.median.toFixed(0)} (${s.min.toFixed(0)}–${s.max.toFixed(0)})` : s.median.toFixed(0)) : DASH);
  return markdownTable(
    [
      ['Tunnel', `CPU ms per ${seconds} s, both daemons (min–max)`, 'CPU × OpenVPN UDP', 'RTT avg / p99 ms', 'RTT × OpenVPN UDP'],
      ...rows.map((r) => [
        r.label,
        fmt(r.cpuMs),
        r.cpuRatio === null ? DASH : fmtRatio(r.cpuRatio),
        r.rtt ? `${fmtMs(r.rtt.avgMs)} / ${fmtMs(r.rtt.p99Ms)}` : DASH,
        r.rttRatio === null ? DASH : fmtRatio(r.rttRatio),
      ]),
    ],
    { align: ['l', 'r', 'r', 'r', 'r'] },
  );
}

/** The report's section, or '' when the case did not run. */
export function lightSection(result: BenchResult, headingLevel = '##'): string {
  const plan = result.settings.light;
  if (!plan || !result.light?.length) return '';
  return (
    `${headingLevel} Light interactive traffic\n\n` +
    `A ping every ${plan.intervalS * 1000} ms for ${plan.seconds} s through one tunnel at a time (like an interactive ssh session), ${plan.rounds} round(s), order rotated per round; ` +
    `CPU is the on-CPU time of both ends' tunnel processes, all threads (/proc/PID/task/*/schedstat), from the first ping to ${plan.settleS} s after the last; medians, ratios per round.\n\n` +
    lightTable(lightRows(result), plan.seconds)
  );
}
