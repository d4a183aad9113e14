// The Internet checksum (RFC 1071) over native packet memory, for packets the
// data path builds itself (TSO segments split in tso-split.ts) or whose
// checksum the kernel left for the device to finish (virtio_net_hdr NEEDS_CSUM).
//
// Sums run in the machine's (little-endian) word order over 32-bit words
// with a float64 accumulator: the one's-complement sum is independent of byte
// order (RFC 1071 §2(B)) as long as every term is taken in that same order,
// and 2^16 ≡ 1 (mod 2^16 - 1) lets wider words be folded afterwards. A
// 64 KB packet adds at most 2^14 words of < 2^32, far inside 2^53.
// (Integer sums would need a split into 16-bit halves to stay in 31 bits:
// measured slower here than four float64 sums.)

/** Views of one ArrayBuffer, all starting at its byte 0, so offsets are shared. */
export class ChecksumMemory {
  readonly u8: Uint8Array;
  private readonly u16: Uint16Array;
  private readonly u32: Uint32Array;

  constructor(buffer: ArrayBufferLike) {
    this.u8 = new Uint8Array(buffer);
    this.u16 = new Uint16Array(buffer, 0, buffer.byteLength >>> 1);
    this.u32 = new Uint32Array(buffer, 0, buffer.byteLength >>> 2);
  }

  /**
   * Adds the bytes [from, to) to `acc` as little-endian 16-bit words (`from`
   * even; an odd last byte counts as a word with a zero high byte). Unfolded.
   */
  sum(from: number, to: number, acc: number): number {
    let s0 = acc;
    let i = from;
    if ((i & 2) !== 0 && i + 2 <= to) {
      s0 += this.u16[i >>> 1]!;
      i += 2;
    }
    // Four sums, so the adds do not wait on one another (a single running
    // sum is bound by the add's latency: 3.5x slower over a 1400-byte packet).
    const u32 = this.u32;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    // i is 4-aligned here whenever at least 16 bytes remain.
    const quadsEnd = i + ((to - i) & ~15);
    for (let w = i >>> 2; w < quadsEnd >>> 2; w += 4) {
      s0 += u32[w]!;
      s1 += u32[w + 1]!;
      s2 += u32[w + 2]!;
      s3 += u32[w + 3]!;
    }
    i = quadsEnd;
    for (; i + 4 <= to; i += 4) s0 += u32[i >>> 2]!;
    if (i + 2 <= to) {
      s0 += this.u16[i >>> 1]!;
      i += 2;
    }
    if (i < to) s0 += this.u8[i]!;
    return s0 + s1 + s2 + s3;
  }

  /** Stores fold(sum), not complemented, at `at`: a partial checksum (the pseudo-header sum a device finishes). */
  storeFolded(at: number, sum: number): void {
    const c = fold(sum);
    this.u8[at] = c & 0xff;
    this.u8[at + 1] = c >>> 8;
  }

  /** Stores ~fold(sum) at `at` (the checksum field), in network byte order. */
  store(at: number, sum: number): void {
    const c = ~fold(sum) & 0xffff;
    this.u8[at] = c & 0xff;
    this.u8[at + 1] = c >>> 8;
  }
}

/** Folds an unfolded sum to 16 bits with end-around carry. */
export function fold(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s % 0x10000) + Math.floor(s / 0x10000);
  return s;
}

/** A 16-bit value as a term of a little-endian-order sum (the byte swap of its network-order word). */
export function wordLE(v: number): number {
  return ((v & 0xff) << 8) | ((v >>> 8) & 0xff);
}

/**
 * The pseudo-header part of a TCP/UDP checksum (RFC 9293 §3.1, RFC 8200
 * §8.1) for the IP packet at `ip`: addresses, protocol and `l4Len`. Unfolded,
 * little-endian order.
 */
export function pseudoHeaderSum(mem: ChecksumMemory, ip: number, v6: boolean, proto: number, l4Len: number): number {
  const addrs = v6 ? mem.sum(ip + 8, ip + 40, 0) : mem.sum(ip + 12, ip + 20, 0);
  return addrs + wordLE(proto) + wordLE(l4Len & 0xffff) + (v6 ? wordLE(l4Len >>> 16) : 0);
}
