// One Markdown table per loss rate: rows are tunnel × transport, columns the
// figures users choose a transport by.
import { markdownTable } from 'markdown-table';
import type { RttStats } from '../measure/ping.js';
import type { Software } from '../tunnels/types.js';
import { DASH, fmtCpu, fmtLoss, fmtMbps, fmtMs, fmtRatio } from './format.js';
import type { Row, StreamFigures } from './summary.js';

const SOFTWARE_NAME: Record<Software, string> = {
  sealtun: 'sealtun',
  openvpn: 'OpenVPN',
  'wireguard-go': 'wireguard-go',
  underlay: 'underlay (no tunnel)',
};

function throughput(f: StreamFigures | undefined): string {
  if (!f) return DASH;
  const failed = f.failed ? ` (${f.failed} failed)` : '';
  if (!f.mbps) return f.failed ? `failed ×${f.failed}` : DASH;
  const { median, min, max, n } = f.mbps;
  return n > 1 ? `${fmtMbps(median)} (${fmtMbps(min)}–${fmtMbps(max)})${failed}` : `${fmtMbps(median)}${failed}`;
}

function rtt(s: RttStats | null): string {
  return s ? `${fmtMs(s.avgMs)} / ${fmtMs(s.p99Ms)}` : DASH;
}

function ratio(row: Row, streams: readonly number[]): string {
  const parts = streams.map((n) => row.byStreams.find((f) => f.streams === n)?.ratioToReference ?? null);
  return parts.every((p) => p === null) ? DASH : parts.map((p) => (p === null ? DASH : fmtRatio(p))).join(' / ');
}

export const TABLE_HEADER = [
  'Tunnel',
  'Transport',
  'Mbit/s 1 stream (min–max)',
  'Mbit/s 4 streams (min–max)',
  'RTT idle avg / p99 ms',
  'RTT loaded avg / p99 ms',
  'CPU s/GB tunnel',
  'CPU s/GB host',
  '× OpenVPN UDP',
];

/** The table for one loss rate; `streams` are the stream counts measured in this run. */
export function lossTable(rows: readonly Row[], lossRate: number, streams: readonly number[]): string {
  const body = rows
    .filter((r) => r.lossRate === lossRate)
    .map((r) => [
      SOFTWARE_NAME[r.tunnel.software] + (r.tunnel.tableNote ? ` (${r.tunnel.tableNote})` : ''),
      r.tunnel.transport === 'none' ? DASH : r.tunnel.transport.toUpperCase(),
      throughput(r.byStreams.find((f) => f.streams === 1)),
      throughput(r.byStreams.find((f) => f.streams === 4)),
      rtt(r.rttIdle),
      rtt(r.rttLoaded),
      r.tunnelCpuPerGB === null ? DASH : fmtCpu(r.tunnelCpuPerGB),
      r.hostCpuPerGB === null ? DASH : fmtCpu(r.hostCpuPerGB),
      ratio(r, streams),
    ]);
  return markdownTable([TABLE_HEADER, ...body], { align: ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'] });
}

export function lossHeading(lossRate: number): string {
  return `${fmtLoss(lossRate)} underlay loss`;
}
