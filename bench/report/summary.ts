// From raw runs to one row per tunnel and loss rate: medians and ranges of
// throughput, pooled ping statistics, CPU per GB, and the ratio to OpenVPN
// UDP. Ratios are taken per round (each tunnel against the reference run
// measured next to it) and then the median, so drift on a shared machine
// cancels instead of landing on whichever tunnel ran during it.
import { rttStats, type RttStats } from '../measure/ping.js';
import type { BenchResult, IperfRecord } from '../results.js';
import type { TunnelInfo } from '../tunnels/types.js';
import { cpuSecondsPerGB } from '../measure/cpu.js';
import { median, spread, type Spread } from './stats.js';

export const REFERENCE_TUNNEL = 'openvpn-udp';

export interface StreamFigures {
  streams: number;
  mbps: Spread | null;
  /** Runs that produced no figure (error, stall, dead tunnel). */
  failed: number;
  /** Median of per-round ratios to the reference tunnel; null without it. */
  ratioToReference: number | null;
}

export interface Row {
  tunnel: TunnelInfo;
  lossRate: number;
  byStreams: StreamFigures[];
  rttIdle: RttStats | null;
  rttLoaded: RttStats | null;
  /** Median over runs of tunnel-process CPU seconds per GB delivered; null for the bare underlay. */
  tunnelCpuPerGB: number | null;
  /** Median over runs of whole-host busy CPU seconds per GB delivered. */
  hostCpuPerGB: number | null;
}

function okMbps(r: IperfRecord): number | null {
  return r.result.ok ? r.result.mbps : null;
}

function medianOrNull(values: Array<number | null>): number | null {
  const v = values.filter((x): x is number => x !== null && Number.isFinite(x));
  return v.length ? median(v) : null;
}

export function summarize(result: BenchResult): Row[] {
  const rows: Row[] = [];
  for (const lossRate of result.settings.lossRates) {
    for (const tunnel of result.tunnels) {
      const runs = result.iperf.filter((r) => r.tunnel === tunnel.id && r.lossRate === lossRate);
      if (runs.length === 0) continue;
      const byStreams = result.settings.streams.map((streams): StreamFigures => {
        const mine = runs.filter((r) => r.streams === streams);
        const values = mine.map(okMbps).filter((v): v is number => v !== null);
        const ref = result.iperf.filter((r) => r.tunnel === REFERENCE_TUNNEL && r.lossRate === lossRate && r.streams === streams);
        const ratios = mine.map((r) => {
          const mbps = okMbps(r);
          const other = ref.find((x) => x.round === r.round);
          const refMbps = other ? okMbps(other) : null;
          return mbps !== null && refMbps ? mbps / refMbps : null;
        });
        return { streams, mbps: spread(values), failed: mine.length - values.length, ratioToReference: medianOrNull(ratios) };
      });
      const pings = result.pings.filter((p) => p.tunnel === tunnel.id && p.lossRate === lossRate);
      rows.push({
        tunnel,
        lossRate,
        byStreams,
        rttIdle: rttStats(pings.filter((p) => p.load === 'idle').map((p) => p.samples)),
        rttLoaded: rttStats(pings.filter((p) => p.load === 'loaded').map((p) => p.samples)),
        tunnelCpuPerGB: medianOrNull(runs.map((r) => (r.result.ok && r.tunnelCpuS !== null ? cpuSecondsPerGB(r.tunnelCpuS, r.result.bytes) : null))),
        hostCpuPerGB: medianOrNull(runs.map((r) => (r.result.ok ? cpuSecondsPerGB(r.hostCpuS, r.result.bytes) : null))),
      });
    }
  }
  return rows;
}

/** The row for a tunnel at a loss rate, if it was measured. */
export function rowFor(rows: readonly Row[], tunnelId: string, lossRate: number): Row | undefined {
  return rows.find((r) => r.tunnel.id === tunnelId && r.lossRate === lossRate);
}

/** Median Mbit/s of a row at a stream count, or null. */
export function mbpsOf(row: Row | undefined, streams = 1): number | null {
  return row?.byStreams.find((s) => s.streams === streams)?.mbps?.median ?? null;
}
