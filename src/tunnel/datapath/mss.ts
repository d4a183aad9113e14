// TCP MSS clamping for packets crossing the tunnel, as OpenVPN's mssfix does
// in userspace: a TCP SYN (or SYN-ACK) announcing a maximum segment size
// larger than the tunnel can carry has the option lowered, so both ends send
// segments that fit the tunnel MTU without relying on Path MTU Discovery
// (whose ICMP "too big" messages are often filtered: the classic black hole).
//
// This runs on the packet path: it reads the buffer byte by byte, writes at
// most the option value and the checksum in place, allocates nothing, and
// never reads outside buf[off .. off+len) whatever the packet claims.

/** IPv4 header (20) + TCP header (20): the MSS excludes both (RFC 879, RFC 9293 §3.7.1). */
const IPV4_TCP_HEADERS = 40;
/** IPv6 header (40) + TCP header (20) (RFC 8200 §8.3). */
const IPV6_TCP_HEADERS = 60;

const IPPROTO_TCP = 6;
/** IPv6 extension headers walked to find TCP: Hop-by-Hop, Routing, Destination Options (RFC 8200 §4). */
const IPV6_HOP_BY_HOP = 0;
const IPV6_ROUTING = 43;
const IPV6_DEST_OPTS = 60;
/** More extension headers than this is not a SYN anyone sends; stop looking. */
const MAX_IPV6_EXTENSIONS = 8;

const TCP_HEADER_MIN = 20;
const TCP_FLAGS = 13;
const TCP_CHECKSUM = 16;
const TCP_SYN = 0x02;
/** TCP option kinds (RFC 9293 §3.2): end of list, no-operation, maximum segment size. */
const OPT_EOL = 0;
const OPT_NOP = 1;
const OPT_MSS = 2;
const OPT_MSS_LENGTH = 4;

/**
 * The largest MSS that fits a tunnel of `mtu` for a TCP connection over IP
 * version `version`: the MTU minus the minimal IP and TCP headers.
 */
export function maxMssForMtu(mtu: number, version: 4 | 6): number {
  return mtu - (version === 4 ? IPV4_TCP_HEADERS : IPV6_TCP_HEADERS);
}

/**
 * If the IPv4 or IPv6 packet at buf[off .. off+len) is a TCP segment with SYN
 * set (a SYN or a SYN-ACK) carrying an MSS option above `maxMss`, rewrites the
 * option to `maxMss` and updates the TCP checksum incrementally (RFC 1624
 * eqn. 3), in place. Returns whether the packet changed.
 *
 * Anything else — not IP, not TCP, no SYN, a non-first fragment, truncated or
 * malformed headers or options — is left alone and gives false; it never
 * throws and never touches bytes outside the range.
 *
 * `checksumPending`: the checksum field holds only the pseudo-header sum and
 * the sum over the segment is still to be done (a packet read from a TUN
 * with IFF_VNET_HDR whose virtio_net_hdr has VIRTIO_NET_HDR_F_NEEDS_CSUM).
 * The later sum covers the new option value, so the field must not be
 * adjusted then.
 */
export function clampMss(buf: Uint8Array, off: number, len: number, maxMss: number, checksumPending = false): boolean {
  if (!Number.isInteger(maxMss) || maxMss < 0 || maxMss > 0xffff || off < 0 || len < 1 || off + len > buf.length) return false;
  const tcp = tcpHeaderOffset(buf, off, len);
  if (tcp < 0) return false;
  const end = segmentEnd(buf, off, len);
  if (tcp + TCP_HEADER_MIN > end) return false;
  if ((buf[tcp + TCP_FLAGS]! & TCP_SYN) === 0) return false;
  const headerLen = (buf[tcp + 12]! >> 4) * 4;
  if (headerLen < TCP_HEADER_MIN || tcp + headerLen > end) return false;

  let changed = false;
  const optEnd = tcp + headerLen;
  let i = tcp + TCP_HEADER_MIN;
  while (i < optEnd) {
    const kind = buf[i]!;
    if (kind === OPT_EOL) break;
    if (kind === OPT_NOP) {
      i++;
      continue;
    }
    // Every other option has a length byte counting kind and length (RFC 9293 §3.2).
    if (i + 1 >= optEnd) break;
    const optLen = buf[i + 1]!;
    if (optLen < 2 || i + optLen > optEnd) break; // malformed: stop, change nothing further
    if (kind === OPT_MSS && optLen === OPT_MSS_LENGTH) {
      const at = i + 2;
      const old = (buf[at]! << 8) | buf[at + 1]!;
      if (old > maxMss) {
        buf[at] = maxMss >>> 8;
        buf[at + 1] = maxMss & 0xff;
        if (!checksumPending) adjustChecksum(buf, tcp, (at - tcp) & 1, old, maxMss);
        changed = true;
      }
    }
    i += optLen;
  }
  return changed;
}

/**
 * Where the TCP header starts, or -1 if the packet is not TCP (or is a
 * fragment other than the first, or its IP header does not fit).
 */
function tcpHeaderOffset(buf: Uint8Array, off: number, len: number): number {
  const version = buf[off]! >> 4;
  if (version === 4) {
    if (len < 20) return -1;
    const ihl = (buf[off]! & 0x0f) * 4;
    if (ihl < 20 || ihl > len) return -1;
    if (buf[off + 9] !== IPPROTO_TCP) return -1;
    // Fragmented: the more-fragments flag or an offset. SYNs are never
    // fragmented in practice; leaving fragments alone keeps this simple.
    if ((((buf[off + 6]! & 0x3f) << 8) | buf[off + 7]!) !== 0) return -1;
    return off + ihl;
  }
  if (version === 6) {
    if (len < 40) return -1;
    let next = buf[off + 6]!;
    let at = off + 40;
    for (let n = 0; n < MAX_IPV6_EXTENSIONS; n++) {
      if (next === IPPROTO_TCP) return at;
      if (next !== IPV6_HOP_BY_HOP && next !== IPV6_ROUTING && next !== IPV6_DEST_OPTS) return -1; // incl. Fragment, AH, ESP
      if (at + 2 > off + len) return -1;
      next = buf[at]!;
      at += (buf[at + 1]! + 1) * 8; // Hdr Ext Len: 8-octet units beyond the first 8 (RFC 8200 §4.3)
    }
    return -1;
  }
  return -1;
}

/**
 * The end of the IP packet by its own length field, within the buffer range
 * (trailing bytes beyond it are not the packet); -1 if the field claims more
 * than there is, or is the jumbogram's zero.
 */
function segmentEnd(buf: Uint8Array, off: number, len: number): number {
  const version = buf[off]! >> 4;
  const field = (buf[off + (version === 4 ? 2 : 4)]! << 8) | buf[off + (version === 4 ? 3 : 5)]!;
  const total = version === 4 ? field : field === 0 ? -1 : 40 + field;
  if (total < 0 || total > len) return -1;
  return off + total;
}

/**
 * RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), in one's complement arithmetic.
 * A 16-bit field at an odd offset from the TCP header straddles two of the
 * checksum's 16-bit words and contributes its bytes swapped (RFC 1071 §2(B):
 * the sum is byte-order independent), so the swapped values go in instead.
 */
function adjustChecksum(buf: Uint8Array, tcp: number, odd: number, oldValue: number, newValue: number): void {
  const m = odd ? swap16(oldValue) : oldValue;
  const m2 = odd ? swap16(newValue) : newValue;
  const at = tcp + TCP_CHECKSUM;
  const hc = (buf[at]! << 8) | buf[at + 1]!;
  let sum = (~hc & 0xffff) + (~m & 0xffff) + m2;
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  const result = ~sum & 0xffff;
  buf[at] = result >>> 8;
  buf[at + 1] = result & 0xff;
}

function swap16(v: number): number {
  return ((v & 0xff) << 8) | (v >>> 8);
}
