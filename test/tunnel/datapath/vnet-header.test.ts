import { expect } from 'chai';
import { vnetHeaderAllowed, writePartialHeader } from '../../../src/tunnel/datapath/vnet-header.js';

/** virtio_net_hdr ‖ a 1000-byte IPv4 packet of protocol `proto`. */
function packet(h: { flags?: number; gso?: number; hdrLen?: number; gsoSize?: number; start?: number; offset?: number }, proto = 6, version = 4): Uint8Array {
  const b = new Uint8Array(10 + 1000);
  const v = new DataView(b.buffer);
  b[0] = h.flags ?? 0;
  b[1] = h.gso ?? 0;
  v.setUint16(2, h.hdrLen ?? 0, true);
  v.setUint16(4, h.gsoSize ?? 0, true);
  v.setUint16(6, h.start ?? 0, true);
  v.setUint16(8, h.offset ?? 0, true);
  if (version === 4) {
    b[10] = 0x45;
    b[10 + 9] = proto;
  } else {
    b[10] = 0x60;
    b[10 + 6] = proto;
  }
  return b;
}

const ok = (b: Uint8Array) => vnetHeaderAllowed(b, 0, b.length);

describe('virtio_net_hdr from the peer', () => {
  it('allows no offload, partial TCP/UDP checksums and TCP super-packets our TUN makes', () => {
    expect(ok(packet({}))).to.equal(true);
    expect(ok(packet({ flags: 1, start: 20, offset: 16 }))).to.equal(true);
    expect(ok(packet({ flags: 1, start: 20, offset: 6 }, 17))).to.equal(true);
    expect(ok(packet({ flags: 1, gso: 1, hdrLen: 52, gsoSize: 900, start: 20, offset: 16 }))).to.equal(true);
    expect(ok(packet({ flags: 1, gso: 4, hdrLen: 72, gsoSize: 900, start: 40, offset: 16 }, 6, 6))).to.equal(true);
  });

  it('refuses anything else', () => {
    expect(ok(packet({ flags: 2 })), 'unknown flag').to.equal(false);
    expect(ok(packet({ gso: 1, hdrLen: 52, gsoSize: 900 })), 'GSO without NEEDS_CSUM').to.equal(false);
    expect(ok(packet({ flags: 1, start: 0, offset: 16 })), 'checksum start not at L4').to.equal(false);
    expect(ok(packet({ flags: 1, start: 20, offset: 100 })), 'checksum offset outside the header').to.equal(false);
    expect(ok(packet({ flags: 1, start: 20, offset: 16 }, 1)), 'ICMP with a partial checksum').to.equal(false);
    expect(ok(packet({ flags: 1, gso: 4, hdrLen: 52, gsoSize: 900, start: 20, offset: 16 })), 'TCPv6 GSO on IPv4').to.equal(false);
    expect(ok(packet({ flags: 1, gso: 5, hdrLen: 28, gsoSize: 900, start: 20, offset: 6 }, 17)), 'UDP GSO').to.equal(false);
    expect(ok(packet({ flags: 1, gso: 1, hdrLen: 5000, gsoSize: 900, start: 20, offset: 16 })), 'header beyond the packet').to.equal(false);
    expect(ok(packet({ flags: 1, gso: 1, hdrLen: 52, gsoSize: 0, start: 20, offset: 16 })), 'zero segment size').to.equal(false);
    expect(ok(packet({ flags: 1, gso: 1, hdrLen: 52, gsoSize: 5000, start: 20, offset: 16 })), 'segment beyond the packet').to.equal(false);
    expect(vnetHeaderAllowed(new Uint8Array(12), 0, 12), 'too short').to.equal(false);
  });
});

describe('virtio_net_hdr for a packet whose checksum the peer left partial (DATA_FLAG_CSUM_PARTIAL)', () => {
  const header = (b: Uint8Array) => [...b.subarray(0, 10)];

  it('NEEDS_CSUM at the end of the IP header, at the TCP or UDP field; no GSO; one our own check allows', () => {
    for (const [proto, version, start, offset] of [
      [6, 4, 20, 16],
      [17, 4, 20, 6],
      [6, 6, 40, 16],
      [17, 6, 40, 6],
    ] as const) {
      const b = packet({ flags: 0xff, gso: 0xff, hdrLen: 0xffff }, proto, version);
      expect(writePartialHeader(b, 0, b.length - 10), `proto ${proto} IPv${version}`).to.equal(true);
      expect(header(b)).to.deep.equal([1, 0, 0, 0, 0, 0, start, 0, offset, 0]);
      expect(ok(b), `proto ${proto} IPv${version} passes vnetHeaderAllowed`).to.equal(true);
    }
  });

  it('takes the smallest packets: a UDP datagram of 8 bytes over IPv4 (36 bytes), an empty one over IPv6 (48)', () => {
    const v4 = packet({}, 17);
    expect(writePartialHeader(v4, 0, 36), 'IPv4').to.equal(true);
    expect(header(v4)).to.deep.equal([1, 0, 0, 0, 0, 0, 20, 0, 6, 0]);
    const v6 = packet({}, 17, 6);
    expect(writePartialHeader(v6, 0, 48), 'IPv6').to.equal(true);
    expect(writePartialHeader(v6, 0, 47), 'IPv6 without room for the UDP checksum').to.equal(false);
  });

  it('refuses other protocols, IPv6 extension headers, IPv4 fragments and packets too short', () => {
    const icmp = packet({}, 1);
    expect(writePartialHeader(icmp, 0, icmp.length - 10), 'ICMP').to.equal(false);
    const ext = packet({}, 0, 6); // hop-by-hop options first
    expect(writePartialHeader(ext, 0, ext.length - 10), 'IPv6 extension header').to.equal(false);
    const frag = packet({}, 6);
    frag[10 + 6] = 0x20; // MF
    expect(writePartialHeader(frag, 0, frag.length - 10), 'IPv4 fragment').to.equal(false);
    const short = packet({}, 6);
    expect(writePartialHeader(short, 0, 30), 'shorter than its TCP checksum field').to.equal(false);
  });
});
