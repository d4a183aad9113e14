// Where an IP packet keeps its version and addresses (RFC 791 §3.1, RFC 8200
// §3), and how the data path reads an address: as big-endian 32-bit words,
// straight from the packet's bytes, with no allocation.

export const V4_HEADER_BYTES = 20;
export const V6_HEADER_BYTES = 40;
export const V4_SRC = 12;
export const V4_DST = 16;
export const V6_SRC = 8;
export const V6_DST = 24;

/**
 * The IP version of the packet at buf[off .. off+len): 4 or 6, or 0 when the
 * range is outside buf or shorter than that version's fixed header (not a
 * packet whose addresses can be read).
 */
export function ipVersion(buf: Uint8Array, off: number, len: number): 0 | 4 | 6 {
  if (!(off >= 0 && len >= V4_HEADER_BYTES && off + len <= buf.length)) return 0;
  const version = buf[off]! >> 4;
  if (version === 4) return 4;
  if (version === 6 && len >= V6_HEADER_BYTES) return 6;
  return 0;
}

/** Big-endian 32-bit word at buf[at .. at+4), as a signed int (what `&` gives). */
export function word(buf: Uint8Array, at: number): number {
  return (buf[at]! << 24) | (buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!;
}

/** The mask for the `bits` leading bits of one 32-bit word (JS shifts are mod 32, hence the ends). */
export function wordMask(bits: number): number {
  if (bits <= 0) return 0;
  if (bits >= 32) return -1;
  return -1 << (32 - bits);
}
