import { expect } from 'chai';
import fc from 'fast-check';
import { parseCidr } from '../../src/config/cidr.js';
import { AllowedIPs, type AllowedCidr } from '../../src/tunnel/allowed-ips.js';
import { addr, v4Packet, v6Packet } from '../helpers/ip-packet.js';

const cidrs = (...texts: string[]) => texts.map((t) => parseCidr(t, { hostBits: 'clear' }));

/** The reference: compare the first `prefix` bits one at a time. */
function naiveContains(list: readonly AllowedCidr[], bytes: Uint8Array): boolean {
  return list.some((c) => {
    if (c.bytes.length !== bytes.length) return false;
    for (let bit = 0; bit < c.prefix; bit++) {
      const byte = bit >> 3;
      const shift = 7 - (bit & 7);
      if (((c.bytes[byte]! >> shift) & 1) !== ((bytes[byte]! >> shift) & 1)) return false;
    }
    return true;
  });
}

describe('AllowedIPs', () => {
  it('matches IPv4 sources and destinations by prefix', () => {
    const a = new AllowedIPs(cidrs('10.77.0.2/32', '192.168.16.0/20'));
    expect(a.containsSource(v4Packet('10.77.0.2', '1.1.1.1'), 0, 28)).to.equal(true);
    expect(a.containsSource(v4Packet('10.77.0.3', '10.77.0.2'), 0, 28)).to.equal(false);
    expect(a.containsDestination(v4Packet('10.77.0.3', '10.77.0.2'), 0, 28)).to.equal(true);
    expect(a.containsSource(v4Packet('192.168.31.255', '0.0.0.0'), 0, 28)).to.equal(true);
    expect(a.containsSource(v4Packet('192.168.32.0', '0.0.0.0'), 0, 28)).to.equal(false);
    expect(a.containsSource(v4Packet('192.168.15.255', '0.0.0.0'), 0, 28)).to.equal(false);
  });

  it('matches IPv6 at /128, /64 and across 32-bit word boundaries', () => {
    const a = new AllowedIPs(cidrs('fd77::2/128', '2001:db8:1::/48', '2001:db8:ff00::/33', 'fe80::/63'));
    const src = (s: string) => a.containsSource(v6Packet(s, '::'), 0, 48);
    expect(src('fd77::2')).to.equal(true);
    expect(src('fd77::3')).to.equal(false);
    expect(src('fd77::2:0')).to.equal(false);
    expect(src('2001:db8:1:ffff:ffff:ffff:ffff:ffff')).to.equal(true);
    expect(src('2001:db8:2::')).to.equal(false);
    expect(src('2001:db8:8000::')).to.equal(true); // /33: the first bit of word 1 is set
    expect(src('2001:db8:7fff::')).to.equal(false);
    expect(src('fe80::1:0:0:1')).to.equal(true); // /63: the last bit of word 1 is free
    expect(src('fe80:0:0:2::1')).to.equal(false);
    expect(a.containsDestination(v6Packet('::', 'fd77::2'), 0, 48)).to.equal(true);
  });

  it('/0 matches every address of its family and none of the other', () => {
    const v4all = new AllowedIPs(cidrs('0.0.0.0/0'));
    expect(v4all.contains(addr('255.255.255.255'))).to.equal(true);
    expect(v4all.contains(addr('0.0.0.0'))).to.equal(true);
    expect(v4all.contains(addr('::'))).to.equal(false);
    expect(v4all.containsSource(v6Packet('::1', '::1'), 0, 40)).to.equal(false);
    const v6all = new AllowedIPs(cidrs('::/0'));
    expect(v6all.contains(addr('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'))).to.equal(true);
    expect(v6all.contains(addr('10.0.0.1'))).to.equal(false);
    expect(v6all.containsSource(v4Packet('10.0.0.1', '10.0.0.1'), 0, 20)).to.equal(false);
  });

  it('/32 and /128 match exactly one address; host bits in a CIDR are ignored', () => {
    const a = new AllowedIPs([parseCidr('10.0.0.1/32', { hostBits: 'keep' }), parseCidr('10.1.2.3/8', { hostBits: 'keep' })]);
    expect(a.contains(addr('10.0.0.1'))).to.equal(true);
    expect(a.contains(addr('11.0.0.1'))).to.equal(false);
    expect(a.contains(addr('10.200.0.0'))).to.equal(true);
    const b = new AllowedIPs(cidrs('2001:db8::ffff/128'));
    expect(b.contains(addr('2001:db8::ffff'))).to.equal(true);
    expect(b.contains(addr('2001:db8::fffe'))).to.equal(false);
  });

  it('an empty list matches nothing', () => {
    const a = new AllowedIPs([]);
    expect(a.contains(addr('10.0.0.1'))).to.equal(false);
    expect(a.containsSource(v6Packet('::1', '::1'), 0, 40)).to.equal(false);
  });

  it('reads packets at an offset inside a larger buffer', () => {
    const a = new AllowedIPs(cidrs('10.0.0.0/8', 'fd00::/8'));
    const p4 = v4Packet('10.9.9.9', '8.8.8.8', 32);
    expect(a.containsSource(p4, 32, 28)).to.equal(true);
    expect(a.containsDestination(p4, 32, 28)).to.equal(false);
    const p6 = v6Packet('fd00::1', '2001:db8::1', 17);
    expect(a.containsSource(p6, 17, 48)).to.equal(true);
    expect(a.containsDestination(p6, 17, 48)).to.equal(false);
  });

  it('rejects garbage: wrong versions, short packets, ranges outside the buffer', () => {
    const a = new AllowedIPs(cidrs('0.0.0.0/0', '::/0'));
    const p4 = v4Packet('10.0.0.1', '10.0.0.2');
    const p6 = v6Packet('::1', '::2');
    expect(a.containsSource(p4, 0, 20)).to.equal(true);
    expect(a.containsSource(p4, 0, 19)).to.equal(false);
    expect(a.containsSource(p6, 0, 40)).to.equal(true);
    expect(a.containsSource(p6, 0, 39)).to.equal(false);
    for (const version of [0, 1, 5, 7, 15]) {
      const p = new Uint8Array(64);
      p[0] = (version << 4) | 5;
      expect(a.containsSource(p, 0, 64), `version ${version}`).to.equal(false);
      expect(a.containsDestination(p, 0, 64), `version ${version}`).to.equal(false);
    }
    expect(a.containsSource(new Uint8Array(0), 0, 0)).to.equal(false);
    expect(a.containsSource(p4, 0, p4.length + 1)).to.equal(false);
    expect(a.containsSource(p4, 9, 20)).to.equal(false);
    expect(a.containsSource(p4, -1, 20)).to.equal(false);
    expect(a.containsSource(p4, Number.NaN, 20)).to.equal(false);
    expect(a.contains(new Uint8Array(5))).to.equal(false);
    expect(a.contains(new Uint8Array(0))).to.equal(false);
  });

  it('refuses malformed CIDRs at construction', () => {
    expect(() => new AllowedIPs([{ family: 4, bytes: new Uint8Array(16), prefix: 8 }])).to.throw(RangeError);
    expect(() => new AllowedIPs([{ family: 4, bytes: new Uint8Array(4), prefix: 33 }])).to.throw(RangeError);
    expect(() => new AllowedIPs([{ family: 6, bytes: new Uint8Array(16), prefix: -1 }])).to.throw(RangeError);
  });

  describe('against a bit-by-bit reference', () => {
    const cidr: fc.Arbitrary<AllowedCidr> = fc.oneof(
      fc.record({ family: fc.constant(4 as const), bytes: fc.uint8Array({ minLength: 4, maxLength: 4 }), prefix: fc.integer({ min: 0, max: 32 }) }),
      fc.record({ family: fc.constant(6 as const), bytes: fc.uint8Array({ minLength: 16, maxLength: 16 }), prefix: fc.integer({ min: 0, max: 128 }) }),
    );
    /** Addresses near the CIDRs (one bit flipped) as well as random ones, so both answers occur. */
    const caseArb = fc.array(cidr, { maxLength: 6 }).chain((list) =>
      fc.tuple(
        fc.constant(list),
        fc.oneof(
          fc.uint8Array({ minLength: 4, maxLength: 4 }),
          fc.uint8Array({ minLength: 16, maxLength: 16 }),
          ...(list.length === 0 ? [] : [
            fc.tuple(fc.constantFrom(...list), fc.nat()).map(([c, n]) => {
              const b = Uint8Array.from(c.bytes);
              if (n % 3 !== 0) b[(n >> 3) % b.length]! ^= 1 << (n & 7);
              return b;
            }),
          ]),
        ),
      ),
    );

    it('contains() agrees with the reference', () => {
      fc.assert(fc.property(caseArb, ([list, bytes]) => {
        expect(new AllowedIPs(list).contains(bytes)).to.equal(naiveContains(list, bytes));
      }), { numRuns: 3000 });
    });

    it('containsSource/containsDestination agree with the reference', () => {
      fc.assert(fc.property(caseArb, fc.nat({ max: 7 }), ([list, bytes], off) => {
        const a = new AllowedIPs(list);
        const v4 = bytes.length === 4;
        const len = v4 ? 20 : 40;
        const buf = new Uint8Array(off + len);
        buf[off] = v4 ? 0x45 : 0x60;
        buf.set(bytes, off + (v4 ? 12 : 8));
        expect(a.containsSource(buf, off, len)).to.equal(naiveContains(list, bytes));
        buf.fill(0, off + 1);
        buf.set(bytes, off + (v4 ? 16 : 24));
        expect(a.containsDestination(buf, off, len)).to.equal(naiveContains(list, bytes));
      }), { numRuns: 2000 });
    });
  });
});
