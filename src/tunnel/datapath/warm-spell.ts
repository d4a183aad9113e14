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
// Once traffic has stopped for the linger time (KeepWarm, 1 s unless set)
// the loop blocks without a timeout again: an idle tunnel costs no CPU.
//
// This is the trade kernels offer with busy polling (net.core.busy_poll),
// at a far lower rate: at most 1000 short wake-ups a second, only while
// traffic is recent. While sparse traffic keeps it ticking it costs each end
// about 5% of a core (measured in docs/performance.md); under load it costs
// nothing, because poll() always finds work.
import { KEY_BYTES, type Aead } from '../../crypto/aead/aead.js';
import { DataOpener, DataSealer, DATA_OVERHEAD } from '../../crypto/data-packet.js';
import { MSG_OFFSET, PacketBatch } from '../../transport/batch.js';
import { RX, TX, wrapStats } from '../stats.js';
import type { DatapathInit } from './worker-messages.js';

/** Interval of the keep-warm wake-ups. */
export const TICK_MS = 1;
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
    this.spell = new WarmSpell(aead, init.keepWarmMs, wrapStats(init.stats).f64);
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
  /** performance.now() until which the loop ticks; 0: not yet. */
  private until = 0;
  /** Packets counted by the last renew(). */
  private seen = 0;
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
   * `lingerMs`: how long after traffic to keep warm; 0 turns keeping warm
   * off. `stats`: the tunnel's counters, whose packet counts say whether
   * there was traffic.
   */
  constructor(
    aead: Aead,
    private readonly lingerMs: number,
    private readonly stats: Float64Array,
  ) {
    const key = crypto.getRandomValues(new Uint8Array(KEY_BYTES));
    this.sealer = new DataSealer(aead, key, 0);
    this.opener = new DataOpener(aead, key);
    key.fill(0);
    for (let i = 0; i < FIRST_EXERCISES; i++) this.exercise();
  }

  /** The poll timeout for now: a tick while traffic is recent, otherwise none (-1). */
  timeout(): number {
    return this.until !== 0 && performance.now() < this.until ? TICK_MS : -1;
  }

  /**
   * After handling what was ready: keep warm for another `lingerMs` if that
   * was traffic, i.e. authenticated packets in or data out (keepalives
   * included). Garbage, handshake messages and control messages do not
   * count, so a port scanner cannot keep an idle tunnel ticking.
   */
  renew(): void {
    const s = this.stats;
    const packets = s[RX.packets]! + s[TX.packets]!;
    if (packets === this.seen || this.lingerMs === 0) return;
    this.seen = packets;
    this.until = performance.now() + this.lingerMs;
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
