// MSS clamping: the option rewritten only where it should be, the checksum
// always equal to a full recomputation, and hostile packets left alone
// without an out-of-bounds read or an exception.
import { expect } from 'chai';
import fc from 'fast-check';
import { clampMss, maxMssForMtu } from '../../../src/tunnel/datapath/mss.js';

const SYN = 0x02;
const ACK = 0x10;

/** Option encodings (RFC 9293 §3.2, RFC 7323, RFC 2018). */
const opt = {
  mss: (v: number) => [2, 4, v >> 8, v & 0xff],
  nop: [1],
  eol: [0],
  wscale: (s: number) => [3, 3, s],
  sackOk: [4, 2],
  ts: [8, 10, 0, 0, 0, 1, 0, 0, 0, 0],
};

/** One's complement sum of 16-bit big-endian words (RFC 1071), an odd tail padded with zero. */
function sum16(bytes: Uint8Array, init = 0): number {
  let s = init;
  for (let i = 0; i < bytes.length; i += 2) s += (bytes[i]! << 8) | (bytes[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** The TCP checksum of the segment as it stands, computed from scratch (pseudo-header included). */
function tcpChecksum(packet: Uint8Array): number {
  const v4 = packet[0]! >> 4 === 4;
  const ipLen = v4 ? (packet[0]! & 0x0f) * 4 : 40;
  const total = v4 ? (packet[2]! << 8) | packet[3]! : 40 + ((packet[4]! << 8) | packet[5]!);
  const seg = Uint8Array.from(packet.subarray(ipLen, total));
  seg[16] = seg[17] = 0;
  const pseudo = v4
    ? Uint8Array.from([...packet.subarray(12, 20), 0, 6, seg.length >> 8, seg.length & 0xff])
    : Uint8Array.from([...packet.subarray(8, 40), 0, 0, seg.length >> 8, seg.length & 0xff, 0, 0, 0, 6]);
  return ~sum16(seg, sum16(pseudo)) & 0xffff;
}

function storedChecksum(packet: Uint8Array): number {
  const t = packet[0]! >> 4 === 4 ? (packet[0]! & 0x0f) * 4 : 40;
  return (packet[t + 16]! << 8) | packet[t + 17]!;
}

interface SegmentOptions {
  version?: 4 | 6;
  flags?: number;
  options?: number[];
  payload?: number;
  /** Set the TCP data offset directly (for malformed headers). */
  dataOffsetWords?: number;
}

/** An IPv4 or IPv6 TCP segment with a correct checksum. */
function segment(o: SegmentOptions = {}): Uint8Array {
  const version = o.version ?? 4;
  const options = o.options ?? [];
  const padded = [...options, ...new Array<number>((4 - (options.length % 4)) % 4).fill(0)];
  const tcpLen = 20 + padded.length + (o.payload ?? 0);
  const ipLen = version === 4 ? 20 : 40;
  const p = new Uint8Array(ipLen + tcpLen);
  if (version === 4) {
    p[0] = 0x45;
    p[2] = p.length >> 8;
    p[3] = p.length & 0xff;
    p[6] = 0x40; // DF
    p[8] = 64;
    p[9] = 6;
    p.set([10, 77, 0, 1, 10, 77, 0, 2], 12);
  } else {
    p[0] = 0x60;
    p[4] = tcpLen >> 8;
    p[5] = tcpLen & 0xff;
    p[6] = 6;
    p[7] = 64;
    p.set([0xfd, 0x77, ...new Array<number>(13).fill(0), 1], 8);
    p.set([0xfd, 0x77, ...new Array<number>(13).fill(0), 2], 24);
  }
  const t = ipLen;
  p.set([0xa0, 0x01, 0x14, 0x51, 0x12, 0x34, 0x56, 0x78], t); // ports 40961 → 5201, seq
  p[t + 12] = (o.dataOffsetWords ?? 5 + padded.length / 4) << 4;
  p[t + 13] = o.flags ?? SYN;
  p[t + 14] = 0xfa;
  p.set(padded, t + 20);
  for (let i = 0; i < (o.payload ?? 0); i++) p[t + 20 + padded.length + i] = (i * 7 + 3) & 0xff;
  const c = tcpChecksum(p);
  p[t + 16] = c >> 8;
  p[t + 17] = c & 0xff;
  return p;
}

/** The MSS value of the first MSS option, found by a test-side walk. */
function mssOf(p: Uint8Array): number | null {
  const t = p[0]! >> 4 === 4 ? 20 : 40;
  const end = t + (p[t + 12]! >> 4) * 4;
  for (let i = t + 20; i < end; ) {
    if (p[i] === 0) return null;
    if (p[i] === 1) {
      i++;
      continue;
    }
    if (p[i] === 2) return (p[i + 2]! << 8) | p[i + 3]!;
    i += p[i + 1]!;
  }
  return null;
}

/** clampMss on a copy placed at an offset inside a larger buffer with guard bytes around it. */
function clampGuarded(packet: Uint8Array, maxMss: number, lenOverride?: number): { changed: boolean; out: Uint8Array; guardsIntact: boolean } {
  const off = 13;
  const buf = new Uint8Array(off + packet.length + 17).fill(0xa5);
  buf.set(packet, off);
  const changed = clampMss(buf, off, lenOverride ?? packet.length, maxMss);
  const guardsIntact = buf.subarray(0, off).every((b) => b === 0xa5) && buf.subarray(off + packet.length).every((b) => b === 0xa5);
  return { changed, out: buf.slice(off, off + packet.length), guardsIntact };
}

describe('MSS clamping', () => {
  it('derives the largest MSS for a tunnel MTU: minus 40 over IPv4, 60 over IPv6', () => {
    expect(maxMssForMtu(1420, 4)).to.equal(1380);
    expect(maxMssForMtu(1420, 6)).to.equal(1360);
    expect(maxMssForMtu(1280, 6)).to.equal(1220);
  });

  for (const version of [4, 6] as const) {
    describe(`IPv${version}`, () => {
      it('lowers the MSS of a SYN and keeps the checksum right', () => {
        const p = segment({ version, options: [...opt.mss(1460), ...opt.sackOk, ...opt.ts, ...opt.nop, ...opt.wscale(7)] });
        const { changed, out, guardsIntact } = clampGuarded(p, 1380);
        expect(changed).to.equal(true);
        expect(guardsIntact).to.equal(true);
        expect(mssOf(out)).to.equal(1380);
        expect(storedChecksum(out)).to.equal(tcpChecksum(out));
        // Nothing else moved.
        const diff = [...out].map((b, i) => (b === p[i] ? -1 : i)).filter((i) => i >= 0);
        const t = version === 4 ? 20 : 40;
        expect(diff.every((i) => i === t + 16 || i === t + 17 || i === t + 22 || i === t + 23)).to.equal(true);
      });

      it('lowers the MSS of a SYN-ACK', () => {
        const p = segment({ version, flags: SYN | ACK, options: [...opt.mss(8960), ...opt.nop, ...opt.nop, ...opt.sackOk] });
        const { changed, out } = clampGuarded(p, maxMssForMtu(1420, version));
        expect(changed).to.equal(true);
        expect(mssOf(out)).to.equal(maxMssForMtu(1420, version));
        expect(storedChecksum(out)).to.equal(tcpChecksum(out));
      });

      it('leaves a SYN without an MSS option alone', () => {
        const p = segment({ version, options: [...opt.nop, ...opt.wscale(7), ...opt.sackOk, ...opt.ts] });
        const { changed, out } = clampGuarded(p, 1000);
        expect(changed).to.equal(false);
        expect(out).to.deep.equal(p);
      });

      it('leaves an MSS at or below the limit alone', () => {
        for (const mss of [536, 1380]) {
          const p = segment({ version, options: opt.mss(mss) });
          const { changed, out } = clampGuarded(p, 1380);
          expect(changed).to.equal(false);
          expect(out).to.deep.equal(p);
        }
      });

      it('leaves segments without SYN alone, even with an MSS option', () => {
        for (const flags of [ACK, ACK | 0x08, 0x01 | ACK, 0x04]) {
          const p = segment({ version, flags, options: opt.mss(1460), payload: 10 });
          expect(clampGuarded(p, 1200).changed).to.equal(false);
        }
      });

      it('finds the MSS after NOPs, window scale, SACK-permitted and timestamps, at odd and even offsets', () => {
        const layouts = [
          [...opt.nop, ...opt.mss(1460)], // odd offset: the value straddles two checksum words
          [...opt.nop, ...opt.nop, ...opt.nop, ...opt.mss(1460)],
          [...opt.wscale(7), ...opt.mss(1460)],
          [...opt.sackOk, ...opt.mss(65535)],
          [...opt.ts, ...opt.nop, ...opt.mss(9000), ...opt.wscale(14)],
          [...opt.nop, ...opt.wscale(2), ...opt.sackOk, ...opt.ts, ...opt.mss(1440)],
        ];
        for (const options of layouts) {
          const p = segment({ version, options, payload: 3 });
          const { changed, out } = clampGuarded(p, 1220);
          expect(changed, JSON.stringify(options)).to.equal(true);
          expect(mssOf(out)).to.equal(1220);
          expect(storedChecksum(out), JSON.stringify(options)).to.equal(tcpChecksum(out));
        }
      });

      it('stops at end-of-list: an MSS after EOL is not an option', () => {
        const p = segment({ version, options: [...opt.eol, 0, 0, 0, ...opt.mss(1460)] });
        expect(clampGuarded(p, 1000).changed).to.equal(false);
      });

      it('rejects malformed and truncated options without reading past them', () => {
        const bad = [
          [2, 0, 0x05, 0xb4], // length 0
          [2, 1, 0x05, 0xb4], // length 1
          [3, 200, 0, 0, ...opt.mss(1460)], // length beyond the header: stop there
          [2, 3, 0x05, 0xb4], // MSS with the wrong length
          [1, 1, 1, 2], // an MSS cut off by the end of the header
        ];
        for (const options of bad) {
          const p = segment({ version, options });
          const { changed, out, guardsIntact } = clampGuarded(p, 1000);
          expect(changed, JSON.stringify(options)).to.equal(false);
          expect(out).to.deep.equal(p);
          expect(guardsIntact).to.equal(true);
        }
      });

      it('refuses headers that claim more than the packet holds', () => {
        const p = segment({ version, options: opt.mss(1460) });
        // Data offset 15 words: 60 bytes, more than the 24 there are.
        const q = segment({ version, options: opt.mss(1460), dataOffsetWords: 15 });
        expect(clampGuarded(q, 1000).changed).to.equal(false);
        // A data offset below 5 words is invalid.
        expect(clampGuarded(segment({ version, options: opt.mss(1460), dataOffsetWords: 4 }), 1000).changed).to.equal(false);
        // Every truncation of a valid SYN: no throw, guards intact, nothing changed.
        for (let len = 0; len < p.length; len++) {
          const r = clampGuarded(p, 1000, len);
          expect(r.changed, `len ${len}`).to.equal(false);
          expect(r.guardsIntact).to.equal(true);
          expect(r.out).to.deep.equal(p);
        }
      });
    });
  }

  it('ignores IPv4 trailing bytes beyond the total length, and fragments', () => {
    const p = segment({ options: opt.mss(1460) });
    const padded = new Uint8Array(p.length + 6);
    padded.set(p);
    expect(clampMss(padded, 0, padded.length, 1000)).to.equal(true);
    expect(storedChecksum(padded)).to.equal(tcpChecksum(padded));
    const frag = segment({ options: opt.mss(1460) });
    frag[6] = 0x20; // more fragments
    expect(clampMss(frag, 0, frag.length, 1000)).to.equal(false);
    const later = segment({ options: opt.mss(1460) });
    later[7] = 0x10; // fragment offset 16
    expect(clampMss(later, 0, later.length, 1000)).to.equal(false);
  });

  it('handles IPv4 header options (IHL > 5)', () => {
    const base = segment({ options: opt.mss(1460) });
    const p = new Uint8Array(base.length + 4);
    p.set(base.subarray(0, 20));
    p.set([1, 1, 1, 0], 20); // NOP NOP NOP EOL
    p.set(base.subarray(20), 24);
    p[0] = 0x46;
    p[3] = p.length & 0xff;
    const c = tcpChecksum(p);
    p[24 + 16] = c >> 8;
    p[24 + 17] = c & 0xff;
    expect(clampMss(p, 0, p.length, 1200)).to.equal(true);
    expect((p[24 + 22]! << 8) | p[24 + 23]!).to.equal(1200);
    expect(tcpChecksum(p)).to.equal((p[24 + 16]! << 8) | p[24 + 17]!);
  });

  it('walks IPv6 Hop-by-Hop and Destination Options headers, and leaves a Fragment header alone', () => {
    const base = segment({ version: 6, options: opt.mss(1460) });
    const withExt = (nh: number): Uint8Array => {
      const p = new Uint8Array(base.length + 8);
      p.set(base.subarray(0, 40));
      p[6] = nh;
      p.set([6, 0, 1, 4, 0, 0, 0, 0], 40); // next: TCP, length 0 (8 bytes), PadN
      p.set(base.subarray(40), 48);
      const payload = p.length - 40;
      p[4] = payload >> 8;
      p[5] = payload & 0xff;
      return p;
    };
    for (const nh of [0, 60]) {
      const p = withExt(nh);
      expect(clampMss(p, 0, p.length, 1220), `next header ${nh}`).to.equal(true);
      expect((p[48 + 22]! << 8) | p[48 + 23]!).to.equal(1220);
      // The checksum does not cover extension headers: compare against the original's rule.
      const plain = Uint8Array.from([...p.subarray(0, 40), ...p.subarray(48)]);
      plain[6] = 6;
      plain[5] = (plain.length - 40) & 0xff;
      expect(storedChecksum(plain)).to.equal(tcpChecksum(plain));
    }
    expect(clampMss(withExt(44), 0, base.length + 8, 1220)).to.equal(false);
  });

  it('leaves non-TCP, non-IP and odd inputs alone', () => {
    const udp = segment({ options: opt.mss(1460) });
    udp[9] = 17;
    expect(clampMss(udp, 0, udp.length, 1000)).to.equal(false);
    const junk = Uint8Array.from([0x50, 1, 2, 3]);
    expect(clampMss(junk, 0, junk.length, 1000)).to.equal(false);
    const p = segment({ options: opt.mss(1460) });
    expect(clampMss(p, 0, 0, 1000)).to.equal(false);
    expect(clampMss(p, 5, p.length, 1000), 'range past the buffer').to.equal(false);
    expect(clampMss(p, 0, p.length, -1)).to.equal(false);
    expect(clampMss(p, 0, p.length, 70000)).to.equal(false);
  });

  it('with checksumPending, rewrites the option and leaves the partial checksum for the later sum', () => {
    const p = segment({ options: opt.mss(1460) });
    const before = storedChecksum(p);
    expect(clampMss(p, 0, p.length, 1200, true)).to.equal(true);
    expect(mssOf(p)).to.equal(1200);
    expect(storedChecksum(p)).to.equal(before);
  });

  it('never throws, never writes outside its range, and keeps any valid checksum valid (property)', () => {
    const option = fc.oneof(
      fc.constant(opt.nop),
      fc.constant(opt.sackOk),
      fc.constant(opt.ts),
      fc.integer({ min: 0, max: 14 }).map(opt.wscale),
      fc.integer({ min: 0, max: 0xffff }).map(opt.mss),
      fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 6 }),
    );
    fc.assert(
      fc.property(
        fc.constantFrom(4 as const, 6 as const),
        fc.array(option, { maxLength: 8 }).map((os) => os.flat().slice(0, 40)),
        fc.integer({ min: 0, max: 0xff }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 20 }),
        (version, options, flags, maxMss, payload) => {
          const p = segment({ version, options, flags, payload });
          const { changed, out, guardsIntact } = clampGuarded(p, maxMss);
          expect(guardsIntact).to.equal(true);
          expect(storedChecksum(out)).to.equal(tcpChecksum(out));
          if (!changed) expect(out).to.deep.equal(p);
          else expect(flags & SYN).to.equal(SYN);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('never throws on arbitrary bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), fc.integer({ min: 0, max: 0xffff }), (bytes, maxMss) => {
        const buf = Uint8Array.from(bytes);
        // Make it look like IP/TCP often enough to reach the option walk.
        if (buf.length > 0 && buf[0]! % 2 === 0) buf[0] = 0x45;
        if (buf.length > 9) buf[9] = 6;
        clampMss(buf, 0, buf.length, maxMss);
      }),
      { numRuns: 3000 },
    );
  });
});
