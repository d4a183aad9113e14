// struct sockaddr_in / sockaddr_in6 as bytes, for koffi socket calls.
import ipaddr from 'ipaddr.js';
import { AF_INET, AF_INET6 } from '../sys/libc.js';

export interface SocketAddress {
  family: 4 | 6;
  address: string;
  port: number;
}

export const SOCKADDR_IN_BYTES = 16;
export const SOCKADDR_IN6_BYTES = 28;

/** Writes the sockaddr for `a` into `out` (≥ 28 bytes); returns its length. */
export function encodeSockaddr(a: SocketAddress, out: Uint8Array): number {
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  out.fill(0, 0, SOCKADDR_IN6_BYTES);
  const bytes = ipaddr.parse(a.address).toByteArray();
  if (a.family === 4) {
    dv.setUint16(0, AF_INET, true);
    dv.setUint16(2, a.port, false);
    out.set(bytes, 4);
    return SOCKADDR_IN_BYTES;
  }
  dv.setUint16(0, AF_INET6, true);
  dv.setUint16(2, a.port, false);
  out.set(bytes, 8); // flowinfo @4, addr @8, scope id @24
  return SOCKADDR_IN6_BYTES;
}

/** Reads a sockaddr written by the kernel; null for a family we do not speak. */
export function decodeSockaddr(buf: Uint8Array): SocketAddress | null {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const family = dv.getUint16(0, true);
  const port = dv.getUint16(2, false);
  if (family === AF_INET) {
    return { family: 4, address: Array.from(buf.subarray(4, 8)).join('.'), port };
  }
  if (family === AF_INET6) {
    const v6 = ipaddr.fromByteArray(Array.from(buf.subarray(8, 24))) as ipaddr.IPv6;
    // A v4-mapped source on a dual-stack socket is reported as the IPv4 peer it is.
    if (v6.isIPv4MappedAddress()) return { family: 4, address: v6.toIPv4Address().toString(), port };
    return { family: 6, address: v6.toString(), port };
  }
  return null;
}

/** True when two encoded sockaddrs name the same address and port. */
export function sameSockaddr(a: Uint8Array, b: Uint8Array): boolean {
  const len = a[0] === AF_INET && a[1] === 0 ? SOCKADDR_IN_BYTES : SOCKADDR_IN6_BYTES;
  for (let i = 0; i < len; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function formatAddress(a: SocketAddress): string {
  return a.family === 6 ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

/** An IPv4-mapped IPv6 address (::ffff:a.b.c.d): how a dual-stack socket reports an IPv4 peer. */
export function isV4Mapped(a: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (a[i] !== 0) return false;
  return a[10] === 0xff && a[11] === 0xff;
}
