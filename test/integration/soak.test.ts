// Soak: one tunnel pair per transport carries a single TCP connection at full
// rate for 60 s. What arrives must hash (SHA-256) and count the same as what
// was sent, and the resident memory of both daemons must stay under the
// target and flat (docs/performance.md: under 120 MB, no growth).
import { expect } from 'chai';
import { rssKb, withPair, type TunnelPair } from '../helpers/tunnel-pair.js';

const SOAK_SECONDS = 60;
const SAMPLE_EVERY_MS = 2000;
/** The target, read as MiB (VmRSS counts kB of 1024 bytes). */
const RSS_LIMIT_KB = 120 << 10;
/** V8 growing its heaps to their working size, socket and ring buffers filling. */
const WARM_UP_MS = 10_000;
/**
 * How far the last third's floor (its lowest sample) may stand above the
 * floor of the first third after the warm-up. Floors, not peaks: measured
 * here, the peak of a 20 s window swings by 10–18 MB with GC timing, while
 * floors (what is live right after a collection) stay within ~5 MB, and a
 * leak raises the floor. 10 MB across the 40 s between the thirds is
 * 256 kB/s: ~6 bytes a packet at the ~40k packets/s of the UDP run, ~75 at
 * the ~3.5k GSO packets/s of the TCP run, so a buffer or object kept per
 * packet gets past it.
 */
const GROWTH_MARGIN_KB = 10 << 10;
/** Proves the stream ran at rate without asserting a speed: 2 noisy cores carry several GB in 60 s. */
const MIN_BYTES = 100 << 20;
/** Drops that only corrupted or forged input causes; on this clean link any is a failure. */
const CORRUPTION = ['short', 'unknown-type', 'forged', 'bad-frame', 'bad-vnet-header'];

interface Sample {
  atMs: number;
  kb: number;
}

interface DaemonStatus {
  pid: number;
  rx: { bytes: number; packets: number };
  dropped: Record<string, number>;
}

/** Samples VmRSS of each pid every SAMPLE_EVERY_MS, from now until stopped. */
function sampleRss(pids: number[]): { stop: () => Sample[][] } {
  const started = Date.now();
  const samples: Sample[][] = pids.map(() => []);
  const take = (): void => pids.forEach((pid, i) => samples[i]!.push({ atMs: Date.now() - started, kb: rssKb(pid) }));
  take();
  const timer = setInterval(take, SAMPLE_EVERY_MS);
  return {
    stop: () => {
      clearInterval(timer);
      take();
      return samples;
    },
  };
}

/** The samples taken from `fromMs` up to (not including) `toMs`. */
function during(samples: Sample[], fromMs: number, toMs: number): Sample[] {
  return samples.filter((s) => s.atMs >= fromMs && s.atMs < toMs);
}

/** The samples split by time into three equal parts of `totalMs`. */
function thirds(samples: Sample[], totalMs: number): Sample[][] {
  return [during(samples, 0, totalMs / 3), during(samples, totalMs / 3, (2 * totalMs) / 3), during(samples, (2 * totalMs) / 3, Infinity)];
}

const mib = (kb: number): string => (kb / 1024).toFixed(1);
const peak = (part: Sample[]): number => Math.max(...part.map((s) => s.kb));
const trough = (part: Sample[]): number => Math.min(...part.map((s) => s.kb));
const say = (line: string): void => {
  process.stderr.write(`      (${line})\n`);
};

for (const transport of ['udp', 'tcp'] as const) {
  describe(`soak over ${transport}`, function () {
    this.timeout((SOAK_SECONDS + 90) * 1000);
    withPair({ transport }, (get) => {
      it(`${SOAK_SECONDS} s at full rate: SHA-256 and byte count match, both daemons stay under 120 MB RSS with no growth`, async () => {
        const pair = get();
        const sides = [
          { ns: pair.net.a, name: pair.nameA },
          { ns: pair.net.b, name: pair.nameB },
        ];
        const pids = sides.map((s) => pair.pidOf(s.name)!);
        const sampler = sampleRss(pids);
        let samples: Sample[][];
        let stream: Awaited<ReturnType<TunnelPair['streamFor']>>;
        try {
          stream = await pair.streamFor(SOAK_SECONDS);
        } finally {
          samples = sampler.stop();
        }
        const { sent, received } = stream;
        const status: DaemonStatus[] = [];
        for (const s of sides) status.push((await pair.status(s.ns, s.name)) as unknown as DaemonStatus);

        const mbits = (received.bytes * 8) / received.seconds / 1e6;
        say(`${transport}: ${mib(received.bytes / 1024)} MiB in ${received.seconds.toFixed(1)} s, ${mbits.toFixed(0)} Mbit/s; ${status[1]!.rx.packets} packets into ${pair.nameB}`);
        const totalMs = samples[0]!.at(-1)!.atMs;
        sides.forEach((s, i) => {
          const parts = thirds(samples[i]!, totalMs).map((p) => `${mib(trough(p))}–${mib(peak(p))}`);
          const settled = trough(during(samples[i]!, WARM_UP_MS, totalMs / 3));
          say(`${s.name} RSS MiB min–max by third: ${parts.join(' | ')} (${samples[i]!.length} samples; floor after warm-up ${mib(settled)}; VmHWM ${mib(rssKb(pids[i]!, 'VmHWM'))})`);
          say(`${s.name} dropped: ${JSON.stringify(status[i]!.dropped)}`);
        });

        expect(received.bytes, 'bytes received').to.equal(sent.bytes);
        expect(received.sha256, 'SHA-256 of what arrived').to.equal(sent.sha256);
        expect(received.bytes, 'bytes moved in the soak').to.be.above(MIN_BYTES);
        sides.forEach((s, i) => {
          expect(status[i]!.pid, `${s.name} is still the daemon that started`).to.equal(pids[i]);
          for (const x of samples[i]!) expect(x.kb, `${s.name} RSS at ${(x.atMs / 1000).toFixed(0)} s (kB)`).to.be.above(0).and.below(RSS_LIMIT_KB);
          const settled = during(samples[i]!, WARM_UP_MS, totalMs / 3);
          const last = thirds(samples[i]!, totalMs)[2]!;
          expect(trough(last), `${s.name} RSS floor in the last third vs the first after warm-up (kB)`).to.be.at.most(trough(settled) + GROWTH_MARGIN_KB);
          for (const reason of CORRUPTION) expect(status[i]!.dropped[reason] ?? 0, `${s.name} dropped as ${reason}`).to.equal(0);
        });
      });
    });
  });
}
