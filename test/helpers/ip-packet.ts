// Minimal IP packets for tests of code that reads addresses from packet bytes
// (AllowedIPs, the routing table): just the fixed header with the addresses set.
import { parseCidr } from '../../src/config/cidr.js';

/** The bytes of an IPv4 or IPv6 address (a prefix, if any, is ignored). */
export const addr = (text: string): Uint8Array => parseCidr(text, { hostBits: 'keep' }).bytes;

/** A minimal IPv4 header (version 4, IHL 5) with these addresses, at `off` inside a larger buffer. */
export function v4Packet(src: string, dst: string, off = 0, extra = 8): Uint8Array {
  const buf = new Uint8Array(off + 20 + extra);
  buf[off] = 0x45;
  buf.set(addr(src), off + 12);
  buf.set(addr(dst), off + 16);
  return buf;
}

export function v6Packet(src: string, dst: string, off = 0, extra = 8): Uint8Array {
  const buf = new Uint8Array(off + 40 + extra);
  buf[off] = 0x60;
  buf.set(addr(src), off + 8);
  buf.set(addr(dst), off + 24);
  return buf;
}
