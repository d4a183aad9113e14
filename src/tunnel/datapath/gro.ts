// Receive-side coalescing of TCP segments into GSO super-packets (what the
// kernel's GRO does on a NIC, and wireguard-go does in userspace).
//
// Writing a packet into the TUN runs the kernel's whole inner TCP/IP receive
// path for it, the largest single cost on the receive side. Consecutive
// segments of one TCP flow that arrive in the same batch are merged into one
// packet with a virtio_net_hdr saying "GSO TCP, checksum partial", so the
// kernel's TCP processes one large segment instead of dozens.
//
// Only the plainest segments merge, so the result means exactly what the
// segments meant: IPv4 without options or fragmentation (or IPv6 with TCP as
// the next header), flags ACK (PSH allowed on the last), equal TCP options,
// consecutive sequence numbers, equal payload sizes (the last may be shorter).
// Everything else passes through unchanged, in order.
import { VNET_HDR_BYTES } from '../../tun/device.js';

const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
const VIRTIO_NET_HDR_GSO_NONE = 0;
const VIRTIO_NET_HDR_GSO_TCPV4 = 1;
const VIRTIO_NET_HDR_GSO_TCPV6 = 4;
const IPPROTO_TCP = 6;
const TCP_ACK = 0x10;
const TCP_PSH = 0x08;
/** The segments of one super-packet: the kernel's own GRO limit. */
const MAX_SEGMENTS = 64;
/** IP total length is 16 bits; stay below it. */
const MAX_BYTES = 65_000;

/**
 * Writes buf[0 .. len) (virtio_net_hdr ‖ IP packet) to the TUN. An object
 * with a method rather than a closure: every instance then calls the same
 * function, which keeps the optimized receive path monomorphic.
 */
export interface TunWrite {
  write(buf: Uint8Array, len: number): void;
}

/** The run being merged; one object per coalescer, reused (the receive path allocates nothing per packet). */
class Flow {
  v6 = false;
  ipLen = 0; // IP header bytes
  hdrLen = 0; // IP + TCP header bytes
  segSize = 0; // payload bytes of the first segment
  nextSeq = 0;
  segments = 0;
  length = 0; // bytes of packet in `buf` (after the vnet header)
}

function u16(b: Uint8Array, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}

function u32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

function put16(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 8;
  b[at + 1] = v & 0xff;
}

/** One's-complement sum of 16-bit words, folded to 16 bits (RFC 1071). */
function sum16(b: Uint8Array, from: number, to: number, acc: number): number {
  let s = acc;
  for (let i = from; i < to; i += 2) s += u16(b, i);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

export class TcpCoalescer {
  /** The super-packet being built: virtio_net_hdr ‖ headers ‖ payloads. */
  private readonly buf = new Uint8Array(VNET_HDR_BYTES + MAX_BYTES + 2048);
  private readonly header = new DataView(this.buf.buffer, this.buf.byteOffset, VNET_HDR_BYTES);
  /** The run being merged, when `pending`. */
  private readonly flow = new Flow();
  private pending = false;
  /** What mergeable() found of the last packet it accepted. */
  private seenV6 = false;
  private seenIpLen = 0;
  /** Super-packets written, and the segments they held, for status and tests. */
  merged = 0;
  segmentsMerged = 0;

  constructor(private readonly tun: TunWrite) {}

  /**
   * Offers the IP packet at pkt[off .. off+len). Returns true if it was taken
   * (merged, or held to merge with what follows). False means: write it
   * yourself, unchanged — anything pending was flushed first, so order holds.
   */
  offer(pkt: Uint8Array, off: number, len: number): boolean {
    if (this.pending && this.extends(this.flow, pkt, off, len)) return true;
    this.flush();
    return this.start(pkt, off, len);
  }

  /** Writes what is pending; call at the end of every receive batch. */
  flush(): void {
    if (!this.pending) return;
    this.pending = false;
    const f = this.flow;
    const b = this.buf;
    const p = VNET_HDR_BYTES;
    // IP lengths and (IPv4) header checksum for the merged packet.
    if (f.segments > 1) {
      if (f.v6) put16(b, p + 4, f.length - 40);
      else {
        put16(b, p + 2, f.length);
        put16(b, p + 10, 0);
        put16(b, p + 10, ~sum16(b, p, p + f.ipLen, 0) & 0xffff);
      }
    }
    // CHECKSUM_PARTIAL, a lone segment too: the TCP checksum field holds the
    // pseudo-header sum; the kernel treats the data as verified (it was
    // authenticated by the AEAD; the sender may have left the checksum
    // partial itself, DATA_FLAG_CSUM_PARTIAL).
    const tcpLen = f.length - f.ipLen;
    let ph = (f.v6 ? sum16(b, p + 8, p + 40, 0) : sum16(b, p + 12, p + 20, 0)) + tcpLen + IPPROTO_TCP;
    while (ph > 0xffff) ph = (ph & 0xffff) + (ph >>> 16);
    put16(b, p + f.ipLen + 16, ph);
    b[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    b[1] = f.segments === 1 ? VIRTIO_NET_HDR_GSO_NONE : f.v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
    const v = this.header;
    v.setUint16(2, f.hdrLen, true);
    v.setUint16(4, f.segments === 1 ? 0 : f.segSize, true);
    v.setUint16(6, f.ipLen, true);
    v.setUint16(8, 16, true);
    this.tun.write(b, p + f.length);
    if (f.segments === 1) return;
    this.merged++;
    this.segmentsMerged += f.segments;
  }

  /** IP + TCP header bytes if this is a segment that may merge (its IP version and header size in seenV6, seenIpLen), else 0. */
  private mergeable(pkt: Uint8Array, off: number, len: number): number {
    const version = pkt[off]! >> 4;
    let ipLen: number;
    if (version === 4) {
      if (len < 40 || pkt[off]! !== 0x45 || pkt[off + 9] !== IPPROTO_TCP) return 0;
      if (u16(pkt, off + 2) !== len) return 0;
      if ((u16(pkt, off + 6) & 0x3fff) !== 0) return 0; // MF or a fragment offset
      ipLen = 20;
    } else if (version === 6) {
      if (len < 60 || pkt[off + 6] !== IPPROTO_TCP || u16(pkt, off + 4) !== len - 40) return 0;
      ipLen = 40;
    } else return 0;
    const tcpLen = (pkt[off + ipLen + 12]! >> 4) * 4;
    const flags = pkt[off + ipLen + 13]!;
    if (tcpLen < 20 || ipLen + tcpLen >= len) return 0; // no payload: pure ACKs pass through
    if ((flags & ~TCP_PSH) !== TCP_ACK) return 0;
    this.seenV6 = version === 6;
    this.seenIpLen = ipLen;
    return ipLen + tcpLen;
  }

  private start(pkt: Uint8Array, off: number, len: number): boolean {
    const hdrLen = this.mergeable(pkt, off, len);
    if (hdrLen === 0) return false;
    this.buf.set(pkt.subarray(off, off + len), VNET_HDR_BYTES);
    const f = this.flow;
    const ipLen = this.seenIpLen;
    f.v6 = this.seenV6;
    f.ipLen = ipLen;
    f.hdrLen = hdrLen;
    f.segSize = len - hdrLen;
    f.nextSeq = (u32(pkt, off + ipLen + 4) + f.segSize) >>> 0;
    f.segments = 1;
    f.length = len;
    this.pending = true;
    // A pushed segment ends its run at once.
    if ((pkt[off + ipLen + 13]! & TCP_PSH) !== 0) this.flush();
    return true;
  }

  /** Appends the segment if it continues the pending flow exactly. */
  private extends(f: Flow, pkt: Uint8Array, off: number, len: number): boolean {
    const b = this.buf;
    const p = VNET_HDR_BYTES;
    const hdrLen = this.mergeable(pkt, off, len);
    if (hdrLen === 0 || this.seenV6 !== f.v6 || hdrLen !== f.hdrLen) return false;
    const payload = len - f.hdrLen;
    if (payload > f.segSize || f.segments >= MAX_SEGMENTS || f.length + payload > MAX_BYTES) return false;
    const t = off + f.ipLen;
    const bt = p + f.ipLen;
    if (u32(pkt, t + 4) !== f.nextSeq) return false;
    if (f.v6) {
      // Traffic class, flow label, next header, hop limit, addresses.
      if (u32(pkt, off) !== u32(b, p) || pkt[off + 7] !== b[p + 7]) return false;
      for (let i = 8; i < 40; i++) if (pkt[off + i] !== b[p + i]) return false;
    } else {
      // TOS, DF, TTL, protocol, addresses.
      if (pkt[off + 1] !== b[p + 1] || pkt[off + 6] !== b[p + 6] || pkt[off + 8] !== b[p + 8]) return false;
      for (let i = 12; i < 20; i++) if (pkt[off + i] !== b[p + i]) return false;
    }
    // Ports, ack number, header length, window, options; flags equal except PSH.
    if (u32(pkt, t) !== u32(b, bt) || u32(pkt, t + 8) !== u32(b, bt + 8) || pkt[t + 12] !== b[bt + 12]) return false;
    if (u16(pkt, t + 14) !== u16(b, bt + 14)) return false;
    for (let i = 20; i < f.hdrLen - f.ipLen; i++) if (pkt[t + i] !== b[bt + i]) return false;
    b.set(pkt.subarray(off + f.hdrLen, off + len), p + f.length);
    f.length += payload;
    f.nextSeq = (f.nextSeq + payload) >>> 0;
    f.segments++;
    const flags = pkt[t + 13]!;
    if (flags & TCP_PSH) b[bt + 13]! |= TCP_PSH;
    // Only the last segment may be short or pushed: either ends the run.
    if (payload < f.segSize || flags & TCP_PSH) this.flush();
    return true;
  }
}
