// The sliding replay window: a ring of 256 32-bit words; the newest counter and the 8159 before it.
import { expect } from 'chai';
import fc from 'fast-check';
import { REJECT_AFTER_MESSAGES } from '../../src/crypto/data-packet.js';
import { RING_BITS, ReplayWindow, WINDOW_SIZE } from '../../src/crypto/replay.js';

describe('ReplayWindow', () => {
  it('documents its size: 8192-bit ring, window 8192 - 32', () => {
    expect(RING_BITS).to.equal(8192);
    expect(WINDOW_SIZE).to.equal(8160);
  });

  it('accepts counter 0 once', () => {
    const w = new ReplayWindow();
    expect(w.accept(0)).to.equal(true);
    expect(w.accept(0)).to.equal(false);
    expect(w.greatestAccepted).to.equal(0);
  });

  it('accepts in-order counters and refuses each a second time', () => {
    const w = new ReplayWindow();
    for (let c = 0; c < 20000; c++) expect(w.accept(c), `counter ${c}`).to.equal(true);
    for (let c = 20000 - WINDOW_SIZE; c < 20000; c++) expect(w.accept(c), `again ${c}`).to.equal(false);
  });

  it('accepts counters reordered within the window, each once', () => {
    const w = new ReplayWindow();
    const order = Array.from({ length: 4000 }, (_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (const c of order) expect(w.accept(c), `counter ${c}`).to.equal(true);
    for (const c of order) expect(w.accept(c), `duplicate ${c}`).to.equal(false);
  });

  it('refuses duplicates among fresh counters', () => {
    const w = new ReplayWindow();
    expect(w.accept(5)).to.equal(true);
    expect(w.accept(3)).to.equal(true);
    expect(w.accept(5)).to.equal(false);
    expect(w.accept(3)).to.equal(false);
    expect(w.accept(4)).to.equal(true);
    expect(w.accept(4)).to.equal(false);
  });

  it('window edge: exactly WINDOW_SIZE - 1 behind is accepted, WINDOW_SIZE behind is too old', () => {
    const top = 100000;
    const w = new ReplayWindow();
    expect(w.accept(top)).to.equal(true);
    expect(w.accept(top - WINDOW_SIZE)).to.equal(false);
    expect(w.accept(top - WINDOW_SIZE + 1)).to.equal(true);
    expect(w.accept(top - WINDOW_SIZE + 1)).to.equal(false);
    expect(w.accept(top - 1)).to.equal(true);
  });

  it('usable depth, as the docs state it: 8159 behind the newest is accepted, 8160 is refused, wherever the newest sits in its ring word', () => {
    for (let top = 100_000; top < 100_000 + 32; top++) {
      const w = new ReplayWindow();
      expect(w.accept(top)).to.equal(true);
      expect(w.accept(top - 8160), `8160 behind ${top}`).to.equal(false);
      expect(w.accept(top - 8159), `8159 behind ${top}`).to.equal(true);
      // Every counter in between is still taken once, too: no hole at a word boundary.
      const refused: number[] = [];
      for (let c = top - 8158; c < top; c++) if (!w.accept(c)) refused.push(top - c);
      expect(refused, `depths refused behind ${top}`).to.deep.equal([]);
    }
  });

  it('window edge right after the first counter: counter 0 stays acceptable until 8160', () => {
    const w = new ReplayWindow();
    expect(w.accept(WINDOW_SIZE - 1)).to.equal(true);
    expect(w.accept(0)).to.equal(true);
    const v = new ReplayWindow();
    expect(v.accept(WINDOW_SIZE)).to.equal(true);
    expect(v.accept(0)).to.equal(false);
  });

  it('a jump far ahead (more than the window): old counters refused, new region starts clean', () => {
    const w = new ReplayWindow();
    for (let c = 0; c < 300; c++) expect(w.accept(c)).to.equal(true);
    const far = 1_000_000;
    expect(w.accept(far)).to.equal(true);
    for (let c = 0; c < 300; c++) expect(w.accept(c), `old ${c}`).to.equal(false);
    // Counters just behind the jump were never seen, and the ring words they
    // map to held bits from before the jump: those must have been cleared.
    for (let c = far - WINDOW_SIZE + 1; c < far; c++) expect(w.accept(c), `fresh ${c}`).to.equal(true);
    for (let c = far - WINDOW_SIZE + 1; c <= far; c++) expect(w.accept(c), `dup ${c}`).to.equal(false);
  });

  it('a jump of exactly one ring lap does not inherit bits from the lap before', () => {
    const w = new ReplayWindow();
    for (let c = 0; c < 64; c++) w.accept(c);
    // RING_BITS later, counters land on the very same ring bits.
    expect(w.accept(RING_BITS + 63)).to.equal(true);
    for (let c = RING_BITS + 32; c < RING_BITS + 63; c++) expect(w.accept(c), `counter ${c}`).to.equal(true);
  });

  it('small jumps across word boundaries clear only what they must', () => {
    const w = new ReplayWindow();
    expect(w.accept(31)).to.equal(true);
    expect(w.accept(100)).to.equal(true); // crosses words 1..3
    expect(w.accept(31)).to.equal(false); // word 0 kept
    for (let c = 32; c < 100; c++) expect(w.accept(c)).to.equal(true);
  });

  it('refuses counters at or above REJECT_AFTER_MESSAGES, negative, fractional or non-finite', () => {
    const w = new ReplayWindow();
    expect(w.accept(REJECT_AFTER_MESSAGES)).to.equal(false);
    expect(w.accept(2 ** 53)).to.equal(false);
    expect(w.accept(2 ** 64)).to.equal(false);
    expect(w.accept(-1)).to.equal(false);
    expect(w.accept(1.5)).to.equal(false);
    expect(w.accept(Number.NaN)).to.equal(false);
    expect(w.accept(Number.POSITIVE_INFINITY)).to.equal(false);
    expect(w.accept(REJECT_AFTER_MESSAGES - 1)).to.equal(true);
    expect(w.accept(REJECT_AFTER_MESSAGES - 2)).to.equal(true);
    expect(w.accept(REJECT_AFTER_MESSAGES - 1)).to.equal(false);
  });

  it('reset() forgets everything', () => {
    const w = new ReplayWindow();
    expect(w.accept(10)).to.equal(true);
    w.reset();
    expect(w.greatestAccepted).to.equal(-1);
    expect(w.accept(10)).to.equal(true);
    expect(w.accept(0)).to.equal(true);
  });

  it('property: agrees with a simple set-based model', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.nat(20000), fc.integer({ min: 0, max: 3 * RING_BITS }).map((d) => 40000 + d)), {
          maxLength: 400,
        }),
        (counters) => {
          const w = new ReplayWindow();
          const seen = new Set<number>();
          let greatest = -1;
          for (const c of counters) {
            const expected = !seen.has(c) && !(greatest - c >= WINDOW_SIZE);
            expect(w.accept(c), `counter ${c}`).to.equal(expected);
            if (expected) {
              seen.add(c);
              greatest = Math.max(greatest, c);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
