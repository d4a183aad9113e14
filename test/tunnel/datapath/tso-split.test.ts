import { expect } from 'chai';
import { ChecksumMemory, fold } from '../../../src/tunnel/datapath/inet-checksum.js';
import { TsoSplitter } from '../../../src/tunnel/datapath/tso-split.js';

const VNET = 10;

/** RFC 1071 the plain way: big-endian 16-bit words, folded, not complemented. */
function referenceSum(b: Uint8Array, from: number, to: number, acc = 0): number {
  let s = acc;
  for (let i = from; i < to; i += 2) s += (b[i]! << 8) | (i + 1 < to ? b[i + 1]! : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** Whether the TCP checksum of the IP packet b[0 .. len) verifies (pseudo-header included). */
function tcpChecksumValid(b: Uint8Array, len: number): boolean {
  const v6 = b[0]! >> 4 === 6;
  const l4 = v6 ? 40 : (b[0]! & 0x0f) * 4;
  const l4Len = len - l4;
  let ph = v6 ? referenceSum(b, 8, 40) : referenceSum(b, 12, 20);
  ph += 6 + l4Len;
  return referenceSum(b, l4, len, ph) === 0xffff;
}

function ipv4HeaderValid(b: Uint8Array): boolean {
  return referenceSum(b, 0, 20) === 0xffff;
}

/**
 * A TCP super-packet as the TUN hands it over: virtio_net_hdr (NEEDS_CSUM,
 * GSO TCPv4/6) ‖ IP ‖ TCP with 12 bytes of options ‖ payload; the checksum
 * field holds only the pseudo-header sum, as the kernel leaves it.
 */
function superPacket(v6: boolean, payload: number, segSize: number, flags = 0x18): Buffer {
  const ipLen = v6 ? 40 : 20;
  const hdrLen = ipLen + 32;
  const len = hdrLen + payload;
  const b = Buffer.alloc(VNET + len);
  b[0] = 1;
  b[1] = v6 ? 4 : 1;
  b.writeUInt16LE(hdrLen, 2);
  b.writeUInt16LE(segSize, 4);
  b.writeUInt16LE(ipLen, 6);
  b.writeUInt16LE(16, 8);
  const p = VNET;
  if (v6) {
    b[p] = 0x60;
    b.writeUInt16BE(len - 40, p + 4);
    b[p + 6] = 6;
    b[p + 7] = 64;
    b[p + 8] = 0xfd;
    b[p + 23] = 1;
    b[p + 24] = 0xfd;
    b[p + 39] = 2;
  } else {
    b[p] = 0x45;
    b.writeUInt16BE(len, p + 2);
    b.writeUInt16BE(0xfffe, p + 4); // IP ID about to wrap
    b[p + 6] = 0x40;
    b[p + 8] = 64;
    b[p + 9] = 6;
    b.set([10, 77, 0, 1, 10, 77, 0, 2], p + 12);
  }
  const t = p + ipLen;
  b.writeUInt16BE(40000, t);
  b.writeUInt16BE(5201, t + 2);
  b.writeUInt32BE(0xfffff000, t + 4); // sequence numbers wrap inside the packet
  b.writeUInt32BE(777, t + 8);
  b[t + 12] = 8 << 4;
  b[t + 13] = flags;
  b.writeUInt16BE(500, t + 14);
  b.set([1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2], t + 20);
  for (let i = 0; i < payload; i++) b[p + hdrLen + i] = (i * 7 + 3) & 0xff;
  // Pseudo-header sum (with the whole packet's TCP length), not complemented.
  const ph = v6 ? referenceSum(b, p + 8, p + 40) : referenceSum(b, p + 12, p + 20);
  b.writeUInt16BE(referenceSum(Buffer.alloc(0), 0, 0, ph + 6 + (len - ipLen)), t + 16);
  return b;
}

/** Splits what `input` holds; returns each packet as written (slots 2 mod 4 aligned, as the data path's are). */
/** A splitter whose read buffer follows 64 slots of 2048 bytes in one memory, as in the transmit loop. */
function splitter(maxPacket = 1420): TsoSplitter {
  const mem = new ChecksumMemory(new ArrayBuffer(64 * 2048 + TsoSplitter.INPUT_BYTES));
  return new TsoSplitter(maxPacket, mem, 64 * 2048, 0n);
}

/** With `finish` each packet's checksum is completed (finish()), as for a peer without FEATURE_CSUM_PARTIAL; `plain` collects plainPartial. */
function split(input: Buffer, maxPacket = 1420, finish = true, plain: boolean[] = []): Uint8Array[] {
  const s = splitter(maxPacket);
  s.input.set(input);
  const n = s.load(input.length);
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const at = i * 2048 + 18;
    const len = s.next(at);
    plain.push(s.plainPartial);
    if (finish) s.finish(at, len);
    out.push(new Uint8Array(s.input.buffer, at, len).slice());
  }
  expect(s.remaining).to.equal(0);
  return out;
}

/** What a device (or the receiving kernel, for NEEDS_CSUM) does with a partial TCP checksum: sum from the TCP header on, complement, store. */
function finishAsDevice(b: Uint8Array): Uint8Array {
  const out = b.slice();
  const l4 = out[0]! >> 4 === 6 ? 40 : (out[0]! & 0x0f) * 4;
  const c = ~referenceSum(out, l4, out.length) & 0xffff;
  out[l4 + 16] = c >>> 8;
  out[l4 + 17] = c & 0xff;
  return out;
}

describe('Internet checksum over native memory (inet-checksum.ts)', () => {
  it('equals the RFC 1071 sum for every start alignment and odd or even lengths', () => {
    const mem = new ChecksumMemory(new ArrayBuffer(4096));
    for (let i = 0; i < mem.u8.length; i++) mem.u8[i] = (i * 131 + 7) & 0xff;
    for (const from of [0, 2, 4, 6, 18, 38]) {
      for (const len of [0, 1, 2, 3, 5, 15, 16, 17, 20, 33, 1399, 1400, 2001]) {
        const ours = fold(mem.sum(from, from + len, 0));
        // Little-endian word order: the byte swap of the network-order sum.
        const swapped = ((ours & 0xff) << 8) | (ours >>> 8);
        expect(swapped, `from ${from} len ${len}`).to.equal(referenceSum(mem.u8, from, from + len));
      }
    }
  });
});

describe('TSO super-packet splitting (tso-split.ts)', () => {
  for (const v6 of [false, true]) {
    it(`cuts an IPv${v6 ? 6 : 4} super-packet into MSS segments with valid checksums, sequence numbers${v6 ? '' : ', IP IDs'} and flags`, () => {
      const mss = v6 ? 1348 : 1368; // MTU 1420 less IP, TCP and timestamp option
      const payload = 3 * mss + 101;
      const input = superPacket(v6, payload, mss, 0x18 | 0x01 | 0x80); // ACK PSH FIN CWR
      const segs = split(input);
      expect(segs).to.have.length(4);
      const hdrLen = (v6 ? 40 : 20) + 32;
      let seq = 0xfffff000;
      segs.forEach((s, i) => {
        const last = i === segs.length - 1;
        const dv = new DataView(s.buffer, s.byteOffset);
        const body = last ? 101 : mss;
        expect(s.length, `segment ${i} length`).to.equal(hdrLen + body);
        if (v6) expect(dv.getUint16(4), 'payload length').to.equal(s.length - 40);
        else {
          expect(dv.getUint16(2), 'total length').to.equal(s.length);
          expect(dv.getUint16(4), 'IP ID').to.equal((0xfffe + i) & 0xffff);
          expect(ipv4HeaderValid(s), 'IPv4 header checksum').to.equal(true);
        }
        const t = v6 ? 40 : 20;
        expect(dv.getUint32(t + 4), 'sequence').to.equal(seq >>> 0);
        seq += body;
        const flags = s[t + 13]!;
        expect(flags & 0x09, 'FIN/PSH only on the last').to.equal(last ? 0x09 : 0);
        expect(flags & 0x80, 'CWR only on the first').to.equal(i === 0 ? 0x80 : 0);
        expect(tcpChecksumValid(s, s.length), `segment ${i} TCP checksum`).to.equal(true);
        // The payload is the super-packet's, in order.
        const from = VNET + hdrLen + i * mss;
        expect(Buffer.from(s.subarray(hdrLen)).equals(input.subarray(from, from + body))).to.equal(true);
      });
    });
  }

  for (const v6 of [false, true]) {
    it(`IPv${v6 ? 6 : 4}: left partial (for a peer with FEATURE_CSUM_PARTIAL), each segment is what finishing it gives, once a kernel finishes it`, () => {
      const mss = v6 ? 1348 : 1368;
      const input = superPacket(v6, 3 * mss + 101, mss, 0x18);
      const plain: boolean[] = [];
      const partial = split(input, 1420, false, plain);
      const finished = split(input);
      expect(plain, 'plain partial checksums').to.deep.equal([true, true, true, true]);
      partial.forEach((p, i) => {
        expect(tcpChecksumValid(p, p.length), `segment ${i} unfinished`).to.equal(false);
        expect(Buffer.from(finishAsDevice(p)).equals(Buffer.from(finished[i]!)), `segment ${i}`).to.equal(true);
      });
    });
  }

  it('finishes the checksum of a single packet the kernel left partial (NEEDS_CSUM, no GSO)', () => {
    const input = superPacket(false, 333, 0);
    input[1] = 0; // GSO none
    const [p] = split(input);
    expect(p).to.have.length(20 + 32 + 333);
    expect(tcpChecksumValid(p!, p!.length)).to.equal(true);
  });

  it('passes a packet without a virtio_net_hdr request through unchanged', () => {
    const input = Buffer.alloc(VNET + 84);
    input[VNET] = 0x45;
    for (let i = VNET + 1; i < input.length; i++) input[i] = i & 0xff;
    const [p] = split(input);
    expect(Buffer.from(p!).equals(input.subarray(VNET))).to.equal(true);
  });

  it('cuts segments the kernel made larger than the tunnel MTU (a raised interface MTU) to fit it', () => {
    const input = superPacket(false, 5000, 1500);
    const segs = split(input);
    expect(segs.map((s) => s.length)).to.deep.equal([1420, 1420, 1420, 52 + 5000 - 3 * 1368]);
    let seq = 0xfffff000;
    for (const s of segs) {
      expect(new DataView(s.buffer, s.byteOffset).getUint32(24), 'sequence').to.equal(seq >>> 0);
      seq += s.length - 52;
      expect(tcpChecksumValid(s, s.length)).to.equal(true);
    }
  });

  it('refuses what it cannot split: a packet over the MTU without GSO, bad offsets, unknown GSO types', () => {
    const s = splitter();
    const big = superPacket(false, 1500, 0);
    big[1] = 0; // GSO none
    s.input.set(big);
    expect(s.load(big.length), 'packet over the MTU').to.equal(0);
    const bad = superPacket(false, 5000, 1000);
    bad.writeUInt16LE(24, 6); // csum_start not the IPv4 header length
    s.input.set(bad);
    expect(s.load(bad.length), 'csum_start').to.equal(0);
    const udp = superPacket(false, 5000, 1000);
    udp[1] = 5; // GSO UDP_L4, never asked for
    s.input.set(udp);
    expect(s.load(udp.length), 'UDP GSO').to.equal(0);
    expect(s.load(VNET), 'empty').to.equal(0);
  });
});
