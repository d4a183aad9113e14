// The virtio_net_hdr that travels with each packet over the TCP transport
// (see tunnel.ts: whole TSO super-packets), checked before it reaches our kernel.
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

const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
const VIRTIO_NET_HDR_GSO_TCPV4 = 1;
const VIRTIO_NET_HDR_GSO_TCPV6 = 4;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;

