// Data messages on the wire: layout, round trips, counters, nonces, tampering.
import { expect } from 'chai';
import { randomBytes, randomInt } from 'node:crypto';
import { TAG_BYTES, XNONCE_BYTES, type Aead } from '../../src/crypto/aead/aead.js';
import { availableAeads } from '../../src/crypto/aead/select.js';
import {
  DATA_FLAG_CSUM_PARTIAL,
  DATA_HEADER_BYTES,
  DATA_OVERHEAD,
  DataOpener,
  DataPacketError,
  DataSealer,
  MESSAGE_DATA,
  REJECT_AFTER_MESSAGES,
  readCounter,
  readFlags,
  readReceiverIndex,
} from '../../src/crypto/data-packet.js';
import { ReplayWindow } from '../../src/crypto/replay.js';
import { allocNative } from '../../src/sys/libc.js';

const aeads: Aead[] = await availableAeads();

function bytes(n: number): Uint8Array {
  return new Uint8Array(randomBytes(n));
}

/** A buffer laid out as the daemon uses it: header room, packet, tag room. */
function packetBuffer(packet: Uint8Array): Uint8Array {
  const buf = new Uint8Array(packet.length + DATA_OVERHEAD);
  buf.set(packet, DATA_HEADER_BYTES);
  return buf;
}

/** Wraps an Aead and records every nonce it is asked to seal with. */
function recording(inner: Aead): { aead: Aead; nonces: string[] } {
  const nonces: string[] = [];
  const aead: Aead = {
    name: inner.name,
    seal(out, plaintext, ad, nonce, key) {
      nonces.push(Buffer.from(nonce).toString('hex'));
      inner.seal(out, plaintext, ad, nonce, key);
    },
    open: (out, input, ad, nonce, key) => inner.open(out, input, ad, nonce, key),
  };
  return { aead, nonces };
}

describe('data packets', () => {
  it('constants: 16-byte header, 32 bytes overhead, type 4, limit 2^53 - 1', () => {
    expect(DATA_HEADER_BYTES).to.equal(16);
    expect(DATA_OVERHEAD).to.equal(32);
    expect(MESSAGE_DATA).to.equal(4);
    expect(REJECT_AFTER_MESSAGES).to.equal(2 ** 53 - 1);
  });

  for (const aead of aeads) {
    describe(`with ${aead.name}`, () => {
      const key = bytes(32);

      it('round trip for sizes 0..1500 and 65535', () => {
        const sealer = new DataSealer(aead, key, 0xdeadbeef);
        const opener = new DataOpener(aead, key);
        for (const size of [0, 1, 15, 16, 17, 20, 64, 576, 1280, 1420, 1500, 65535]) {
          const packet = bytes(size);
          const buf = packetBuffer(packet);
          const wire = sealer.seal(buf, size);
          expect(wire).to.equal(size + DATA_OVERHEAD);
          expect(opener.open(buf, wire)).to.equal(size);
          expect(Buffer.from(buf.subarray(DATA_HEADER_BYTES, DATA_HEADER_BYTES + size)).equals(Buffer.from(packet))).to.equal(
            true,
          );
        }
      });

      it('one reused buffer with changing lengths (the view cache) still round-trips', () => {
        const sealer = new DataSealer(aead, key, 7);
        const opener = new DataOpener(aead, key);
        const buf = new Uint8Array(2000 + DATA_OVERHEAD);
        for (let i = 0; i < 200; i++) {
          const size = i % 3 === 0 ? 1420 : randomInt(0, 2001);
          const packet = bytes(size);
          buf.set(packet, DATA_HEADER_BYTES);
          const wire = sealer.seal(buf, size);
          expect(opener.open(buf, wire), `packet ${i}`).to.equal(size);
          expect(Buffer.from(buf.subarray(DATA_HEADER_BYTES, DATA_HEADER_BYTES + size)).equals(Buffer.from(packet))).to.equal(
            true,
          );
        }
      });

      it('writes the header: type, zero reserved, receiver index LE, counter LE', () => {
        const sealer = new DataSealer(aead, key, 0x11223344);
        const buf = packetBuffer(bytes(10)).fill(0xff, 0, DATA_HEADER_BYTES);
        sealer.seal(buf, 10);
        expect(Array.from(buf.subarray(0, 16))).to.deep.equal([4, 0, 0, 0, 0x44, 0x33, 0x22, 0x11, 0, 0, 0, 0, 0, 0, 0, 0]);
        sealer.seal(buf, 10);
        expect(readCounter(buf)).to.equal(1);
        expect(readReceiverIndex(buf)).to.equal(0x11223344);
      });

      it('is XChaCha20-Poly1305 with nonce 0^16 ‖ counter LE and the header as AD', () => {
        const counter = 2 ** 40 + 5;
        const sealer = new DataSealer(aead, key, 9, { firstCounter: counter });
        const packet = bytes(100);
        const buf = packetBuffer(packet);
        sealer.seal(buf, 100);
        const nonce = new Uint8Array(XNONCE_BYTES);
        new DataView(nonce.buffer).setBigUint64(16, BigInt(counter), true);
        const expected = new Uint8Array(100 + TAG_BYTES);
        aead.seal(expected, packet, buf.subarray(0, 16), nonce, key);
        expect(Buffer.from(buf.subarray(16)).equals(Buffer.from(expected))).to.equal(true);
        expect(readCounter(buf)).to.equal(counter);
      });

      it('the counter increments by one per packet and nonces never repeat', () => {
        const { aead: rec, nonces } = recording(aead);
        const sealer = new DataSealer(rec, key, 1);
        const buf = packetBuffer(bytes(32));
        for (let i = 0; i < 5000; i++) {
          expect(sealer.counter).to.equal(i);
          sealer.seal(buf, 32);
          expect(readCounter(buf)).to.equal(i);
        }
        expect(sealer.counter).to.equal(5000);
        expect(new Set(nonces).size).to.equal(5000);
        for (const n of nonces) expect(n.startsWith('0'.repeat(32)), 'first 16 nonce bytes are zero').to.equal(true);
      });

      it('counter is read-only', () => {
        const sealer = new DataSealer(aead, key, 1);
        expect(() => {
          (sealer as unknown as { counter: number }).counter = 0;
        }).to.throw(TypeError);
      });

      it('refuses to seal at REJECT_AFTER_MESSAGES (last usable counter is 2^53 - 2)', () => {
        const sealer = new DataSealer(aead, key, 1, { firstCounter: REJECT_AFTER_MESSAGES - 1 });
        const opener = new DataOpener(aead, key);
        const buf = packetBuffer(bytes(8));
        const wire = sealer.seal(buf, 8);
        expect(readCounter(buf)).to.equal(REJECT_AFTER_MESSAGES - 1);
        expect(opener.open(buf, wire)).to.equal(8);
        expect(() => sealer.seal(buf, 8)).to.throw(DataPacketError, /exhausted/);
        expect(() => sealer.seal(buf, 8)).to.throw(DataPacketError);
        expect(sealer.counter).to.equal(REJECT_AFTER_MESSAGES);
      });

      it('a flipped bit anywhere in the header is refused (the header is AD)', () => {
        const sealer = new DataSealer(aead, key, 0x01020304);
        const opener = new DataOpener(aead, key);
        const buf = packetBuffer(bytes(50));
        const wire = sealer.seal(buf, 50);
        for (let bit = 0; bit < DATA_HEADER_BYTES * 8; bit++) {
          const forged = buf.slice(0, wire);
          forged[bit >> 3]! ^= 1 << (bit & 7);
          expect(opener.open(forged, wire), `header bit ${bit}`).to.equal(-1);
        }
      });

      it('tampered ciphertext or tag, a wrong key, and short lengths give -1', () => {
        const sealer = new DataSealer(aead, key, 5);
        const opener = new DataOpener(aead, key);
        const buf = packetBuffer(bytes(60));
        const wire = sealer.seal(buf, 60);
        for (const at of [16, 40, wire - 17, wire - 16, wire - 1]) {
          const forged = buf.slice(0, wire);
          forged[at]! ^= 0x01;
          expect(opener.open(forged, wire), `byte ${at}`).to.equal(-1);
        }
        expect(new DataOpener(aead, bytes(32)).open(buf.slice(0, wire), wire)).to.equal(-1);
        for (const len of [-1, 0, 15, 16, 31, wire - 1, wire + 1, 1.5, Number.NaN]) {
          expect(opener.open(buf.slice(0, wire), len), `len ${len}`).to.equal(-1);
        }
        expect(opener.open(buf.slice(0, wire), wire)).to.equal(60);
      });

      it('a sealed empty packet (keepalive) is exactly 32 bytes and opens to 0', () => {
        const sealer = new DataSealer(aead, key, 5);
        const opener = new DataOpener(aead, key);
        const buf = new Uint8Array(DATA_OVERHEAD);
        expect(sealer.seal(buf, 0)).to.equal(32);
        expect(opener.open(buf, 32)).to.equal(0);
      });

      it('seal needs room for header and tag', () => {
        const sealer = new DataSealer(aead, key, 5);
        expect(() => sealer.seal(new Uint8Array(40), 9)).to.throw(RangeError);
        expect(() => sealer.seal(new Uint8Array(40), -1)).to.throw(RangeError);
        expect(sealer.counter, 'a refused call consumes no counter').to.equal(0);
        expect(sealer.seal(new Uint8Array(40), 8)).to.equal(40);
      });

      it('keeps its own copy of a key given as a Buffer: wiping the caller\'s changes nothing', () => {
        const given = Buffer.from(key);
        const sealer = new DataSealer(aead, given, 9);
        const opener = new DataOpener(aead, given);
        given.fill(0);
        const buf = packetBuffer(bytes(20));
        const wire = sealer.seal(buf, 20);
        expect(new DataOpener(aead, key).open(Uint8Array.from(buf), wire), 'sealed under the original key').to.equal(20);
        expect(opener.open(buf, wire)).to.equal(20);
      });

      it('destroy() wipes: seal throws, open returns -1', () => {
        const sealer = new DataSealer(aead, key, 5);
        const opener = new DataOpener(aead, key);
        const buf = packetBuffer(bytes(8));
        const wire = sealer.seal(buf, 8);
        sealer.destroy();
        opener.destroy();
        expect(() => sealer.seal(packetBuffer(bytes(8)), 8)).to.throw(DataPacketError);
        expect(opener.open(buf, wire)).to.equal(-1);
      });

      it('the caller keeps its key: sealer and opener copy it', () => {
        const mine = bytes(32);
        const copy = mine.slice();
        const sealer = new DataSealer(aead, mine, 5);
        mine.fill(0);
        const buf = packetBuffer(bytes(8));
        const wire = sealer.seal(buf, 8);
        expect(new DataOpener(aead, copy).open(buf, wire)).to.equal(8);
      });

      it('with the replay window: opened once, a replay opens again but the window refuses it', () => {
        const sealer = new DataSealer(aead, key, 5);
        const opener = new DataOpener(aead, key);
        const window = new ReplayWindow();
        const buf = packetBuffer(bytes(20));
        const wire = sealer.seal(buf, 20);
        const replay = buf.slice(0, wire);
        expect(opener.open(buf, wire)).to.equal(20);
        expect(window.accept(readCounter(buf))).to.equal(true);
        expect(opener.open(replay, wire)).to.equal(20);
        expect(window.accept(readCounter(replay))).to.equal(false);
      });
    });
  }

  it('readers: short messages give -1; counters of 2^53 and more saturate at 2^53', () => {
    expect(readReceiverIndex(new Uint8Array(15))).to.equal(-1);
    expect(readCounter(new Uint8Array(15))).to.equal(-1);
    const msg = new Uint8Array(16);
    const view = new DataView(msg.buffer);
    view.setBigUint64(8, 2n ** 53n - 1n, true);
    expect(readCounter(msg)).to.equal(2 ** 53 - 1);
    view.setBigUint64(8, 2n ** 53n, true);
    expect(readCounter(msg)).to.equal(2 ** 53);
    view.setBigUint64(8, 2n ** 64n - 1n, true);
    expect(readCounter(msg)).to.equal(2 ** 53);
    view.setUint32(4, 0xffffffff, true);
    expect(readReceiverIndex(msg)).to.equal(0xffffffff);
  });

  it('flags ride in byte 1 of the header, authenticated with it: a flipped flag does not open', () => {
    for (const aead of aeads) {
      const key = bytes(32);
      const sealer = new DataSealer(aead, key, 9);
      const opener = new DataOpener(aead, key);
      const packet = bytes(300);
      const buf = packetBuffer(packet);
      const wire = sealer.seal(buf, 300, DATA_FLAG_CSUM_PARTIAL);
      expect([buf[1], buf[2], buf[3]], aead.name).to.deep.equal([DATA_FLAG_CSUM_PARTIAL, 0, 0]);
      const forged = buf.slice();
      forged[1] = 0;
      expect(opener.open(forged, wire), `${aead.name}: flag cleared on the way`).to.equal(-1);
      expect(opener.open(buf, wire), aead.name).to.equal(300);
      expect(readFlags(buf)).to.equal(DATA_FLAG_CSUM_PARTIAL);
      const plain = packetBuffer(packet);
      sealer.seal(plain, 300);
      expect(readFlags(plain), 'no flags unless asked').to.equal(0);
    }
  });

  it('constructor refuses a bad key length or receiver index', () => {
    const aead = aeads[0]!;
    expect(() => new DataSealer(aead, bytes(16), 1)).to.throw(RangeError);
    expect(() => new DataSealer(aead, bytes(32), -1)).to.throw(RangeError);
    expect(() => new DataSealer(aead, bytes(32), 2 ** 32)).to.throw(RangeError);
    expect(() => new DataOpener(aead, bytes(31))).to.throw(RangeError);
  });

  if (aeads.length > 1) {
    it('what one backend seals, the other opens', () => {
      const key = bytes(32);
      const [a, b] = aeads as [Aead, Aead];
      for (const [s, o] of [
        [a, b],
        [b, a],
      ] as const) {
        const sealer = new DataSealer(s, key, 3);
        const opener = new DataOpener(o, key);
        const packet = bytes(1420);
        const buf = packetBuffer(packet);
        expect(opener.open(buf, sealer.seal(buf, 1420))).to.equal(1420);
      }
    });
  }

  for (const aead of aeads.filter((a) => a.addressed !== undefined)) {
    // DataSealer/DataOpener hand an AddressedAead the addresses of the packet
    // buffer and of their own key and nonce instead of typed arrays; the bytes
    // must be the same as through the typed-array calls of the same library.
    describe(`${aead.name} called with addresses`, () => {
      const viaArrays: Aead = { name: aead.name, seal: aead.seal.bind(aead), open: aead.open.bind(aead) };

      function sameBytes(bufs: { addressed: Uint8Array; arrays: Uint8Array }, lengths: number[]): void {
        const key = bytes(32);
        const [s1, s2] = [new DataSealer(aead, key, 77), new DataSealer(viaArrays, key, 77)];
        const [o1, o2] = [new DataOpener(aead, key), new DataOpener(viaArrays, key)];
        for (const len of lengths) {
          const packet = bytes(len);
          bufs.addressed.set(packet, DATA_HEADER_BYTES);
          bufs.arrays.set(packet, DATA_HEADER_BYTES);
          const wire = s1.seal(bufs.addressed, len);
          expect(s2.seal(bufs.arrays, len)).to.equal(wire);
          expect(Buffer.from(bufs.addressed.subarray(0, wire)).equals(Buffer.from(bufs.arrays.subarray(0, wire))), `length ${len}`).to.equal(true);
          // Open each copy with the other path, then check a forgery is refused on the addressed path.
          expect(o1.open(bufs.arrays, wire), `length ${len}`).to.equal(len);
          expect(o2.open(bufs.addressed, wire), `length ${len}`).to.equal(len);
          expect(Buffer.from(bufs.addressed.subarray(DATA_HEADER_BYTES, DATA_HEADER_BYTES + len)).equals(Buffer.from(packet))).to.equal(true);
          s1.seal(bufs.addressed, len);
          s2.seal(bufs.arrays, len); // keeps the two sealers' counters in step
          bufs.addressed[wire - 1]! ^= 1;
          expect(o1.open(bufs.addressed, wire), `forged, length ${len}`).to.equal(-1);
        }
      }

      it('packet slots in native memory (as the daemon has): every length 0–100 and 1420 in one slot, lengths changing', () => {
        const lengths = [...Array.from({ length: 101 }, (_, i) => i), 1420, 3, 1420, 0];
        sameBytes({ addressed: allocNative(1420 + DATA_OVERHEAD).view, arrays: new Uint8Array(1420 + DATA_OVERHEAD) }, lengths);
      });

      it('small JS-heap arrays, used again after the garbage collector has run', () => {
        // Arrays of ≤ 64 bytes start in the JS heap, where the collector moves
        // objects: the address must be of bytes that stay put (PacketViews
        // reads .buffer first, which moves them off the heap for good).
        const bufs = { addressed: new Uint8Array(DATA_OVERHEAD + 8), arrays: new Uint8Array(DATA_OVERHEAD + 8) };
        sameBytes(bufs, [8, 0, 5]);
        let churn: Uint8Array[] = [];
        for (let i = 0; i < 200_000; i++) churn.push(new Uint8Array(48));
        churn = [];
        expect(churn).to.have.length(0);
        sameBytes(bufs, [8, 1, 0, 7]);
      });
    });
  }
});
