// The virtio_net_hdr that travels with each packet over the TCP transport
// (see tunnel.ts: whole TSO super-packets), checked before it reaches our
// kernel; and the one written for a packet that came over UDP with its
// checksum partial (DATA_FLAG_CSUM_PARTIAL).
import { VNET_HDR_BYTES } from '../../tun/device.js';

/**
 * The virtio_net_hdr an authenticated peer sent with a TCP-transport packet
 * goes to our kernel, so only what our own TUN could have produced passes:
 * no offload; a TCP or UDP packet whose checksum is left to complete at its
 * own header; or a TCP super-packet of the IP version it carries, with sizes
 * inside the packet.
 */
export function vnetHeaderAllowed(buf: Uint8Array, off: number, len: number): boolean {
  if (len < VNET_HDR_BYTES + 20) return false;
  const flags = buf[off]!;
  const gso = buf[off + 1]!;
  const u16 = (at: number) => buf[off + at]! | (buf[off + at + 1]! << 8);
  if (flags === 0 && gso === 0) return true;
  const ip = off + VNET_HDR_BYTES;
  const version = buf[ip]! >> 4;
  const ipLen = version === 4 ? (buf[ip]! & 0x0f) * 4 : 40;
  const proto = version === 4 ? buf[ip + 9] : buf[ip + 6];
  if (flags !== VIRTIO_NET_HDR_F_NEEDS_CSUM) return false;
  const csumOffset = proto === IPPROTO_TCP ? 16 : proto === IPPROTO_UDP ? 6 : -1;
  if (u16(6) !== ipLen || u16(8) !== csumOffset) return false; // csum_start, csum_offset
  if (gso === 0) return true;
  if (proto !== IPPROTO_TCP) return false;
  if (gso !== (version === 4 ? VIRTIO_NET_HDR_GSO_TCPV4 : version === 6 ? VIRTIO_NET_HDR_GSO_TCPV6 : -1)) return false;
  const packet = len - VNET_HDR_BYTES;
  const hdrLen = u16(2);
  const gsoSize = u16(4);
  return hdrLen > ipLen && hdrLen < packet && gsoSize > 0 && gsoSize <= packet - hdrLen;
}

/**
 * Writes at buf[off ..) the virtio_net_hdr for the IP packet of `len` bytes
 * after it whose TCP or UDP checksum is partial: NEEDS_CSUM, completed from
 * the end of the IP header at the protocol's field, no GSO. False (nothing
 * worth delivering) for anything else: another protocol, an IPv6 extension
 * header, an IPv4 fragment, a packet too short for its own fields.
 */
export function writePartialHeader(buf: Uint8Array, off: number, len: number): boolean {
  const ip = off + VNET_HDR_BYTES;
  if (len < 20) return false;
  const version = buf[ip]! >> 4;
  let ipLen: number;
  let proto: number;
  if (version === 4) {
    ipLen = (buf[ip]! & 0x0f) * 4;
    proto = buf[ip + 9]!;
    if (ipLen < 20 || ((buf[ip + 6]! << 8) | buf[ip + 7]!) & 0x3fff) return false; // MF or a fragment offset
  } else if (version === 6) {
    if (len < 40) return false;
    ipLen = 40;
    proto = buf[ip + 6]!;
  } else return false;
  const csumOffset = proto === IPPROTO_TCP ? 16 : proto === IPPROTO_UDP ? 6 : -1;
  if (csumOffset < 0 || ipLen + csumOffset + 2 > len) return false;
  buf.fill(0, off, ip);
  buf[off] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  buf[off + 6] = ipLen;
  buf[off + 8] = csumOffset;
  return true;
}

/** virtio_net_hdr flag: the checksum is partial, to be completed from csum_start at csum_offset. */
export const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
const VIRTIO_NET_HDR_GSO_TCPV4 = 1;
const VIRTIO_NET_HDR_GSO_TCPV6 = 4;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;

