// Property tests for what the RX worker does with a data message off the
// wire: read index and counter, open in place, check the replay window.
// Random, truncated, oversized, mutated and replayed messages are refused
// without an exception; only the untouched original opens, once.
import { expect } from 'chai';
import fc from 'fast-check';
import { availableAeads } from '../../src/crypto/aead/select.js';
import { DATA_HEADER_BYTES, DATA_OVERHEAD, DataOpener, DataSealer, readCounter, readReceiverIndex } from '../../src/crypto/data-packet.js';
import { ReplayWindow } from '../../src/crypto/replay.js';

const [aead] = await availableAeads();
const KEY = new Uint8Array(32).fill(7);
const INDEX = 0x01020304;

type Verdict = 'short' | 'unknown-index' | 'forged' | 'replay' | 'ok';

/** The RX worker's checks for one message, in its order (src/tunnel/datapath/rx-loop.ts handle()). */
function receive(opener: DataOpener, replay: ReplayWindow, msg: Uint8Array, len: number): Verdict {
  if (len < DATA_OVERHEAD) return 'short';
  if (readReceiverIndex(msg) !== INDEX) return 'unknown-index';
  if (opener.open(msg, len) < 0) return 'forged';
  return replay.accept(readCounter(msg)) ? 'ok' : 'replay';
}

function sealed(sealer: DataSealer, payload: Uint8Array): Uint8Array {
  const buf = new Uint8Array(payload.length + DATA_OVERHEAD);
  buf.set(payload, DATA_HEADER_BYTES);
  return buf.subarray(0, sealer.seal(buf, payload.length));
}

describe('data messages: property tests (fast-check)', () => {
  it('random bytes with any claimed length: never thrown, never accepted', () => {
    const opener = new DataOpener(aead!, KEY);
    const replay = new ReplayWindow();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1600 }), fc.integer({ min: -5, max: 2000 }), fc.boolean(), (bytes, claimed, typed) => {
        if (typed && bytes.length >= 8) {
          bytes[0] = 4;
          bytes[1] = bytes[2] = bytes[3] = 0;
          new DataView(bytes.buffer, bytes.byteOffset).setUint32(4, INDEX, true);
        }
        // Readers never throw, whatever the length.
        expect(readReceiverIndex(bytes)).to.be.a('number');
        expect(readCounter(bytes)).to.be.a('number');
        // A length beyond the buffer (oversized claim) is refused by open().
        const len = Math.max(0, claimed);
        const v = len > bytes.length ? (opener.open(bytes, len) < 0 ? 'forged' : 'ok') : receive(opener, replay, bytes, len);
        expect(v).to.not.equal('ok');
      }),
      { numRuns: 3000 },
    );
  });

  it('a real message mutated anywhere, truncated, or extended: refused; the original opens exactly once', () => {
    const sealer = new DataSealer(aead!, KEY, INDEX);
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        fc.integer({ min: 1, max: 64 }),
        (payload, where, flip, extra) => {
          const opener = new DataOpener(aead!, KEY);
          const replay = new ReplayWindow();
          const good = sealed(sealer, payload);
          // Bit flips anywhere (header is AD, body and tag are authenticated).
          const bent = good.slice();
          bent[where % bent.length]! ^= flip;
          expect(receive(opener, replay, bent, bent.length)).to.be.oneOf(['unknown-index', 'forged']);
          // Truncated by any amount.
          const cut = good.slice(0, where % good.length);
          expect(receive(opener, replay, cut, cut.length)).to.be.oneOf(['short', 'forged']);
          // Extended with junk (an oversized datagram for the same header).
          const long = new Uint8Array(good.length + extra);
          long.set(good);
          expect(receive(opener, replay, long, long.length)).to.equal('forged');
          // The untouched message: accepted once, then a replay.
          expect(receive(opener, replay, good.slice(), good.length)).to.equal('ok');
          expect(receive(opener, replay, good.slice(), good.length)).to.equal('replay');
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('any delivery order: each counter accepted at most once, old ones beyond the window refused', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 20_000 }), { maxLength: 400 }), (counters) => {
        const replay = new ReplayWindow();
        const seen = new Set<number>();
        let greatest = -1;
        for (const c of counters) {
          const ok = replay.accept(c);
          if (ok) {
            expect(seen.has(c), `counter ${c} accepted twice`).to.equal(false);
            expect(greatest - c).to.be.lessThan(8160);
            seen.add(c);
            greatest = Math.max(greatest, c);
          }
        }
      }),
      { numRuns: 1000 },
    );
  });
});
