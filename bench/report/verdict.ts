// The answer in plain language, for people who will not read the tables:
// what TCP transport costs on a lossy link, how sealtun compares with the
// reference tunnels, what load does to latency, and what it costs in CPU.
import { fmtCpu, fmtLoss, fmtMbps, fmtMs, fmtPercent, fmtRatio } from './format.js';
import { mbpsOf, REFERENCE_TUNNEL, rowFor, type Row } from './summary.js';

const PAIRS = [
  { name: 'sealtun', udp: 'sealtun-udp', tcp: 'sealtun-tcp' },
  { name: 'OpenVPN', udp: 'openvpn-udp', tcp: 'openvpn-tcp' },
] as const;

/** TCP transport keeps less than this share of UDP's throughput: call UDP the choice for lossy links. */
const TCP_CLEARLY_WORSE = 0.8;

function ratioAt(rows: readonly Row[], id: string, lossRate: number, streams = 1): number | null {
  return rowFor(rows, id, lossRate)?.byStreams.find((s) => s.streams === streams)?.ratioToReference ?? null;
}

/**
 * `outerCc` is the congestion control of the TCP transports' own connection:
 * a TCP transport only "holds up" under loss when that one does not treat
 * random loss as congestion (BBR), so the verdict names it.
 */
export function verdict(rows: readonly Row[], lossRates: readonly number[], outerCc?: string): string[] {
  const out: string[] = [];
  const clean = Math.min(...lossRates);
  const worst = Math.max(...lossRates);

  // 1. The question users ask: TCP or UDP transport on a lossy link.
  if (worst > clean) {
    for (const p of PAIRS) {
      const udp = mbpsOf(rowFor(rows, p.udp, worst));
      const tcp = mbpsOf(rowFor(rows, p.tcp, worst));
      if (udp === null || tcp === null || udp === 0) continue;
      const share = tcp / udp;
      const cleanUdp = mbpsOf(rowFor(rows, p.udp, clean));
      const cleanTcp = mbpsOf(rowFor(rows, p.tcp, clean));
      const cleanShare = cleanUdp && cleanTcp !== null ? ` (at ${fmtLoss(clean)} loss: ${fmtPercent(cleanTcp / cleanUdp)})` : '';
      const advice =
        share < TCP_CLEARLY_WORSE
          ? 'on a lossy link use UDP; TCP transport only where UDP is blocked.'
          : `TCP transport held up on this link${outerCc ? ` (its outer TCP connection ran ${outerCc}${outerCc === 'bbr' ? ', which does not slow down for random loss' : ''})` : ''}.`;
      out.push(
        `Over ${fmtLoss(worst)} loss, ${p.name}'s TCP transport delivers ${fmtPercent(share)} of its UDP transport ` +
          `(${fmtMbps(tcp)} vs ${fmtMbps(udp)} Mbit/s, 1 stream)${cleanShare}: ${advice}`,
      );
    }
  }

  // 2. sealtun against the references on a clean link, and how much loss takes away.
  const st = mbpsOf(rowFor(rows, 'sealtun-udp', clean));
  if (st !== null) {
    const parts: string[] = [];
    const vsOvpn = ratioAt(rows, 'sealtun-udp', clean);
    if (vsOvpn !== null) parts.push(`${fmtRatio(vsOvpn)} OpenVPN UDP`);
    const wg = mbpsOf(rowFor(rows, 'wireguard-go', clean));
    if (wg) parts.push(`${fmtRatio(st / wg)} wireguard-go`);
    const bare = mbpsOf(rowFor(rows, 'underlay', clean));
    const ceiling = bare ? `; the bare underlay carries ${fmtMbps(bare)} Mbit/s` : '';
    out.push(`At ${fmtLoss(clean)} loss sealtun UDP moves ${fmtMbps(st)} Mbit/s with 1 stream${parts.length ? ` (${parts.join(', ')})` : ''}${ceiling}.`);
    const stLossy = mbpsOf(rowFor(rows, 'sealtun-udp', worst));
    if (worst > clean && stLossy !== null) {
      const ref = ratioAt(rows, 'sealtun-udp', worst);
      out.push(
        `At ${fmtLoss(worst)} loss sealtun UDP keeps ${fmtPercent(stLossy / st)} of its clean-link throughput` +
          `${ref !== null ? ` and runs at ${fmtRatio(ref)} OpenVPN UDP` : ''}.`,
      );
    }
  }

  // 3. Bufferbloat: what a bulk transfer does to everyone else's latency.
  const lat: string[] = [];
  for (const id of ['sealtun-udp', 'sealtun-tcp', REFERENCE_TUNNEL, 'openvpn-tcp']) {
    const r = rowFor(rows, id, clean);
    if (r?.rttIdle && r.rttLoaded) lat.push(`${r.tunnel.label} ${fmtMs(r.rttIdle.avgMs)} → ${fmtMs(r.rttLoaded.avgMs)} ms (p99 ${fmtMs(r.rttLoaded.p99Ms)})`);
  }
  if (lat.length) out.push(`Round-trip time idle → during a transfer, ${fmtLoss(clean)} loss: ${lat.join('; ')}.`);

  // 4. CPU cost per byte moved.
  const stCpu = rowFor(rows, 'sealtun-udp', clean)?.tunnelCpuPerGB ?? null;
  const refCpu = rowFor(rows, REFERENCE_TUNNEL, clean)?.tunnelCpuPerGB ?? null;
  if (stCpu !== null) {
    const rel = refCpu ? ` against ${fmtCpu(refCpu)} for OpenVPN UDP (${fmtRatio(stCpu / refCpu)})` : '';
    out.push(`sealtun UDP spends ${fmtCpu(stCpu)} CPU-seconds per GB moved (both ends together)${rel}.`);
  }
  return out;
}
