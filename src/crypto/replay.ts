// Replay protection for data packets: a sliding window over message counters,
// the scheme of RFC 6479 as WireGuard uses it (counter.c). The bitmap is a ring
// of 32-bit words; moving the window forward clears whole words instead of
// shifting bits, so a packet costs O(1) except on big jumps (at most one pass
// over the ring).
import { REJECT_AFTER_MESSAGES } from './data-packet.js';

/** Bits per ring word. */
const WORD_BITS = 32;
/** Total bitmap size: 8192 bits = 256 words = 1 KiB, as in WireGuard. */
export const RING_BITS = 8192;
const RING_WORDS = RING_BITS / WORD_BITS;
/**
 * The window spans 8160 (= 8192 - 32) counters: the greatest one seen and the
 * 8159 before it. One word of the ring is given up because the word holding
 * the newest counter is only partly inside the window; keeping it whole lets
 * a jump clear words, not bits. So a packet still counts if it is overtaken
 * by up to 8159 later ones, and one WINDOW_SIZE (8160) or more behind is refused.
 */
export const WINDOW_SIZE = RING_BITS - WORD_BITS;

/**
 * Counters are JS numbers. The sender stops at REJECT_AFTER_MESSAGES (2^53 - 1,
 * see data-packet.ts), so every valid counter is a safe integer and all the
 * arithmetic below (division by 32, modulo 256) is exact. Anything else is
 * rejected, including counters read off the wire that saturated at 2^53.
 */
export class ReplayWindow {
  private readonly ring = new Uint32Array(RING_WORDS);
  /** Greatest counter accepted so far; -1 before the first. */
  private greatest = -1;

  /**
   * Records `counter` and says whether the packet is fresh. Call it ONLY after
   * the packet authenticated: otherwise a forger could move the window forward
   * and make real packets look old. Returns false for a duplicate, a counter
   * WINDOW_SIZE or more behind the greatest accepted, and counters at or above
   * REJECT_AFTER_MESSAGES (or not non-negative integers).
   */
  accept(counter: number): boolean {
    if (!Number.isSafeInteger(counter) || counter < 0 || counter >= REJECT_AFTER_MESSAGES) return false;
    if (counter > this.greatest) {
      this.advanceTo(counter);
    } else if (this.greatest - counter >= WINDOW_SIZE) {
      return false; // too old: its bit may already be reused by a newer counter
    }
    const slot = Math.floor(counter / WORD_BITS) % RING_WORDS;
    const bit = 1 << counter % WORD_BITS;
    const word = this.ring[slot]!;
    if ((word & bit) !== 0) return false; // duplicate
    this.ring[slot] = word | bit;
    return true;
  }

  /** The greatest counter accepted so far, or -1. */
  get greatestAccepted(): number {
    return this.greatest;
  }

  /** Forgets everything (for a new session key). */
  reset(): void {
    this.ring.fill(0);
    this.greatest = -1;
  }

  /**
   * Moves the window's front to `counter`: the words after the current front's
   * word, up to and including the new front's, belong to counters never seen
   * yet and may still hold bits from one lap of the ring ago, so they are cleared.
   * A jump of a whole ring or more clears everything.
   */
  private advanceTo(counter: number): void {
    const currentWord = Math.floor(this.greatest / WORD_BITS); // -1 before the first counter
    const newWord = Math.floor(counter / WORD_BITS);
    const wordsToClear = Math.min(newWord - currentWord, RING_WORDS);
    for (let i = 1; i <= wordsToClear; i++) this.ring[(currentWord + i) % RING_WORDS] = 0;
    this.greatest = counter;
  }
}
