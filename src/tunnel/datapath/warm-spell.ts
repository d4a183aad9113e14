// How long a data-path loop keeps itself warm after traffic, and how.
//
// A packet that arrives after a pause finds the loop's code, the AEAD, the
// koffi call paths and the kernel's socket and TUN paths evicted from the
// caches of a shared vCPU, and pays for that on every hop: through an idle
// tunnel a ping took 0.43 ms against OpenVPN's 0.30, while back to back
// (`ping -f`) the two are close. So for a while after traffic the loop wakes
// every TICK_MS even when nothing is ready, repeats the reads a packet would
// take (they find nothing) and seals and opens one throwaway packet; the next
// lone packet finds that path warm (0.43 -> 0.30 ms, docs/performance.md).
// Once traffic has stopped for the linger time (KeepWarm, 50 ms unless set)
// the loop blocks without a timeout again: an idle tunnel costs no CPU.
//
// A spell only starts when traffic has shown that it comes back within the
// linger time: a packet after a pause of at most KeepWarm since the last one
// in the same direction (pauses under QUIET_MS are the same burst, not a
// pause). Ticking through a pause costs about 25 µs of CPU per millisecond
// at each end, and a cold wake-up costs a lone packet only ~0.1 ms more
// (docs/performance.md): worth it for a stream that comes back in tens of
// milliseconds (a game, a voice call, request/response chatter), not for a
// keystroke every 200 ms, which cost 1.1 CPU-seconds per 20 s with the old
// design's 1 s linger, 40–60× OpenVPN. So after a pause longer than
// KeepWarm the first two bursts run cold: the second starts the spell, and
// the third finds the path warm.
//
// This is the trade kernels offer with busy polling (net.core.busy_poll),
// at a far lower rate: at most 1000 short wake-ups a second, only while
// traffic keeps coming back. Under load it costs nothing, because poll()
// always finds work.
import { KEY_BYTES, type Aead } from '../../crypto/aead/aead.js';
import { DataOpener, DataSealer, DATA_OVERHEAD } from '../../crypto/data-packet.js';
import { MSG_OFFSET, PacketBatch } from '../../transport/batch.js';
import { RX, TX, wrapStats } from '../stats.js';
import type { DatapathInit } from './worker-messages.js';

/** Interval of the keep-warm wake-ups. */
export const TICK_MS = 1;
/**
 * Packets of one direction closer together than this are one burst (a
 * batch, a TCP window, a reply's segments): their gaps do not start a spell,
 * only a pause between bursts does.
 */
export const QUIET_MS = 3;
/** Size of the throwaway packet: a small one, like the lone packets this is for. */
const SCRATCH_PAYLOAD = 64;
/**
 * Throwaway packets sealed when the spell is made, so V8 has optimized this
 * path before the first tick instead of compiling it while pings wait.
 */
const FIRST_EXERCISES = 3000;

/** A data-path loop as its run() drives it. */
export interface SteppedLoop {
  /**
   * Waits up to `timeoutMs` (-1: no limit) and handles what is ready; false
   * when the loop must end. `warm`: the keep-warm state of the running loop.
   */
  step(timeoutMs: number, warm?: WarmSpell): boolean;
}

/**
 * A data-path loop's run(): steps `loop`, with a tick while traffic is
 * recent, until a step returns false.
 */
export function runKeptWarm(aead: Aead, init: Pick<DatapathInit, 'keepWarmMs' | 'stats'>, loop: SteppedLoop): void {
  const warm = new WarmSpell(aead, init.keepWarmMs, wrapStats(init.stats).f64);
  try {
    while (loop.step(warm.timeout(), warm)) warm.renew();
  } finally {
    warm.destroy();
  }
}

/**
 * For the warm-ups (warm-up.ts, warm-up-tcp.ts): steps a throwaway loop the
 * way runKeptWarm steps the real one, with a spell of its own, and follows
 * traffic with ticks that find nothing, as the real loop does between
 * sparse packets. Without them the real loop met all of this only after it
 * started: its first ticks and spell renewals threw away optimized code the
 * packets had warmed (the spell's fields change type on the first renewal),
 * and its own turns ran unoptimized for seconds of sparse traffic.
 */
export class WarmUpSteps {
  private readonly spell: WarmSpell;
  /** Whether the real loop will tick at all (KeepWarm not off). */
  private readonly ticking: boolean;

  constructor(
    private readonly loop: SteppedLoop,
    aead: Aead,
    init: Pick<DatapathInit, 'keepWarmMs' | 'stats'>,
  ) {
    // Its packets come microseconds apart, never after a pause: with no
    // quiet time every one of them starts a spell, so the branch the real
    // loop takes after a pause is compiled too.
    this.spell = new WarmSpell(aead, init.keepWarmMs, wrapStats(init.stats).f64, 0);
    this.ticking = init.keepWarmMs > 0;
  }

  /** One turn on what is ready now (never waiting); false when the loop must end. */
  step(): boolean {
    const spell = this.spell;
    spell.timeout(); // asked before every turn of the real loop; a warm-up never waits
    const more = this.loop.step(0, spell);
    spell.renew();
    return more;
  }

  /** `n` ticks, i.e. turns on an idle loop: what KeepWarm does after traffic (none with KeepWarm off). */
  ticks(n: number): void {
    if (!this.ticking) return;
    for (let i = 0; i < n; i++) this.step();
  }

  destroy(): void {
    this.spell.destroy();
  }
}

export class WarmSpell {
  /** performance.now() until which the loop ticks (a double from the start, so its field never changes representation). */
  private until = -Infinity;
  /** Packets counted by the last renew(), each direction. */
  private rxSeen = 0;
  private txSeen = 0;
  /** When each direction last moved a packet. */
  private rxAt = -Infinity;
  private txAt = -Infinity;
  /**
   * A key of its own, random and never shared: nothing sealed with it leaves
   * the process. Its counter moves on with every seal like any sealer's, so
   * even here no nonce repeats.
   */
  private readonly sealer: DataSealer;
  private readonly opener: DataOpener;
  /**
   * A packet slot like the real ones (a Buffer over native memory): the
   * sealer and the AEAD keep seeing one kind of buffer, so their optimized
   * code stays as it is.
   */
  private readonly scratch = new PacketBatch(MSG_OFFSET + SCRATCH_PAYLOAD + DATA_OVERHEAD, 1).messages[0]!;

  /**
   * `lingerMs`: the longest pause kept warm across, and how long after
   * traffic to keep warm; 0 turns keeping warm off. `stats`: the tunnel's
   * counters, whose packet counts say whether there was traffic. `quietMs`:
   * see QUIET_MS.
   */
  constructor(
    aead: Aead,
    private readonly lingerMs: number,
    private readonly stats: Float64Array,
    private readonly quietMs = QUIET_MS,
  ) {
    const key = crypto.getRandomValues(new Uint8Array(KEY_BYTES));
    this.sealer = new DataSealer(aead, key, 0);
    this.opener = new DataOpener(aead, key);
    key.fill(0);
    for (let i = 0; i < FIRST_EXERCISES; i++) this.exercise();
  }

  /** The poll timeout for now: a tick during a spell, otherwise none (-1). */
  timeout(now = performance.now()): number {
    return now < this.until ? TICK_MS : -1;
  }

  /**
   * After handling what was ready, if that was traffic (authenticated
   * packets in, data out, keepalives included): keep warm for another
   * `lingerMs` if a spell is on, or if this packet came back within
   * `lingerMs` of the last one in its direction after a pause (see the top
   * of this file). Garbage, handshake messages and control messages do not
   * count, so a port scanner cannot keep an idle tunnel ticking.
   */
  renew(now = performance.now()): void {
    const s = this.stats;
    const rx = s[RX.packets]!;
    const tx = s[TX.packets]!;
    if ((rx === this.rxSeen && tx === this.txSeen) || this.lingerMs === 0) return;
    let back = now < this.until;
    if (rx !== this.rxSeen) {
      back = this.cameBack(now - this.rxAt) || back;
      this.rxSeen = rx;
      this.rxAt = now;
    }
    if (tx !== this.txSeen) {
      back = this.cameBack(now - this.txAt) || back;
      this.txSeen = tx;
      this.txAt = now;
    }
    if (back) this.until = now + this.lingerMs;
  }

  /** Whether a direction's packet after `gapMs` is traffic coming back after a pause that keeping warm would have bridged. */
  private cameBack(gapMs: number): boolean {
    return gapMs >= this.quietMs && gapMs <= this.lingerMs;
  }

  /** Seals and opens the throwaway packet, so the AEAD's code and tables stay in cache; true when it opened. */
  exercise(): boolean {
    return this.opener.open(this.scratch, this.sealer.seal(this.scratch, SCRATCH_PAYLOAD)) === SCRATCH_PAYLOAD;
  }

  /** Wipes the throwaway key. */
  destroy(): void {
    this.sealer.destroy();
    this.opener.destroy();
  }
}
