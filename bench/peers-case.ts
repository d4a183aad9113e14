// `make bench`'s several-peers case: a server with K peers and K clients
// sending at once (peers-throughput.ts), for sealtun over UDP and for
// wireguard-go, both stars up at once and measured round by round in
// alternating order, so the machine's noise falls on both alike.
import { measureStar, upStar, type ClientStar, type StarSoftware } from './peers-throughput.js';
import type { IperfResult } from './measure/iperf.js';

export interface PeersPlan {
  clients: number;
  rounds: number;
  seconds: number;
}

export interface PeersRecord {
  software: StarSoftware;
  round: number;
  single: IperfResult;
  together: IperfResult[];
}

export interface PeersCase {
  records: PeersRecord[];
  /** Softwares that did not come up, and why. */
  failed: Array<{ software: StarSoftware; error: string }>;
}

/** How long the case takes, for the plan's estimate (set-up about 10 s per star). */
export function peersSeconds(plan: PeersPlan, softwares: number): number {
  return softwares * (10 + plan.rounds * 2 * (plan.seconds + 1.5));
}

export async function peersCase(
  softwares: readonly StarSoftware[],
  plan: PeersPlan,
  opts: { dir: string; tag: string; congestion: string },
  report: (line: string) => void,
): Promise<PeersCase> {
  const out: PeersCase = { records: [], failed: [] };
  const stars: ClientStar[] = [];
  try {
    for (const software of softwares) {
      try {
        stars.push(await upStar(software, { clients: plan.clients, seconds: plan.seconds, congestion: opts.congestion, dir: opts.dir, tag: opts.tag }));
      } catch (err) {
        out.failed.push({ software, error: (err as Error).message });
        report(`several peers: ${software} failed to come up: ${(err as Error).message.split('\n')[0]}`);
      }
    }
    for (let round = 1; round <= plan.rounds; round++) {
      const shift = (round - 1) % Math.max(1, stars.length);
      for (const star of [...stars.slice(shift), ...stars.slice(0, shift)]) {
        const r = await measureStar(star, { seconds: plan.seconds, congestion: opts.congestion, dir: opts.dir });
        out.records.push({ software: star.software, round, ...r });
        const mbps = (x: IperfResult): string => (x.ok ? x.mbps.toFixed(0) : 'failed');
        const sum = r.together.reduce((a, x) => a + (x.ok ? x.mbps : 0), 0);
        report(`several peers · round ${round}/${plan.rounds} · ${star.software.padEnd(12)} | 1 client ${mbps(r.single)} Mbit/s; ${star.clients} at once ${sum.toFixed(0)} (${r.together.map(mbps).join(' + ')})`);
      }
    }
  } finally {
    for (const s of stars) await s.down();
  }
  return out;
}
