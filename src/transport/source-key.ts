// Which remote addresses share one limit (the handshake rate limiter, the
// cap on unauthenticated TCP connections): an IPv4 address alone, or a whole
// IPv6 /64. One IPv6 host usually holds a /64 and picks addresses from it at
// will, so keying by its full address would give it 2^64 shares; WireGuard's
// ratelimiter.c masks IPv6 sources to /64 for the same reason.
import ipaddr from 'ipaddr.js';
import { isV4Mapped, type SocketAddress } from './sockaddr.js';

/** Bytes of an IPv6 address that name its /64. */
const IPV6_GROUP_BYTES = 8;
/** Bytes that name the network around a source: an IPv4 /24, an IPv6 /48 (a typical site's allocation). */
const IPV4_NETWORK_BYTES = 3;
const IPV6_NETWORK_BYTES = 6;

/**
 * The key for `address` (4 bytes, or 16 for IPv6): the address itself for
 * IPv4 (also when IPv4-mapped, ::ffff:a.b.c.d, as a dual-stack socket
 * reports IPv4 peers), the first 64 bits for IPv6. The lengths differ, so
 * an IPv4 key never equals an IPv6 one.
 */
export function sourceKey(address: Uint8Array): string {
  return prefixKey(address, 4, IPV6_GROUP_BYTES);
}

/**
 * The network around `address` (its IPv4 /24 or IPv6 /48): when several
 * sources hold equal shares, the network holding more of them gives way first
 * (pending-conns.ts), so the addresses of one /56 count against each other.
 */
export function networkKey(address: Uint8Array): string {
  return prefixKey(address, IPV4_NETWORK_BYTES, IPV6_NETWORK_BYTES);
}

function prefixKey(address: Uint8Array, v4Bytes: number, v6Bytes: number): string {
  const v4 = address.length === 4 ? address : isV4Mapped(address) ? address.subarray(12) : null;
  const bytes = v4 ? v4.subarray(0, v4Bytes) : address.subarray(0, v6Bytes);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

/** sourceKey() and networkKey() of a decoded socket address (the port plays no part). */
export function sourceKeysOf(a: SocketAddress): { source: string; network: string } {
  const bytes = Uint8Array.from(ipaddr.parse(a.address).toByteArray());
  return { source: sourceKey(bytes), network: networkKey(bytes) };
}
