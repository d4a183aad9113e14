import { expect } from 'chai';
import fc from 'fast-check';
import { checkFrameBound, FrameDecoder, FrameError, writeFrameHeader } from '../../src/transport/framing.js';

function frame(msg: Uint8Array): Uint8Array {
  const out = new Uint8Array(2 + msg.length);
  writeFrameHeader(out, 0, msg.length);
  out.set(msg, 2);
  return out;
}

/** Feeds `stream` in the given chunk sizes; returns the frames decoded or the FrameError hit. */
function decodeAll(d: FrameDecoder, stream: Uint8Array, chunks: number[]): Uint8Array[] | FrameError {
  const out: Uint8Array[] = [];
  let at = 0;
  let c = 0;
  while (at < stream.length) {
    const size = Math.max(1, chunks[c++ % Math.max(chunks.length, 1)] ?? stream.length);
    at += d.push(stream.subarray(at, Math.min(stream.length, at + size)));
    try {
      for (let len = d.next(); len > 0; len = d.next()) out.push(d.buf.slice(d.frameOffset, d.frameOffset + len));
    } catch (err) {
      if (err instanceof FrameError) return err;
      throw err;
    }
  }
  return out;
}

describe('TCP framing (2-byte big-endian length)', () => {
  it('writes the length big-endian', () => {
    const b = new Uint8Array(2);
    writeFrameHeader(b, 0, 0x1234);
    expect(Array.from(b)).to.deep.equal([0x12, 0x34]);
  });

  it('refuses a length the 2-byte prefix cannot state, instead of writing it modulo 65536', () => {
    const b = new Uint8Array(2);
    writeFrameHeader(b, 0, 0xffff);
    expect(Array.from(b)).to.deep.equal([0xff, 0xff]);
    for (const len of [0x10000, 65567, 0, -1]) {
      b.fill(7);
      expect(() => writeFrameHeader(b, 0, len), String(len)).to.throw(RangeError, 'cannot be framed');
      expect(Array.from(b), 'nothing written').to.deep.equal([7, 7]);
    }
  });

  it('a decoder, or a data path, whose bound no frame can carry is refused when made', () => {
    expect(() => new FrameDecoder(65567)).to.throw(RangeError, 'a bound of 65567 cannot be framed');
    expect(() => checkFrameBound(0)).to.throw(RangeError);
    expect(() => checkFrameBound(65535)).to.not.throw();
  });

  it('decodes frames split across reads at every byte boundary', () => {
    const msgs = [new Uint8Array([1, 2, 3]), new Uint8Array(1500).fill(7), new Uint8Array([9])];
    const stream = Uint8Array.from(msgs.flatMap((m) => Array.from(frame(m))));
    for (let chunk = 1; chunk <= 64; chunk++) {
      const got = decodeAll(new FrameDecoder(2000), stream, [chunk]);
      expect(got).to.deep.equal(msgs);
    }
  });

  it('rejects a length beyond the bound without buffering it', () => {
    const d = new FrameDecoder(100);
    d.push(new Uint8Array([0x00, 101]));
    expect(() => d.next()).to.throw(FrameError).with.property('reason', 'frame-too-large');
    expect(d.buf.length).to.equal(2 * (2 + 100));
  });

  it('rejects an empty frame', () => {
    const d = new FrameDecoder(100);
    d.push(new Uint8Array([0, 0]));
    expect(() => d.next()).to.throw(FrameError).with.property('reason', 'frame-empty');
  });

  it('a frame exactly at the bound passes', () => {
    const msg = new Uint8Array(100).fill(3);
    expect(decodeAll(new FrameDecoder(100), frame(msg), [7])).to.deep.equal([msg]);
  });

  it('property: any framed messages come back unchanged in any chunking', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { maxLength: 20 }),
        fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 10 }),
        (msgs, chunks) => {
          const stream = Uint8Array.from(msgs.flatMap((m) => Array.from(frame(m))));
          expect(decodeAll(new FrameDecoder(300), stream, chunks)).to.deep.equal(msgs);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('property: random bytes either decode or fail with a FrameError, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.array(fc.integer({ min: 1, max: 500 }), { minLength: 1 }), (bytes, chunks) => {
        const r = decodeAll(new FrameDecoder(256), bytes, chunks);
        if (!(r instanceof FrameError)) for (const m of r) expect(m.length).to.be.within(1, 256);
      }),
      { numRuns: 2000 },
    );
  });
});
