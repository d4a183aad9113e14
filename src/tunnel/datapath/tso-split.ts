// Userspace TCP segmentation of what the TUN hands the UDP data path.
//
// With IFF_VNET_HDR and TUNSETOFFLOAD(CSUM|TSO4|TSO6) one read() returns a
// whole TCP super-packet (up to ~64 KB, one virtio_net_hdr in front) instead
// of ~45 MTU-sized packets: one system call instead of 45, and the sending
// kernel's TCP stack skips segmenting. Each peer still gets ordinary IP
// packets: every segment has its own complete IPv4 header checksum, and its
// TCP checksum is left partial (the pseudo-header sum, as the kernel leaves it
// for "the device"). The caller then either finishes it (finish()), so the
// segment is exactly what the kernel would have sent, or, for a peer that
// announced FEATURE_CSUM_PARTIAL, sends it partial and flagged, and the
// receiving kernel takes it as NEEDS_CSUM: summing ~1400 bytes per segment was
// the largest cost of the sending thread after the cipher. A packet that is
// not a super-packet may carry NEEDS_CSUM too; the same holds for it.
import { VNET_HDR_BYTES } from '../../tun/device.js';
import type * as libc from '../../sys/libc.js';
import { type ChecksumMemory, pseudoHeaderSum, wordLE } from './inet-checksum.js';

const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
const VIRTIO_NET_HDR_GSO_NONE = 0;
const VIRTIO_NET_HDR_GSO_TCPV4 = 1;
const VIRTIO_NET_HDR_GSO_TCPV6 = 4;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;
const TCP_FIN = 0x01;
const TCP_PSH = 0x08;
const TCP_CWR = 0x80;
/** The largest packet the TUN hands over: the device's default gso_max_size (64 KiB). */
const MAX_SUPER_PACKET = 65_536;

function le16(b: Uint8Array, at: number): number {
  return b[at]! | (b[at + 1]! << 8);
}

/** A 16-bit field in network byte order. */
function be16(b: Uint8Array, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}

function be32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

/** Splits one TUN read at a time into the packets it stands for, written where the caller says. */
export class TsoSplitter {
  /** Bytes the read buffer needs: virtio_net_hdr ‖ the largest packet. */
  static readonly INPUT_BYTES = VNET_HDR_BYTES + MAX_SUPER_PACKET;
  readonly readBytes = TsoSplitter.INPUT_BYTES;
  /** The read buffer (mem.u8 from `inputAt` on): virtio_net_hdr ‖ packet. */
  readonly input: Uint8Array;
  /** Packets of the current read still to hand out. */
  remaining = 0;
  /** Packet bytes of the current read (after the virtio_net_hdr). */
  private length = 0;
  private index = 0;
  private gso = false;
  private v6 = false;
  private l4 = 0; // offset of the TCP (or other) header in the packet: csum_start
  private hdrLen = 0; // IP + TCP header bytes of a super-packet
  private segSize = 0;
  private firstSeq = 0;
  private firstId = 0;
  /**
   * IPv4: the header's sum (inet-checksum.ts order, unfolded) without its
   * checksum, total length and ID, the only fields that differ between
   * segments: each segment's checksum is this plus its own two fields.
   */
  private ipv4Sum = 0;
  /** NEEDS_CSUM on a single packet: where its checksum field is (-1: none to finish). */
  private csumAt = -1;
  /** The packet next() wrote last: where its L4 header and checksum field are (-1: complete already). */
  private lastL4 = 0;
  private lastCsumAt = -1;
  /**
   * The current read's partial checksums are of the plain kind a receiver
   * can finish from the packet alone: TCP or UDP right after the IP header
   * (no IPv6 extension headers), the field where the protocol has it.
   */
  private plain = false;
  /** Where the packet starts in mem (after the virtio_net_hdr). */
  private readonly packetAt: number;

  /**
   * `maxPacket`: the largest packet the caller's slots hold (the tunnel MTU).
   * The read buffer is mem's bytes [inputAt, inputAt + INPUT_BYTES), whose
   * address `readPtr` is, so packets are copied within one ArrayBuffer.
   */
  constructor(
    private readonly maxPacket: number,
    private readonly mem: ChecksumMemory,
    inputAt: number,
    readonly readPtr: libc.Pointer,
  ) {
    this.input = mem.u8.subarray(inputAt, inputAt + TsoSplitter.INPUT_BYTES);
    this.packetAt = inputAt + VNET_HDR_BYTES;
  }

  /**
   * Takes a read of `got` bytes (virtio_net_hdr ‖ packet); returns how many
   * packets it stands for (0: nothing to send — malformed, or a packet
   * without GSO larger than the tunnel MTU).
   */
  load(got: number): number {
    const b = this.input;
    this.remaining = 0;
    this.index = 0;
    this.csumAt = -1;
    const len = got - VNET_HDR_BYTES;
    if (len <= 0) return 0;
    this.length = len;
    const flags = b[0]!;
    const gsoType = b[1]!;
    const csumStart = le16(b, 6);
    const csumOffset = le16(b, 8);
    if (gsoType === VIRTIO_NET_HDR_GSO_NONE) {
      if (len > this.maxPacket) return 0;
      this.gso = false;
      this.plain = false;
      if ((flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0) {
        if ((csumStart & 1) !== 0 || csumStart + csumOffset + 2 > len) return 0;
        this.l4 = csumStart;
        this.csumAt = csumStart + csumOffset;
        const ip = VNET_HDR_BYTES;
        const v4 = b[ip]! >> 4 === 4;
        const proto = v4 ? b[ip + 9] : b[ip + 6];
        const ipLen = v4 ? (b[ip]! & 0x0f) * 4 : 40;
        this.plain = csumStart === ipLen && ((proto === IPPROTO_TCP && csumOffset === 16) || (proto === IPPROTO_UDP && csumOffset === 6));
      }
      return (this.remaining = 1);
    }
    const ip = VNET_HDR_BYTES;
    const version = b[ip]! >> 4;
    const v6 = gsoType === VIRTIO_NET_HDR_GSO_TCPV6;
    if (!(v6 ? version === 6 : gsoType === VIRTIO_NET_HDR_GSO_TCPV4 && version === 4)) return 0;
    // csum_start is where TCP begins; for IPv4 it must be the header's own length.
    if (v6 ? csumStart < 40 || (csumStart & 7) !== 0 : csumStart !== (b[ip]! & 0x0f) * 4 || csumStart < 20) return 0;
    if (csumStart + 20 > len || b[ip + (v6 ? 6 : 9)] !== IPPROTO_TCP && !(v6 && csumStart > 40)) return 0;
    const hdrLen = csumStart + (b[ip + csumStart + 12]! >> 4) * 4;
    // Segments larger than the slots (an MTU raised by hand beyond the
    // tunnel's) are cut smaller: TCP takes segments below its MSS as they come.
    const segSize = Math.min(le16(b, 4), this.maxPacket - hdrLen);
    if (hdrLen < csumStart + 20 || hdrLen >= len || segSize <= 0) return 0;
    this.gso = true;
    this.plain = !v6 || (csumStart === 40 && b[ip + 6] === IPPROTO_TCP);
    this.v6 = v6;
    this.l4 = csumStart;
    this.hdrLen = hdrLen;
    this.segSize = segSize;
    this.firstSeq = be32(b, ip + csumStart + 4);
    this.firstId = v6 ? 0 : (b[ip + 4]! << 8) | b[ip + 5]!;
    if (!v6) {
      const at = this.packetAt;
      const mem = this.mem;
      // csumStart is the IPv4 header's length here (checked above).
      this.ipv4Sum = mem.sum(at, at + csumStart, 0) - wordLE(be16(b, ip + 2)) - wordLE(this.firstId) - wordLE(be16(b, ip + 10));
    }
    return (this.remaining = Math.ceil((len - hdrLen) / segSize));
  }

  /**
   * Writes the next packet of the current read at mem.u8[at ..) with every
   * checksum complete; returns its length. Call only while `remaining` > 0.
   */
  next(at: number): number {
    this.remaining--;
    const mem = this.mem;
    const p = this.packetAt;
    if (!this.gso) {
      const len = this.length;
      mem.u8.copyWithin(at, p, p + len);
      this.lastL4 = this.l4;
      this.lastCsumAt = this.csumAt;
      return len;
    }
    const i = this.index++;
    const hdrLen = this.hdrLen;
    const from = hdrLen + i * this.segSize;
    const payload = Math.min(this.segSize, this.length - from);
    const len = hdrLen + payload;
    mem.u8.copyWithin(at, p, p + hdrLen);
    mem.u8.copyWithin(at + hdrLen, p + from, p + from + payload);
    const u8 = mem.u8;
    const l4 = this.l4;
    if (this.v6) {
      const pl = len - 40;
      u8[at + 4] = pl >>> 8;
      u8[at + 5] = pl & 0xff;
    } else {
      // Each segment gets its own IP ID, as the kernel's TSO gives it.
      const id = (this.firstId + i) & 0xffff;
      u8[at + 2] = len >>> 8;
      u8[at + 3] = len & 0xff;
      u8[at + 4] = id >>> 8;
      u8[at + 5] = id & 0xff;
      mem.store(at + 10, this.ipv4Sum + wordLE(len) + wordLE(id));
    }
    const t = at + l4;
    const seq = (this.firstSeq + i * this.segSize) >>> 0;
    u8[t + 4] = seq >>> 24;
    u8[t + 5] = (seq >>> 16) & 0xff;
    u8[t + 6] = (seq >>> 8) & 0xff;
    u8[t + 7] = seq & 0xff;
    // FIN and PSH belong to the last segment, CWR to the first (as tcp_gso_segment).
    let flags = u8[t + 13]!;
    if (this.remaining > 0) flags &= ~(TCP_FIN | TCP_PSH);
    if (i > 0) flags &= ~TCP_CWR;
    u8[t + 13] = flags;
    // Partial: the field holds the pseudo-header sum, as the kernel leaves it.
    mem.storeFolded(t + 16, pseudoHeaderSum(mem, at, this.v6, IPPROTO_TCP, len - l4));
    this.lastL4 = l4;
    this.lastCsumAt = l4 + 16;
    return len;
  }

  /** The last packet from next() has a partial checksum that a receiver can finish from the packet alone. */
  get plainPartial(): boolean {
    return this.lastCsumAt >= 0 && this.plain;
  }

  /** The last packet from next() has a partial checksum. */
  get partial(): boolean {
    return this.lastCsumAt >= 0;
  }

  /**
   * Completes the checksum of the last packet from next(), now at
   * mem.u8[at .. at+len) (it may have been changed since: MSS clamping).
   */
  finish(at: number, len: number): void {
    if (this.lastCsumAt < 0) return;
    // The field holds the pseudo-header sum; the rest is summed over it.
    this.mem.store(at + this.lastCsumAt, this.mem.sum(at + this.lastL4, at + len, 0));
  }
}
