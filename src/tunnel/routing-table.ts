// Cryptokey routing: which peer owns an inner address. A packet read from the
// TUN goes to the peer whose AllowedIPs hold its destination by longest-prefix
// match; a packet that opens under a peer's keys is delivered only if that
// same lookup of its source names that peer. One owner per prefix; different
// prefixes may overlap (the longest wins), as in WireGuard.
//
// The structure is WireGuard's (allowedips.c): per address family a binary
// trie keyed by prefix, path-compressed, so a node is either a prefix with
// its owner or a join where two branches part, and a lookup visits at most
// one node per distinct prefix length on the way down (about log2(N) for N
// scattered host routes, never more than 33 or 129). Addresses are compared
// as 32-bit words read straight from the packet: a lookup allocates nothing.
//
// Measured (bench/routing-table.ts, `make bench-routing`; Node 20 on this
// 2-core host while other jobs ran, so per CPU-second of the process; random
// destinations among N scattered host routes, /32 or /128; the linear
// AllowedIPs class holds the same routes and only answers "contained?",
// stopping at the first hit, which is less than routing needs):
//
//   prefixes  family  this trie     linear AllowedIPs   hash per prefix length
//   1         IPv4    32 M/s        41 M/s              33 M/s
//   1         IPv6    19 M/s        24 M/s              -
//   100       IPv4    9.3 M/s       4.5 M/s             25 M/s
//   100       IPv6    7.3 M/s       5.8 M/s             -
//   10 000    IPv4    3.4 M/s       81 k/s              19 M/s
//   10 000    IPv6    3.0 M/s       91 k/s              -
//
// So the trie is ~40x the linear scan at 10 000 peers and about even at 1.
// A hash per prefix length is faster for IPv4 host routes (one Map probe),
// but costs a probe per distinct length present, and a 128-bit IPv6 key
// does not fit a Map without building a string (an allocation) per packet;
// the trie does both families alike, allocation-free, in bounded depth.
//
// Peers are small integers (an index into the interface's peer list); a
// lookup that finds no owner returns NO_PEER.
import type { Cidr } from '../config/cidr.js';
import { ipVersion, V4_DST, V4_SRC, V6_DST, V6_SRC, word, wordMask } from './ip-header.js';

/** The part of a Cidr the table needs (what structured clone gives a worker will do). */
export type RouteCidr = Pick<Cidr, 'family' | 'bytes' | 'prefix'>;

export const NO_PEER = -1;

/** A prefix with its owner, or a peer-less join with exactly two children. */
class Node {
  /** The network, masked to `bits`, as big-endian words (IPv4 uses w0 only). */
  readonly w0: number;
  readonly w1: number;
  readonly w2: number;
  readonly w3: number;
  readonly m0: number;
  readonly m1: number;
  readonly m2: number;
  readonly m3: number;
  /** Children differ at bit `bits` (counting from 0 at the top): 0 or 1 there. */
  child0: Node | null = null;
  child1: Node | null = null;
  parent: Node | null = null;

  constructor(key: Int32Array, readonly bits: number, public peer: number) {
    this.m0 = wordMask(bits);
    this.m1 = wordMask(bits - 32);
    this.m2 = wordMask(bits - 64);
    this.m3 = wordMask(bits - 96);
    this.w0 = key[0]! & this.m0;
    this.w1 = key[1]! & this.m1;
    this.w2 = key[2]! & this.m2;
    this.w3 = key[3]! & this.m3;
  }

  /** Whether this node's prefix holds the address `a`. */
  holds(a: Int32Array): boolean {
    return (a[0]! & this.m0) === this.w0 && (a[1]! & this.m1) === this.w1 && (a[2]! & this.m2) === this.w2 && (a[3]! & this.m3) === this.w3;
  }

  key(): Int32Array {
    return Int32Array.of(this.w0, this.w1, this.w2, this.w3);
  }
}

/** Bit `i` (0 = most significant) of a 4-word key. */
function bitAt(key: Int32Array, i: number): 0 | 1 {
  return ((key[i >>> 5]! >>> (31 - (i & 31))) & 1) as 0 | 1;
}

/** How many leading bits two keys share (up to 128). */
function commonBits(a: Int32Array, b: Int32Array): number {
  for (let w = 0; w < 4; w++) {
    const x = a[w]! ^ b[w]!;
    if (x !== 0) return w * 32 + Math.clz32(x);
  }
  return 128;
}

/** One family's trie; inserts and removals keep it path-compressed. */
class Trie {
  root: Node | null = null;
  size = 0;

  constructor(readonly maxBits: 32 | 128) {}

  /** Sets the owner of key/bits; returns the previous owner (NO_PEER if it was new). */
  insert(key: Int32Array, bits: number, peer: number): number {
    let parent: Node | null = null;
    let node = this.root;
    while (node !== null && node.bits <= bits && node.holds(key)) {
      if (node.bits === bits) {
        const previous = node.peer;
        node.peer = peer;
        if (previous === NO_PEER) this.size++;
        return previous;
      }
      parent = node;
      node = bitAt(key, node.bits) === 0 ? node.child0 : node.child1;
    }
    this.size++;
    const fresh = new Node(key, bits, peer);
    if (node === null) {
      this.attach(parent, fresh);
      return NO_PEER;
    }
    // `node` sits where `fresh` belongs but is not a prefix of it: either
    // `fresh` is a prefix of `node`, or a join goes where the two part.
    const common = Math.min(bits, commonBits(node.key(), fresh.key()));
    if (common === bits) {
      this.link(fresh, node);
      this.attach(parent, fresh);
      return NO_PEER;
    }
    const join = new Node(key, common, NO_PEER);
    this.link(join, node);
    this.link(join, fresh);
    this.attach(parent, join);
    return NO_PEER;
  }

  /** The node of exactly key/bits that has an owner, if any. */
  find(key: Int32Array, bits: number): Node | null {
    let node = this.root;
    while (node !== null && node.bits <= bits && node.holds(key)) {
      if (node.bits === bits) return node.peer === NO_PEER ? null : node;
      node = bitAt(key, node.bits) === 0 ? node.child0 : node.child1;
    }
    return null;
  }

  /** Takes a prefix out; a join left with one branch goes too (allowedips.c, remove_node). */
  remove(node: Node): void {
    node.peer = NO_PEER;
    this.size--;
    if (node.child0 !== null && node.child1 !== null) return; // now a join
    const child = node.child0 ?? node.child1;
    const parent = node.parent;
    this.replace(node, child);
    if (child === null && parent !== null && parent.peer === NO_PEER) {
      this.replace(parent, parent.child0 ?? parent.child1);
    }
  }

  /** Every owned node (with `joins`, the joins too), parents before children. */
  nodes(joins = false): Node[] {
    const out: Node[] = [];
    const stack = this.root ? [this.root] : [];
    for (let n = stack.pop(); n !== undefined; n = stack.pop()) {
      if (joins || n.peer !== NO_PEER) out.push(n);
      if (n.child1) stack.push(n.child1);
      if (n.child0) stack.push(n.child0);
    }
    return out;
  }

  /** Hangs `child` under `parent` on the side its first bit after parent's prefix says. */
  private link(parent: Node, child: Node): void {
    if (bitAt(child.key(), parent.bits) === 0) parent.child0 = child;
    else parent.child1 = child;
    child.parent = parent;
  }

  /** `child` replaces whatever hung on its side of `parent` (the root when parent is null). */
  private attach(parent: Node | null, child: Node): void {
    if (parent === null) {
      this.root = child;
      child.parent = null;
    } else {
      this.link(parent, child);
    }
  }

  /** Puts `next` (maybe null) where `old` hung. */
  private replace(old: Node, next: Node | null): void {
    const parent = old.parent;
    if (parent === null) this.root = next;
    else if (parent.child0 === old) parent.child0 = next;
    else parent.child1 = next;
    if (next !== null) next.parent = parent;
    old.parent = null;
  }
}

export class RoutingTable {
  private readonly v4 = new Trie(32);
  private readonly v6 = new Trie(128);

  /** Owned prefixes, both families. */
  get size(): number {
    return this.v4.size + this.v6.size;
  }

  /**
   * Nodes held, joins included: at most one join per owned prefix beyond
   * the first of each family, however prefixes came and went (what keeps
   * the table's memory proportional to its routes).
   */
  get nodeCount(): number {
    return this.v4.nodes(true).length + this.v6.nodes(true).length;
  }

  /**
   * Gives `peer` the prefix; host bits are ignored (10.77.0.9/24 is
   * 10.77.0.0/24). A prefix has one owner: one that had another owner moves
   * (as `wg set` does), and the previous owner is returned (NO_PEER if none).
   * The config refuses such a clash before it gets here (config.ts).
   */
  insert(cidr: RouteCidr, peer: number): number {
    if (!Number.isInteger(peer) || peer < 0) throw new RangeError(`routing table: a peer is an index >= 0, got ${peer}`);
    const { trie, key } = this.place(cidr);
    return trie.insert(key, cidr.prefix, peer);
  }

  /** Takes the prefix away from `peer`; false if `peer` did not own it. */
  remove(cidr: RouteCidr, peer: number): boolean {
    const { trie, key } = this.place(cidr);
    const node = trie.find(key, cidr.prefix);
    if (node === null || node.peer !== peer) return false;
    trie.remove(node);
    return true;
  }

  /** Takes every prefix of `peer` away (a removed peer); returns how many it had. */
  removePeer(peer: number): number {
    let n = 0;
    for (const trie of [this.v4, this.v6]) {
      for (const node of trie.nodes()) {
        if (node.peer === peer) {
          trie.remove(node);
          n++;
        }
      }
    }
    return n;
  }

  /** The prefixes `peer` owns, IPv4 first, each family shortest first along a branch. */
  prefixesOf(peer: number): RouteCidr[] {
    const out: RouteCidr[] = [];
    for (const [trie, family] of [[this.v4, 4], [this.v6, 6]] as const) {
      for (const node of trie.nodes()) {
        if (node.peer !== peer) continue;
        const bytes = new Uint8Array(16);
        const view = new DataView(bytes.buffer);
        node.key().forEach((w, i) => view.setInt32(i * 4, w));
        out.push({ family, bytes: family === 4 ? bytes.slice(0, 4) : bytes, prefix: node.bits });
      }
    }
    return out;
  }

  /** The peer that gets the IP packet at buf[off .. off+len): its destination's owner, or NO_PEER. */
  lookupDestination(buf: Uint8Array, off: number, len: number): number {
    const version = ipVersion(buf, off, len);
    if (version === 4) return this.find4(word(buf, off + V4_DST));
    if (version === 6) return this.find6(buf, off + V6_DST);
    return NO_PEER;
  }

  /** The owner of the packet's source address, or NO_PEER. */
  lookupSource(buf: Uint8Array, off: number, len: number): number {
    const version = ipVersion(buf, off, len);
    if (version === 4) return this.find4(word(buf, off + V4_SRC));
    if (version === 6) return this.find6(buf, off + V6_SRC);
    return NO_PEER;
  }

  /**
   * Whether a packet that opened under `peer`'s keys may come from its source
   * address: the source's longest match must be `peer`. Being inside some
   * shorter prefix of `peer` is not enough when a longer one belongs to
   * another peer, since replies to that address would go to the other one.
   */
  allowsSource(peer: number, buf: Uint8Array, off: number, len: number): boolean {
    return peer !== NO_PEER && this.lookupSource(buf, off, len) === peer;
  }

  /** The owner of a raw 4- or 16-byte address; any other length has none. */
  lookup(address: Uint8Array): number {
    if (address.length === 4) return this.find4(word(address, 0));
    if (address.length === 16) return this.find6(address, 0);
    return NO_PEER;
  }

  private find4(a: number): number {
    let best = NO_PEER;
    let node = this.v4.root;
    while (node !== null && (a & node.m0) === node.w0) {
      if (node.peer !== NO_PEER) best = node.peer;
      if (node.bits === 32) break;
      node = ((a >>> (31 - node.bits)) & 1) === 0 ? node.child0 : node.child1;
    }
    return best;
  }

  private find6(buf: Uint8Array, at: number): number {
    const a0 = word(buf, at);
    const a1 = word(buf, at + 4);
    const a2 = word(buf, at + 8);
    const a3 = word(buf, at + 12);
    let best = NO_PEER;
    let node = this.v6.root;
    while (node !== null && (a0 & node.m0) === node.w0 && (a1 & node.m1) === node.w1 && (a2 & node.m2) === node.w2 && (a3 & node.m3) === node.w3) {
      if (node.peer !== NO_PEER) best = node.peer;
      const bits = node.bits;
      if (bits === 128) break;
      const w = bits < 32 ? a0 : bits < 64 ? a1 : bits < 96 ? a2 : a3;
      node = ((w >>> (31 - (bits & 31))) & 1) === 0 ? node.child0 : node.child1;
    }
    return best;
  }

  /** The family's trie and the prefix as four words, checked. */
  private place(cidr: RouteCidr): { trie: Trie; key: Int32Array } {
    const trie = cidr.family === 4 ? this.v4 : cidr.family === 6 ? this.v6 : null;
    const bytes = cidr.family === 4 ? 4 : 16;
    if (trie === null || cidr.bytes.length !== bytes || !Number.isInteger(cidr.prefix) || cidr.prefix < 0 || cidr.prefix > trie.maxBits) {
      throw new RangeError(`routing table: bad CIDR: family ${String(cidr.family)}, ${cidr.bytes.length} bytes, prefix ${cidr.prefix}`);
    }
    const key = new Int32Array(4);
    for (let w = 0; w < bytes / 4; w++) key[w] = word(cidr.bytes, w * 4);
    return { trie, key };
  }
}
