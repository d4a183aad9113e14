// bench/results/peers.md: the many-peers figures as tables, with the issue's
// targets beside them. Memory per peer is the slope from the smallest N
// measured: (RSS(N) − RSS(N₀)) / (N − N₀), so a daemon's fixed cost (Node's
// heap and code for sealtun) does not count as per-peer cost.
import { markdownTable } from 'markdown-table';
import type { MachineInfo } from './machine.js';
import type { IperfResult } from './measure/iperf.js';
import { rttStats } from './measure/ping.js';
import { mib, type ScaleRow } from './peers-scale.js';
import type { StormPhase } from './peers-storm.js';
import type { ThroughputPhase } from './peers-throughput.js';

export const TARGETS = { kibPerPeer: 4, status1000S: 0.5, reload1000S: 1 } as const;

export interface PeersResult {
  startedAt: string;
  durationS: number;
  command: string;
  machine: MachineInfo;
  versions: { sealtun: string; wireguardGo: string | null };
  scale: ScaleRow[];
  storm: StormPhase | null;
  throughput: ThroughputPhase | null;
}

/**
 * Below this many peers over the first row, a process's RSS wanders by more
 * than the peers take (±2 MiB seen for sealtun at N = 100, even negative
 * slopes), so no per-peer figure is given.
 */
const MIN_PEERS_FOR_SLOPE = 900;

function perPeerKiB(rows: readonly ScaleRow[], row: ScaleRow, pick: (r: ScaleRow) => number | null): string {
  const base = rows[0]!;
  const a = pick(base);
  const b = pick(row);
  if (row.n - base.n < MIN_PEERS_FOR_SLOPE || a === null || b === null) return '—';
  return ((b - a) / (row.n - base.n) / 1024).toFixed(1);
}

/** A failed command's own message, without the command line the bench ran (mustRun's prefix). */
function short(error: string): string {
  const own = error.replace(/^.* failed \([^)]*\): /, '');
  return own.length > 160 ? `${own.slice(0, 157)}…` : own;
}

const secs = (s: number | null | undefined, digits = 2): string => (s === null || s === undefined || Number.isNaN(s) ? '—' : s.toFixed(digits));

export function scaleTable(rows: readonly ScaleRow[]): string {
  const st = (r: ScaleRow): number | null => r.sealtun.rss;
  const wg = (r: ScaleRow): number | null => r.wireguardGo?.rss ?? null;
  return markdownTable([
    ['N peers', 'sealtun RSS MiB', 'per peer KiB', 'up s', 'status --json s', 'reload (1 peer) s', 'wireguard-go RSS MiB', 'per peer KiB', 'wg setconf s'],
    ...rows.map((r) => [
      String(r.n),
      r.sealtun.error ? `failed: ${short(r.sealtun.error)}` : mib(r.sealtun.rss),
      perPeerKiB(rows, r, st),
      secs(r.sealtun.upS),
      secs(r.sealtun.statusS, 3),
      r.sealtun.reloadError ? 'not applied' : secs(r.sealtun.reloadS, 3),
      r.wireguardGo?.error ? `failed: ${short(r.wireguardGo.error)}` : mib(r.wireguardGo?.rss ?? null),
      perPeerKiB(rows, r, wg),
      secs(r.wireguardGo?.setconfS),
    ]),
  ]);
}

/** The targets, each with what this run measured against it (or that it was not measured). */
export function targetLines(rows: readonly ScaleRow[]): string[] {
  const at1000 = rows.find((r) => r.n === 1000);
  const largest = rows.filter((r) => r.sealtun.rss !== null).at(-1);
  const base = rows[0];
  const slope =
    largest && base && largest !== base && base.sealtun.rss !== null ? (largest.sealtun.rss! - base.sealtun.rss) / (largest.n - base.n) / 1024 : null;
  const verdict = (ok: boolean): string => (ok ? 'met' : 'NOT met');
  return [
    `≤ ${TARGETS.kibPerPeer} KiB per idle configured peer: ${slope === null ? 'not measured' : `${slope.toFixed(1)} KiB (N ${base!.n} → ${largest!.n}), ${verdict(slope <= TARGETS.kibPerPeer)}`}`,
    `\`status --json\` with 1 000 peers < ${TARGETS.status1000S} s: ${at1000?.sealtun.statusS == null ? 'not measured' : `${at1000.sealtun.statusS.toFixed(3)} s, ${verdict(at1000.sealtun.statusS < TARGETS.status1000S)}`}`,
    `\`reload\` changing one of 1 000 peers < ${TARGETS.reload1000S} s: ${at1000?.sealtun.reloadS == null ? 'not measured' : `${at1000.sealtun.reloadS.toFixed(3)} s, ${verdict(at1000.sealtun.reloadS < TARGETS.reload1000S)}`}`,
  ];
}

export function stormLines(p: StormPhase): string[] {
  if (!p.storm) return [`failed: ${p.error ?? 'no result'}`];
  const s = p.storm;
  const lines = [
    `${s.peers} storm peers from ${s.sources} source addresses, ${Math.min(s.window, s.peers)} handshakes in flight at most: ${s.handshakes} handshakes in ${s.seconds.toFixed(2)} s = **${s.handshakesPerSecond.toFixed(0)} handshakes/s**` +
      (s.handshakeMs ? ` (each ${s.handshakeMs.median.toFixed(0)} ms median, ${s.handshakeMs.p99.toFixed(0)} ms p99, from first initiation)` : ''),
    `Initiations sent ${s.initiations}, cookie replies ${s.cookieReplies} (server under load), retries after an unanswered attempt ${s.retries}; outcomes: ${s.outcomes.echoed} echoed, ${s.outcomes['no-echo']} handshake without echo reply, ${s.outcomes['no-handshake']} no handshake` +
      (Object.keys(s.rejected).length ? `; rejected: ${JSON.stringify(s.rejected)}` : ''),
    `CPU over the whole storm (echoes included): the server daemon ${p.serverCpuS === null ? '—' : p.serverCpuS.toFixed(1)} s, the generator ${s.generatorCpuS.toFixed(1)} s; both share the machine's cores, and each side computes four X25519 per handshake plus an ephemeral key.`,
    `Data: ${s.keepalives} keepalives and ${s.echoesSent} ICMP echo requests sent through the new sessions (${s.echoResends} of them resent after 1 s unanswered), ${s.echoReplies} echo replies opened.`,
  ];
  if (p.pings) {
    const st = rttStats([p.pings]);
    const lost = p.pings.sent - p.pings.received;
    lines.push(
      `Real client (\`sealtun up\`, pinging the server every 50 ms throughout): ${p.pings.received}/${p.pings.sent} replies, **${lost} lost**` +
        (st ? `, RTT ${st.avgMs.toFixed(2)} ms avg, ${st.p99Ms.toFixed(2)} ms p99` : '') +
        (p.clientHandshakes === null ? '' : `; its session saw ${p.clientHandshakes} new handshake(s) meanwhile`),
    );
  } else lines.push('No real client in this run.');
  if (p.serverDrops) lines.push(`Server drops afterwards (status --json): ${Object.keys(p.serverDrops).length ? JSON.stringify(p.serverDrops) : 'none'}.`);
  return lines;
}

const mbps = (r: IperfResult | null | undefined): string => (r ? (r.ok ? r.mbps.toFixed(0) : `failed: ${r.error}`) : '—');

export function throughputTable(p: ThroughputPhase): string {
  if (p.error) return `failed: ${p.error}`;
  const ok = p.together.filter((r): r is Extract<IperfResult, { ok: true }> => r.ok);
  const sum = ok.reduce((a, r) => a + r.mbps, 0);
  return markdownTable([
    ['', 'Mbit/s'],
    ['1 client alone', mbps(p.single)],
    ...p.together.map((r, k) => [`client ${k + 1} of ${p.clients} at once`, mbps(r)]),
    [`sum of ${p.clients} at once`, ok.length === p.clients ? sum.toFixed(0) : `${sum.toFixed(0)} (${p.clients - ok.length} failed)`],
  ]);
}

export function renderPeers(r: PeersResult): string {
  const m = r.machine;
  const out = [
    `# sealtun with many peers — ${r.startedAt}`,
    `Reproduce: \`make bench-peers\` (as root; \`PEERS_N="1 100"\` for a quick run, see bench/peers.ts). This run: \`${r.command}\`, ${r.durationS} s. ` +
      `sealtun ${r.versions.sealtun}; ${r.versions.wireguardGo ?? 'wireguard-go not measured'}.`,
    `**Machine:** ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, Linux ${m.kernel}, Node ${m.node}, load average at start ${m.loadAvgAtStart.join(' ')}.`,
    `## Configured peers\n\nEach N in a fresh namespace: the server's config has N \`[Peer]\` sections (distinct keys, one /32 each), no traffic. ` +
      `RSS is the daemon's VmRSS once it has been idle PEERS_SETTLE_S after \`up\` (30 s by default, for wireguard-go alike: Node returns its start-up garbage only after some idle seconds; median of 3 samples 1 s apart); per peer is the slope from the first row, given from ${MIN_PEERS_FOR_SLOPE} peers more on (with fewer, a process's RSS wanders by more than the peers take). ` +
      `\`up\`, \`status --json\` and \`reload\` are the CLI's wall time (Node start-up included: the N = 1 row shows it); status and reload are medians of several runs, each reload changing the last peer's AllowedIPs (adding or removing one /32). ` +
      `wireguard-go gets the same peers with \`wg setconf\` in its own namespace.\n\n${scaleTable(r.scale)}`,
    ...r.scale.filter((row) => row.sealtun.reloadError).map((row) => `N = ${row.n}, reload not applied: ${row.sealtun.reloadError}.`),
    `Targets (issue 15):\n\n${targetLines(r.scale).map((l) => `- ${l}`).join('\n')}`,
  ];
  if (r.storm) out.push(`## Handshake storm\n\n${stormLines(r.storm).map((l) => `- ${l}`).join('\n')}`);
  if (r.throughput) {
    out.push(
      `## Several clients at once\n\n${r.throughput.clients} clients, each \`sealtun up\` in its own namespace with its own veth to the server's, one server interface (UDP transport); ` +
        `iperf3 TCP, one stream per client to the server's inner address, ${r.throughput.seconds} s; receiver goodput.\n\n${throughputTable(r.throughput)}`,
    );
  }
  return `${out.join('\n\n')}\n`;
}
