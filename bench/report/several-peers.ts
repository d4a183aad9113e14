// The several-peers table: one client alone and all clients at once through
// one server, per software, medians over rounds; the ratio to wireguard-go
// is taken round by round.
import { markdownTable } from 'markdown-table';
import type { PeersRecord } from '../peers-case.js';
import type { BenchResult } from '../results.js';
import { DASH, fmtMbps, fmtRatio } from './format.js';
import { median, spread, type Spread } from './stats.js';

const NAME = { sealtun: 'sealtun UDP', 'wireguard-go': 'wireguard-go' } as const;

function sumOf(r: PeersRecord): number | null {
  return r.together.every((x) => x.ok) ? r.together.reduce((a, x) => a + (x.ok ? x.mbps : 0), 0) : null;
}

function fmt(s: Spread | null): string {
  return s ? (s.n > 1 ? `${fmtMbps(s.median)} (${fmtMbps(s.min)}–${fmtMbps(s.max)})` : fmtMbps(s.median)) : DASH;
}

export function severalPeersSection(result: BenchResult, headingLevel = '##'): string {
  const plan = result.settings.peers;
  const c = result.peers;
  if (!plan || !c) return '';
  const wg = c.records.filter((r) => r.software === 'wireguard-go');
  const rows = (['sealtun', 'wireguard-go'] as const)
    .filter((s) => c.records.some((r) => r.software === s))
    .map((s) => {
      const mine = c.records.filter((r) => r.software === s);
      const ratios = mine
        .map((r) => {
          const other = wg.find((x) => x.round === r.round);
          const a = sumOf(r);
          const b = other ? sumOf(other) : null;
          return a !== null && b ? a / b : null;
        })
        .filter((v): v is number => v !== null);
      return [
        NAME[s],
        fmt(spread(mine.flatMap((r) => (r.single.ok ? [r.single.mbps] : [])))),
        fmt(spread(mine.map(sumOf).filter((v): v is number => v !== null))),
        s === 'wireguard-go' || ratios.length === 0 ? DASH : fmtRatio(median(ratios)),
      ];
    });
  const failed = c.failed.map((f) => `\n\n${NAME[f.software]} did not come up: ${f.error.split('\n')[0]}`).join('');
  return (
    `${headingLevel} Several peers at once\n\n` +
    `A server with ${plan.clients} peers, each client in a namespace of its own with its own link to the server; iperf3 TCP, one stream per client, ${plan.seconds} s: first one client alone, then all ${plan.clients} at once (the sum). ${plan.rounds} round(s), order alternated; medians (min–max); the ratio to wireguard-go is per round.\n\n` +
    markdownTable([['Server', 'Mbit/s 1 client', `Mbit/s ${plan.clients} clients together`, '× wireguard-go'], ...rows], { align: ['l', 'r', 'r', 'r'] }) +
    failed
  );
}
