import { expect } from 'chai';
import fc from 'fast-check';
import { formatCidr, parseCidr } from '../../src/config/cidr.js';
import { NO_PEER, RoutingTable, type RouteCidr } from '../../src/tunnel/routing-table.js';
import { addr, v4Packet, v6Packet } from '../helpers/ip-packet.js';

/** As written, host bits and all: the table must ignore them. */
const cidr = (text: string): RouteCidr => parseCidr(text, { hostBits: 'keep' });

function table(routes: Record<string, number>): RoutingTable {
  const t = new RoutingTable();
  for (const [text, peer] of Object.entries(routes)) t.insert(cidr(text), peer);
  return t;
}

const text = (c: RouteCidr) => formatCidr(c.bytes, c.prefix);

/** The reference: longest prefix by comparing bits one at a time. */
function naiveLookup(routes: ReadonlyMap<string, { c: RouteCidr; peer: number }>, address: Uint8Array): number {
  let best = NO_PEER;
  let bestLen = -1;
  for (const { c, peer } of routes.values()) {
    if (c.bytes.length !== address.length || c.prefix <= bestLen) continue;
    let match = true;
    for (let bit = 0; bit < c.prefix && match; bit++) {
      const byte = bit >> 3;
      const shift = 7 - (bit & 7);
      match = ((c.bytes[byte]! >> shift) & 1) === ((address[byte]! >> shift) & 1);
    }
    if (match) {
      best = peer;
      bestLen = c.prefix;
    }
  }
  return best;
}

/** A prefix's identity regardless of host bits: family, network bits, length. */
function prefixKey(c: RouteCidr): string {
  let bits = '';
  for (let bit = 0; bit < c.prefix; bit++) bits += (c.bytes[bit >> 3]! >> (7 - (bit & 7))) & 1;
  return `${c.family}/${bits}`;
}

describe('RoutingTable', () => {
  it('an empty table routes nothing', () => {
    const t = new RoutingTable();
    expect(t.lookup(addr('10.0.0.1'))).to.equal(NO_PEER);
    expect(t.lookup(addr('::1'))).to.equal(NO_PEER);
    expect(t.lookupDestination(v4Packet('10.0.0.1', '10.0.0.2'), 0, 28)).to.equal(NO_PEER);
    expect(t.size).to.equal(0);
  });

  it('/0 catches every address of its family, and only of its family', () => {
    const t = table({ '0.0.0.0/0': 1 });
    expect(t.lookup(addr('0.0.0.0'))).to.equal(1);
    expect(t.lookup(addr('255.255.255.255'))).to.equal(1);
    expect(t.lookup(addr('::'))).to.equal(NO_PEER);
    t.insert(cidr('::/0'), 2);
    expect(t.lookup(addr('ffff::1'))).to.equal(2);
    expect(t.lookup(addr('10.1.2.3'))).to.equal(1);
  });

  it('/32 and /128 match one address exactly', () => {
    const t = table({ '10.77.0.5/32': 3, 'fd77::5/128': 4 });
    expect(t.lookup(addr('10.77.0.5'))).to.equal(3);
    expect(t.lookup(addr('10.77.0.4'))).to.equal(NO_PEER);
    expect(t.lookup(addr('10.77.0.6'))).to.equal(NO_PEER);
    expect(t.lookup(addr('fd77::5'))).to.equal(4);
    expect(t.lookup(addr('fd77::4'))).to.equal(NO_PEER);
    expect(t.lookup(addr('fd77::5:0'))).to.equal(NO_PEER);
  });

  it('overlapping prefixes: the longest wins, whatever the insertion order', () => {
    const routes = { '10.0.0.0/8': 1, '10.77.0.0/16': 2, '10.77.0.0/24': 3, '10.77.0.5/32': 4 };
    const orders = [Object.entries(routes), Object.entries(routes).reverse(), [2, 0, 3, 1].map((i) => Object.entries(routes)[i]!)];
    for (const order of orders) {
      const t = new RoutingTable();
      for (const [c, peer] of order) t.insert(cidr(c), peer);
      expect(t.lookup(addr('10.77.0.5')), JSON.stringify(order)).to.equal(4);
      expect(t.lookup(addr('10.77.0.6'))).to.equal(3);
      expect(t.lookup(addr('10.77.1.6'))).to.equal(2);
      expect(t.lookup(addr('10.78.0.1'))).to.equal(1);
      expect(t.lookup(addr('11.0.0.1'))).to.equal(NO_PEER);
    }
  });

  it('removal restores the shorter prefix, and a removed prefix no longer routes', () => {
    const t = table({ '10.0.0.0/8': 1, '10.77.0.0/24': 2, '10.77.0.5/32': 3 });
    expect(t.remove(cidr('10.77.0.5/32'), 3)).to.equal(true);
    expect(t.lookup(addr('10.77.0.5'))).to.equal(2);
    expect(t.remove(cidr('10.77.0.0/24'), 2)).to.equal(true);
    expect(t.lookup(addr('10.77.0.5'))).to.equal(1);
    expect(t.remove(cidr('10.0.0.0/8'), 1)).to.equal(true);
    expect(t.lookup(addr('10.77.0.5'))).to.equal(NO_PEER);
    expect(t.size).to.equal(0);
    expect(t.nodeCount, 'no join is left behind').to.equal(0);
    // Removing a shorter prefix keeps the longer ones below it.
    const u = table({ '10.0.0.0/8': 1, '10.77.0.0/24': 2, '10.99.0.0/16': 3 });
    expect(u.remove(cidr('10.0.0.0/8'), 1)).to.equal(true);
    expect(u.lookup(addr('10.77.0.1'))).to.equal(2);
    expect(u.lookup(addr('10.99.3.1'))).to.equal(3);
    expect(u.lookup(addr('10.1.0.1'))).to.equal(NO_PEER);
  });

  it('removes a prefix only for its owner, and only a prefix that is there', () => {
    const t = table({ '10.77.0.0/24': 2 });
    expect(t.remove(cidr('10.77.0.0/24'), 5)).to.equal(false);
    expect(t.remove(cidr('10.77.0.0/25'), 2)).to.equal(false);
    expect(t.remove(cidr('fd77::/24'), 2)).to.equal(false);
    expect(t.lookup(addr('10.77.0.9'))).to.equal(2);
  });

  it('one owner per prefix: inserting it for another peer moves it and names the previous owner', () => {
    const t = new RoutingTable();
    expect(t.insert(cidr('10.77.0.0/24'), 1)).to.equal(NO_PEER);
    expect(t.insert(cidr('10.77.0.0/24'), 2)).to.equal(1);
    expect(t.lookup(addr('10.77.0.1'))).to.equal(2);
    expect(t.size).to.equal(1);
    expect(t.prefixesOf(1)).to.deep.equal([]);
  });

  it('keeps IPv4 and IPv6 apart: ::/0 does not route 10.0.0.1, ::ffff:10.0.0.1 is not 10.0.0.1', () => {
    const t = table({ '::/0': 6, '::ffff:10.0.0.0/120': 7 });
    expect(t.lookup(addr('10.0.0.1'))).to.equal(NO_PEER);
    expect(t.lookup(addr('::ffff:10.0.0.1'))).to.equal(7);
    const u = table({ '0.0.0.0/0': 4 });
    expect(u.lookup(addr('::ffff:10.0.0.1'))).to.equal(NO_PEER);
  });

  it('ignores host bits: 10.77.0.9/24 is 10.77.0.0/24, also when removing', () => {
    const t = table({ '10.77.0.9/24': 1, 'fd77::1:2:3/64': 2 });
    expect(t.lookup(addr('10.77.0.200'))).to.equal(1);
    expect(t.lookup(addr('fd77::ffff'))).to.equal(2);
    expect(t.insert(cidr('10.77.0.0/24'), 1)).to.equal(1);
    expect(t.size).to.equal(2);
    expect(t.prefixesOf(1).map(text)).to.deep.equal(['10.77.0.0/24']);
    expect(t.remove(cidr('10.77.0.77/24'), 1)).to.equal(true);
    expect(t.lookup(addr('10.77.0.200'))).to.equal(NO_PEER);
  });

  it('a join between two branches is not a route', () => {
    // 10.77.0.0/24 and 10.77.1.0/24 part at bit 23: the join 10.77.0.0/23 has no owner.
    const t = table({ '10.77.0.0/24': 1, '10.77.1.0/24': 2 });
    expect(t.lookup(addr('10.77.0.1'))).to.equal(1);
    expect(t.lookup(addr('10.77.1.1'))).to.equal(2);
    expect(t.lookup(addr('10.77.2.1'))).to.equal(NO_PEER);
    expect(t.remove(cidr('10.77.0.0/23'), NO_PEER)).to.equal(false);
    expect(t.nodeCount).to.equal(3);
    t.remove(cidr('10.77.0.0/24'), 1);
    expect(t.nodeCount, 'a join left with one branch goes').to.equal(1);
    t.insert(cidr('10.77.0.0/24'), 1);
    t.insert(cidr('10.77.0.0/23'), 3); // now the join is a route of its own
    expect(t.lookup(addr('10.77.1.1'))).to.equal(2);
    expect(t.remove(cidr('10.77.1.0/24'), 2)).to.equal(true);
    expect(t.lookup(addr('10.77.1.1'))).to.equal(3);
    expect(t.size).to.equal(2);
  });

  it('removePeer takes all of a peer\'s prefixes and leaves the others', () => {
    const t = table({ '10.77.0.2/32': 0, 'fd77::2/128': 0, '10.77.0.3/32': 1, '10.0.0.0/8': 0, '192.168.10.0/24': 1 });
    expect(t.removePeer(0)).to.equal(3);
    expect(t.lookup(addr('10.77.0.2'))).to.equal(NO_PEER);
    expect(t.lookup(addr('fd77::2'))).to.equal(NO_PEER);
    expect(t.lookup(addr('10.77.0.3'))).to.equal(1);
    expect(t.lookup(addr('192.168.10.77'))).to.equal(1);
    expect(t.prefixesOf(1).map(text).sort()).to.deep.equal(['10.77.0.3/32', '192.168.10.0/24']);
    expect(t.removePeer(0)).to.equal(0);
  });

  it('reads destination and source from IPv4 and IPv6 packets at an offset, refusing what is not a packet', () => {
    const t = table({ '10.77.0.2/32': 0, '10.77.0.3/32': 1, 'fd77::2/128': 0, 'fd77::3/128': 1 });
    const p4 = v4Packet('10.77.0.3', '10.77.0.2', 10);
    expect(t.lookupDestination(p4, 10, 28)).to.equal(0);
    expect(t.lookupSource(p4, 10, 28)).to.equal(1);
    const p6 = v6Packet('fd77::2', 'fd77::3', 3);
    expect(t.lookupDestination(p6, 3, 48)).to.equal(1);
    expect(t.lookupSource(p6, 3, 48)).to.equal(0);
    expect(t.lookupDestination(p4, 10, 19), 'shorter than an IPv4 header').to.equal(NO_PEER);
    expect(t.lookupDestination(p6, 3, 39), 'shorter than an IPv6 header').to.equal(NO_PEER);
    expect(t.lookupDestination(p4, 10, p4.length), 'beyond the buffer').to.equal(NO_PEER);
    expect(t.lookupDestination(p4, -1, 28)).to.equal(NO_PEER);
    const other = v4Packet('10.77.0.3', '10.77.0.2');
    other[0] = 0x55; // version 5
    expect(t.lookupDestination(other, 0, 28)).to.equal(NO_PEER);
    expect(t.lookup(new Uint8Array(5))).to.equal(NO_PEER);
  });

  it("allowsSource: the source's longest match must be that peer", () => {
    // Peer 0 has 10.0.0.0/8, peer 1 the narrower 10.1.0.0/16 inside it.
    const t = table({ '10.0.0.0/8': 0, '10.1.0.0/16': 1 });
    expect(t.allowsSource(0, v4Packet('10.2.0.5', '10.0.0.1'), 0, 28)).to.equal(true);
    expect(t.allowsSource(1, v4Packet('10.1.0.5', '10.0.0.1'), 0, 28)).to.equal(true);
    expect(t.allowsSource(0, v4Packet('10.1.0.5', '10.0.0.1'), 0, 28), "inside peer 0's /8, but peer 1 owns the /16").to.equal(false);
    expect(t.allowsSource(1, v4Packet('10.2.0.5', '10.0.0.1'), 0, 28)).to.equal(false);
    expect(t.allowsSource(0, v4Packet('11.0.0.1', '10.0.0.1'), 0, 28)).to.equal(false);
    expect(t.allowsSource(NO_PEER, v4Packet('11.0.0.1', '10.0.0.1'), 0, 28), 'no owner is not a peer').to.equal(false);
  });

  it('refuses a CIDR that does not fit its family, and a negative peer', () => {
    const t = new RoutingTable();
    expect(() => t.insert({ family: 4, bytes: new Uint8Array(16), prefix: 8 }, 0)).to.throw(RangeError);
    expect(() => t.insert({ family: 4, bytes: new Uint8Array(4), prefix: 33 }, 0)).to.throw(RangeError);
    expect(() => t.insert({ family: 6, bytes: new Uint8Array(16), prefix: 129 }, 0)).to.throw(RangeError);
    expect(() => t.insert(cidr('10.0.0.0/8'), -1)).to.throw(RangeError);
  });

  it('agrees with a bit-by-bit longest match through random inserts, moves and removals', () => {
    // Prefixes from a few close networks, so that they overlap and part at every depth.
    const v4 = fc.record({
      family: fc.constant(4 as const),
      bytes: fc.tuple(fc.constantFrom(10, 11), fc.constantFrom(0, 77, 128), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 })).map((b) => Uint8Array.from(b)),
      prefix: fc.integer({ min: 0, max: 32 }),
    });
    const v6 = fc.record({
      family: fc.constant(6 as const),
      bytes: fc.tuple(fc.constantFrom(0xfd, 0x20), fc.uint8Array({ minLength: 15, maxLength: 15 })).map(([a, rest]) => Uint8Array.from([a, ...rest.map((x, i) => (i < 6 ? x & 0x81 : x))])),
      prefix: fc.integer({ min: 0, max: 128 }),
    });
    // A removal names a prefix present (picked by index), by its owner or by another peer.
    const op = fc.record({ remove: fc.boolean(), c: fc.oneof(v4, v6), peer: fc.integer({ min: 0, max: 4 }), pick: fc.nat() });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }), (ops, noise) => {
        const t = new RoutingTable();
        const model = new Map<string, { c: RouteCidr; peer: number }>();
        for (const { remove, c: fresh, peer, pick } of ops) {
          const present = [...model.values()];
          const c = remove && present.length > 0 ? present[pick % present.length]!.c : fresh;
          const key = prefixKey(c);
          if (remove) {
            const owned = model.get(key)?.peer === peer;
            expect(t.remove(c, peer)).to.equal(owned);
            if (owned) model.delete(key);
          } else {
            expect(t.insert(c, peer)).to.equal(model.get(key)?.peer ?? NO_PEER);
            model.set(key, { c, peer });
          }
          expect(t.size).to.equal(model.size);
          // Path-compressed: a join parts two branches, so joins < owned prefixes per family.
          expect(t.nodeCount).to.be.at.most(Math.max(0, 2 * model.size - 1));
        }
        // Probe every prefix's own address and neighbours of it, and a few others.
        const probes: Uint8Array[] = [addr('10.0.0.1'), addr('11.128.0.0'), addr('fd00::1'), addr('::')];
        for (const { c } of model.values()) {
          probes.push(c.bytes);
          for (const n of noise) {
            const p = c.bytes.slice();
            p[p.length - 1]! ^= n;
            p[Math.min(p.length - 1, c.prefix >> 3)]! ^= n;
            probes.push(p);
          }
        }
        for (const p of probes) expect(t.lookup(p), Buffer.from(p).toString('hex')).to.equal(naiveLookup(model, p));
        for (let peer = 0; peer <= 4; peer++) {
          const want = [...model.values()].filter((r) => r.peer === peer).map((r) => prefixKey(r.c)).sort();
          expect(t.prefixesOf(peer).map(prefixKey).sort()).to.deep.equal(want);
        }
      }),
      { numRuns: 300 },
    );
  });
});
