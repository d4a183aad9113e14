// A linear AllowedIPs matcher: which inner addresses belong to one peer,
// for what is routed into the tunnel and which sources are accepted out of
// it. The data path used it while an interface carried one peer; it now
// routes by routing-table.ts, and this stays as the baseline `make
// bench-routing` measures the trie against (a handful of CIDRs: a few
// integer compares per packet, no allocation).
import type { Cidr } from '../config/cidr.js';

/** Offsets of the addresses inside the IP headers (RFC 791, RFC 8200). */
const V4_SRC = 12;
const V4_DST = 16;
const V6_SRC = 8;
const V6_DST = 24;
const V4_HEADER = 20;
const V6_HEADER = 40;

/**
 * The part of a Cidr the matcher needs. Taking only these fields lets the
 * data-path workers pass what structured clone gives them (a Cidr works too).
 */
export type AllowedCidr = Pick<Cidr, 'family' | 'bytes' | 'prefix'>;

/** The mask for the `bits` leading bits of one 32-bit word (JS shifts are mod 32, hence the ends). */
function wordMask(bits: number): number {
  if (bits <= 0) return 0;
  if (bits >= 32) return -1;
  return -1 << (32 - bits);
}

/** Big-endian 32-bit word at buf[at .. at+4), as a signed int like the masks. */
function word(buf: Uint8Array, at: number): number {
  return (buf[at]! << 24) | (buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!;
}

export class AllowedIPs {
  readonly cidrs: readonly AllowedCidr[];
  /** IPv4: pairs [network, mask] per CIDR. */
  private readonly v4: Int32Array;
  /** IPv6: [net0..net3, mask0..mask3] per CIDR. */
  private readonly v6: Int32Array;

  /** Host bits in the CIDRs are ignored (10.77.0.1/24 matches 10.77.0.0/24). */
  constructor(cidrs: readonly AllowedCidr[]) {
    this.cidrs = [...cidrs];
    for (const c of cidrs) {
      if (c.family !== 4 && c.family !== 6) throw new RangeError(`AllowedIPs: family must be 4 or 6, got ${String(c.family)}`);
    }
    const v4 = cidrs.filter((c) => c.family === 4);
    const v6 = cidrs.filter((c) => c.family === 6);
    this.v4 = new Int32Array(v4.length * 2);
    this.v6 = new Int32Array(v6.length * 8);
    v4.forEach((c, i) => {
      check(c, 4, 32);
      const mask = wordMask(c.prefix);
      this.v4[i * 2] = word(c.bytes, 0) & mask;
      this.v4[i * 2 + 1] = mask;
    });
    v6.forEach((c, i) => {
      check(c, 16, 128);
      for (let w = 0; w < 4; w++) {
        const mask = wordMask(c.prefix - w * 32);
        this.v6[i * 8 + w] = word(c.bytes, w * 4) & mask;
        this.v6[i * 8 + 4 + w] = mask;
      }
    });
  }

  /** Whether the source address of the IP packet at buf[off .. off+len) is allowed. */
  containsSource(buf: Uint8Array, off: number, len: number): boolean {
    return this.matchPacket(buf, off, len, V4_SRC, V6_SRC);
  }

  /** Whether the destination address of the IP packet at buf[off .. off+len) is allowed. */
  containsDestination(buf: Uint8Array, off: number, len: number): boolean {
    return this.matchPacket(buf, off, len, V4_DST, V6_DST);
  }

  /** Whether a raw 4- or 16-byte address is allowed; any other length is not. */
  contains(bytes: Uint8Array): boolean {
    if (bytes.length === 4) return this.match4(bytes, 0);
    if (bytes.length === 16) return this.match6(bytes, 0);
    return false;
  }

  /**
   * Reads the version nibble; anything shorter than that version's fixed
   * header, or a range outside buf, is not a packet we can judge: false.
   */
  private matchPacket(buf: Uint8Array, off: number, len: number, v4At: number, v6At: number): boolean {
    if (!(off >= 0 && len >= V4_HEADER && off + len <= buf.length)) return false;
    const version = buf[off]! >> 4;
    if (version === 4) return this.match4(buf, off + v4At);
    if (version === 6 && len >= V6_HEADER) return this.match6(buf, off + v6At);
    return false;
  }

  private match4(buf: Uint8Array, at: number): boolean {
    const a = word(buf, at);
    const t = this.v4;
    for (let i = 0; i < t.length; i += 2) {
      if ((a & t[i + 1]!) === t[i]) return true;
    }
    return false;
  }

  private match6(buf: Uint8Array, at: number): boolean {
    const t = this.v6;
    if (t.length === 0) return false;
    const a0 = word(buf, at);
    const a1 = word(buf, at + 4);
    const a2 = word(buf, at + 8);
    const a3 = word(buf, at + 12);
    for (let i = 0; i < t.length; i += 8) {
      if (
        (a0 & t[i + 4]!) === t[i] &&
        (a1 & t[i + 5]!) === t[i + 1] &&
        (a2 & t[i + 6]!) === t[i + 2] &&
        (a3 & t[i + 7]!) === t[i + 3]
      ) {
        return true;
      }
    }
    return false;
  }
}

function check(c: AllowedCidr, bytes: number, maxPrefix: number): void {
  if (c.bytes.length !== bytes || !Number.isInteger(c.prefix) || c.prefix < 0 || c.prefix > maxPrefix) {
    throw new RangeError(
      `AllowedIPs: bad IPv${c.family} CIDR: ${c.bytes.length} bytes, prefix ${c.prefix} (needs ${bytes} bytes and prefix 0-${maxPrefix})`,
    );
  }
}
