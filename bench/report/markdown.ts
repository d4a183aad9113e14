// bench/results/<timestamp>.md: what was measured on what, the verdict, one
// table per loss rate, the chart, and anything that went wrong.
import { markdownTable } from 'markdown-table';
import { formatDuration } from '../matrix.js';
import type { BenchResult } from '../results.js';
import { fmtLoss } from './format.js';
import type { Row } from './summary.js';
import { lightSection } from './light.js';
import { severalPeersSection } from './several-peers.js';
import { lossHeading, lossTable } from './table.js';
import { verdict } from './verdict.js';

/** The verdict bullets and the per-loss tables: the part the README quotes. */
export function resultsSection(result: BenchResult, rows: readonly Row[], headingLevel = '##'): string {
  const parts: string[] = [];
  if (result.iperf.length) parts.push(`${headingLevel} Verdict\n\n${verdict(rows, result.settings.lossRates, result.settings.outerCongestionControl).map((v) => `- ${v}`).join('\n')}`);
  for (const loss of result.iperf.length ? result.settings.lossRates : []) {
    parts.push(`${headingLevel} ${lossHeading(loss)}\n\n${lossTable(rows, loss, result.settings.streams)}`);
  }
  const light = lightSection(result, headingLevel);
  if (light) parts.push(light);
  const peers = severalPeersSection(result, headingLevel);
  if (peers) parts.push(peers);
  return parts.join('\n\n');
}

export function methodLines(result: BenchResult): string[] {
  const s = result.settings;
  const observed = result.lossObserved
    .filter((o) => o.lossRate > 0 && o.underlayPackets > 0)
    .map((o) => `${fmtLoss(o.lossRate)} set → ${fmtLoss(o.dropped / o.underlayPackets)} of ${o.underlayPackets} underlay packets dropped`);
  return [
    `Underlay: two network namespaces joined by a veth pair (192.0.2.1 ↔ 192.0.2.2, MTU 1500); every tunnel runs between them, all up at once, measured one at a time.`,
    `Loss: ${s.lossWhere}.${observed.length ? ` Observed: ${observed.join('; ')}.` : ''}`,
    `Delay: ${s.delay}.`,
    `Throughput: iperf3 TCP from A to B through the tunnel, ${s.seconds} s per run, ${s.rounds} rounds, ${s.streams.join(' and ')} stream(s); receiver goodput; median (min–max). Congestion control: ${s.congestionControl}.`,
    `Order: per loss rate, round by round, all tunnels in turn (order rotated each round), so noise from neighbours is shared; ratios to OpenVPN UDP are medians of per-round ratios.`,
    `Latency: ping every ${s.pingIntervalS * 1000} ms through the tunnel; idle = ${s.idlePings} pings per round with nothing else running; loaded = during every 1-stream iperf3 run (bufferbloat). Average / p99 (nearest rank) of all replies.`,
    `CPU: utime+stime of the tunnel processes on both ends (/proc/PID/stat) per GB (10⁹ bytes) of iperf3 payload delivered; "host" is the whole machine's busy time (/proc/stat, includes iperf3 and the kernel) per GB.`,
  ];
}

export function renderMarkdown(result: BenchResult, rows: readonly Row[], svgName: string): string {
  const m = result.machine;
  const out: string[] = [];
  out.push(`# sealtun benchmark — ${result.startedAt} (${result.mode})`);
  out.push(
    `Reproduce: \`${result.mode === 'quick' ? 'make bench-quick' : 'make bench'}\` (as root; installs iperf3, OpenVPN, wireguard-go with apt-get if missing). ` +
      `This run: \`${result.command}\`, ${formatDuration(result.durationS)} min:s.`,
  );
  out.push(
    `**Machine:** ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, Linux ${m.kernel}, ${m.os}, Node ${m.node}, load average at start ${m.loadAvgAtStart.join(' ')}. ` +
      `Tools: ${Object.values(m.tools).join('; ')}.`,
  );
  out.push(
    markdownTable([
      ['Tunnel', 'Version', 'Configuration', 'Inner MTU'],
      ...result.tunnels.map((t) => [t.label, t.version, t.config, t.innerMtu === null ? '—' : String(t.innerMtu)]),
      ...result.skipped.map((s) => [s.id, 'not measured', s.reason, '—']),
    ]),
  );
  out.push(`## Method\n\n${methodLines(result).map((l) => `- ${l}`).join('\n')}`);
  out.push(resultsSection(result, rows));
  out.push(`## Chart\n\n![Throughput and round-trip time against underlay loss](${svgName})`);
  if (result.notes.length) out.push(`## Notes\n\n${result.notes.map((n) => `- ${n}`).join('\n')}`);
  return `${out.join('\n\n')}\n`;
}
