import { expect } from 'chai';
import { TcpCoalescer } from '../../../src/tunnel/datapath/gro.js';

const VNET = 10;

/** An IPv4/TCP segment with 10 bytes of scratch in front, as the RX worker hands it over. */
function segment(seq: number, payload: number, opts: { flags?: number; srcPort?: number } = {}): Uint8Array {
  const len = 20 + 32 + payload;
  const b = new Uint8Array(VNET + len);
  const p = VNET;
  b[p] = 0x45;
  b[p + 2] = len >> 8;
  b[p + 3] = len & 0xff;
  b[p + 6] = 0x40; // DF
  b[p + 8] = 64;
  b[p + 9] = 6;
  b.set([10, 77, 0, 1, 10, 77, 0, 2], p + 12);
  const t = p + 20;
  const port = opts.srcPort ?? 40000;
  b[t] = port >> 8;
  b[t + 1] = port & 0xff;
  b[t + 2] = 0x14;
  b[t + 3] = 0x51;
  new DataView(b.buffer).setUint32(t + 4, seq);
  new DataView(b.buffer).setUint32(t + 8, 777);
  b[t + 12] = 8 << 4; // 32-byte TCP header (timestamps)
  b[t + 13] = opts.flags ?? 0x10;
  b[t + 14] = 0x01;
  b.set([1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2], t + 20);
  for (let i = 0; i < payload; i++) b[p + 52 + i] = (seq + i) & 0xff;
  return b;
}

function collect(): { out: Uint8Array[]; c: TcpCoalescer; add: (s: Uint8Array) => void } {
  const out: Uint8Array[] = [];
  const c = new TcpCoalescer({ write: (buf, len) => out.push(buf.slice(0, len)) });
  // What the RX worker does with a packet the coalescer does not take.
  const add = (s: Uint8Array) => {
    if (!c.offer(s, VNET, s.length - VNET)) out.push(s.slice());
  };
  return { out, c, add };
}

describe('TCP segment coalescing (userspace GRO)', () => {
  it('merges consecutive segments into one GSO super-packet with a partial checksum', () => {
    const { out, c, add } = collect();
    for (let i = 0; i < 3; i++) add(segment(1000 + i * 1000, 1000));
    add(segment(4000, 400));
    c.flush();
    expect(out).to.have.length(1);
    const v = out[0]!;
    const dv = new DataView(v.buffer);
    expect(v[0], 'NEEDS_CSUM').to.equal(1);
    expect(v[1], 'GSO TCPv4').to.equal(1);
    expect(dv.getUint16(2, true), 'hdr_len').to.equal(52);
    expect(dv.getUint16(4, true), 'gso_size').to.equal(1000);
    expect(dv.getUint16(6, true), 'csum_start').to.equal(20);
    expect(dv.getUint16(8, true), 'csum_offset').to.equal(16);
    const ip = v.subarray(VNET);
    expect(dv.getUint16(VNET + 2), 'IP total length').to.equal(52 + 3400);
    // The IPv4 header checksum verifies.
    let sum = 0;
    for (let i = 0; i < 20; i += 2) sum += (ip[i]! << 8) | ip[i + 1]!;
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    expect(sum).to.equal(0xffff);
    // Payload bytes are the segments' in order.
    for (let i = 0; i < 3400; i++) expect(ip[52 + i]).to.equal((1000 + i) & 0xff);
  });

  it('a lone segment leaves with its checksum partial (NEEDS_CSUM, no GSO); a pure ACK passes through unchanged', () => {
    const { out, c, add } = collect();
    const a = segment(1000, 500);
    const ack = segment(9, 0);
    const gap = segment(5000, 500);
    add(a);
    add(ack);
    add(gap);
    c.flush();
    expect(out.map((o) => o.length)).to.deep.equal([a.length, ack.length, gap.length]);
    for (const [o, s] of [
      [out[0]!, a],
      [out[2]!, gap],
    ] as const) {
      const dv = new DataView(o.buffer);
      expect([o[0], o[1]], 'NEEDS_CSUM, GSO_NONE').to.deep.equal([1, 0]);
      expect([dv.getUint16(6, true), dv.getUint16(8, true)], 'csum_start, csum_offset').to.deep.equal([20, 16]);
      // Everything but the TCP checksum field is the segment's own.
      const field = VNET + 20 + 16;
      expect([...o.subarray(VNET, field), ...o.subarray(field + 2)]).to.deep.equal([...s.subarray(VNET, field), ...s.subarray(field + 2)]);
      // The field holds the pseudo-header sum: addresses, protocol, TCP length.
      let ph = 0x0a4d + 0x0001 + 0x0a4d + 0x0002 + 6 + (32 + 500);
      while (ph > 0xffff) ph = (ph & 0xffff) + (ph >>> 16);
      expect(dv.getUint16(field)).to.equal(ph);
    }
    expect(out[1]!.subarray(VNET)).to.deep.equal(ack.subarray(VNET));
    expect(c.merged).to.equal(0);
  });

  it('PSH ends a run; another flow starts a new one', () => {
    const { out, c, add } = collect();
    add(segment(0, 100));
    add(segment(100, 100, { flags: 0x18 }));
    add(segment(200, 100));
    add(segment(0, 100, { srcPort: 40001 }));
    add(segment(100, 100, { srcPort: 40001 }));
    c.flush();
    expect(out).to.have.length(3);
    expect(out[0]![1]).to.equal(1);
    expect(out[0]![VNET + 20 + 13], 'PSH carried over').to.equal(0x18);
    expect([out[1]![0], out[1]![1]], 'the lone segment after the push: NEEDS_CSUM, no GSO').to.deep.equal([1, 0]);
    expect(out[2]![1]).to.equal(1);
    expect(c.segmentsMerged).to.equal(4);
  });

  it('SYN, FIN and non-TCP packets are never merged', () => {
    const { out, c, add } = collect();
    add(segment(0, 100, { flags: 0x11 }));
    add(segment(100, 100, { flags: 0x11 }));
    const udp = segment(0, 100);
    udp[VNET + 9] = 17;
    add(udp);
    c.flush();
    expect(out).to.have.length(3);
    expect(c.merged).to.equal(0);
  });
});
