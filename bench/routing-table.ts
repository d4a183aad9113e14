// Cryptokey-routing lookup benchmark: the routing table's trie
// (src/tunnel/routing-table.ts) against the linear AllowedIPs scan
// (src/tunnel/allowed-ips.ts) holding the same prefixes, for 1, 100 and
// 10 000 of them, IPv4 and IPv6.
//
//   make bench-routing      (or: npx tsc -p tsconfig.json && node dist/bench/routing-table.js)
//
// The prefixes are what a VPN server holds: one host route per peer (/32 in
// 10.0.0.0/8, /128 in fd00::/8), scattered at random. Each lookup reads the
// destination of a prepared packet whose address is one of them, cycling
// through 1024 such packets. The trie answers "which peer"; the linear scan
// only "is it in the list" (stopping at the first hit, on average halfway),
// which is less work than routing needs, so the comparison flatters it. For
// IPv4 the alternative design, a hash per prefix length, runs beside them.
// Rates are per CPU-second of this process, not per wall-second, so that
// other jobs on a shared host do not skew them.
import { randomBytes } from 'node:crypto';
import type { Cidr } from '../src/config/cidr.js';
import { AllowedIPs } from '../src/tunnel/allowed-ips.js';
import { word, wordMask } from '../src/tunnel/ip-header.js';
import { RoutingTable } from '../src/tunnel/routing-table.js';
import { compareRates, cpuClock } from './measure/calls.js';

const COUNTS = [1, 100, 10_000] as const;
const PACKETS = 1024;
/** Per CPU-second: the host is usually shared with other jobs. */
const ROUNDS = { runs: 3, runMs: 300, warmupMs: 150, clock: cpuClock };

type Family = 4 | 6;
type Route = Pick<Cidr, 'family' | 'bytes' | 'prefix'>;

/** `n` distinct random host routes of the family. */
function hostRoutes(family: Family, n: number): Route[] {
  const seen = new Set<string>();
  const out: Route[] = [];
  while (out.length < n) {
    const bytes = new Uint8Array(family === 4 ? 4 : 16);
    bytes.set(randomBytes(bytes.length));
    bytes[0] = family === 4 ? 10 : 0xfd;
    const key = Buffer.from(bytes).toString('hex');
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ family, bytes, prefix: family === 4 ? 32 : 128 });
  }
  return out;
}

/** Minimal IP headers addressed to randomly chosen routes, all in one buffer. */
function packets(routes: readonly Route[]): { buf: Uint8Array; size: number; dst: number } {
  const v4 = routes[0]!.family === 4;
  const size = v4 ? 20 : 40;
  const dst = v4 ? 16 : 24;
  const buf = new Uint8Array(PACKETS * size);
  for (let i = 0; i < PACKETS; i++) {
    buf[i * size] = v4 ? 0x45 : 0x60;
    buf.set(routes[Math.floor(Math.random() * routes.length)]!.bytes, i * size + dst);
  }
  return { buf, size, dst };
}

/**
 * The alternative design, for IPv4 only: one Map per prefix length present,
 * longest first, keyed by the masked address (a 32-bit key fits a Map; a
 * 128-bit one does not without building a string per lookup).
 */
class V4LengthHash {
  private readonly lengths: Array<{ prefix: number; mask: number; owners: Map<number, number> }> = [];

  constructor(routes: readonly Route[]) {
    for (const [peer, r] of routes.entries()) {
      let level = this.lengths.find((l) => l.prefix === r.prefix);
      if (!level) this.lengths.push((level = { prefix: r.prefix, mask: wordMask(r.prefix), owners: new Map() }));
      level.owners.set(word(r.bytes, 0) & level.mask, peer);
    }
    this.lengths.sort((a, b) => b.prefix - a.prefix);
  }

  lookupDestination(buf: Uint8Array, off: number): number {
    const a = word(buf, off + 16);
    for (const { mask, owners } of this.lengths) {
      const peer = owners.get(a & mask);
      if (peer !== undefined) return peer;
    }
    return -1;
  }
}

function fmt(perSecond: number): string {
  return perSecond >= 1e6 ? `${(perSecond / 1e6).toFixed(1)} M` : `${(perSecond / 1e3).toFixed(1)} k`;
}

function main(): void {
  console.log('lookups per CPU-second');
  console.log('prefixes  family  trie lookups/s  linear lookups/s  trie/linear  per-length hash');
  for (const n of COUNTS) {
    for (const family of [4, 6] as const) {
      const routes = hostRoutes(family, n);
      const table = new RoutingTable();
      routes.forEach((r, peer) => table.insert(r, peer));
      const linear = new AllowedIPs(routes);
      const { buf, size } = packets(routes);
      let i = 0;
      let sink = 0;
      const [trie, scan] = compareRates(
        () => {
          sink += table.lookupDestination(buf, i * size, size);
          i = (i + 1) & (PACKETS - 1);
        },
        () => {
          sink += linear.containsDestination(buf, i * size, size) ? 1 : 0;
          i = (i + 1) & (PACKETS - 1);
        },
        ROUNDS,
      );
      let hashText = '';
      if (family === 4) {
        const hash = new V4LengthHash(routes);
        const [hashed] = compareRates(() => {
          sink += hash.lookupDestination(buf, i * size);
          i = (i + 1) & (PACKETS - 1);
        }, () => {}, ROUNDS);
        hashText = fmt(hashed);
      }
      if (sink === -1) console.log('unreachable'); // keeps the results alive
      console.log(`${String(n).padStart(8)}  IPv${family}    ${fmt(trie).padStart(14)}  ${fmt(scan).padStart(16)}  ${(trie / scan).toFixed(1).padStart(10)}x  ${hashText.padStart(14)}`);
    }
  }
}

main();
