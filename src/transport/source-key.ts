// Which remote addresses share one limit (the handshake rate limiter, the
// cap on unauthenticated TCP connections): an IPv4 address alone, or a whole
// IPv6 /64. One IPv6 host usually holds a /64 and picks addresses from it at
// will, so keying by its full address would give it 2^64 shares; WireGuard's
// ratelimiter.c masks IPv6 sources to /64 for the same reason.
import ipaddr from 'ipaddr.js';
import { isV4Mapped, type SocketAddress } from './sockaddr.js';

/** Bytes of an IPv6 address that name its /64. */
const IPV6_GROUP_BYTES = 8;

/**
 * The key for `address` (4 bytes, or 16 for IPv6): the address itself for
 * IPv4 (also when IPv4-mapped, ::ffff:a.b.c.d, as a dual-stack socket
 * reports IPv4 peers), the first 64 bits for IPv6. The lengths differ, so
 * an IPv4 key never equals an IPv6 one.
 */
export function sourceKey(address: Uint8Array): string {
  let bytes = address;
  if (address.length === 16) bytes = isV4Mapped(address) ? address.subarray(12) : address.subarray(0, IPV6_GROUP_BYTES);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

/** sourceKey() of a decoded socket address (the port plays no part). */
export function sourceKeyOf(a: SocketAddress): string {
  return sourceKey(Uint8Array.from(ipaddr.parse(a.address).toByteArray()));
}
