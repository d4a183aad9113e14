// Receiving with UDP_GRO: the kernel hands over runs of datagrams from one
// sender as one buffer (up to 64 segments, ~64 KB) with the segment size in a
// control message, instead of queueing and returning each datagram alone.
//
// A run a peer sent with UDP_SEGMENT (udp-batch.ts) then crosses the
// receiving kernel as one socket buffer: it is not cut into datagrams on the
// way in, takes one slot of the receive queue and one copy to userspace.
// Each segment is then copied into a slot of the PacketBatch, so the rest of
// the receive path (open in place, one message per slot) is unchanged.
import * as libc from '../sys/libc.js';
import { MSG_OFFSET, type PacketBatch } from './batch.js';
import { MMSG_LEN, MSGHDR_CONTROL, MSGHDR_CONTROLLEN, MSGHDR_IOV, MSGHDR_IOVLEN, MSGHDR_NAME, MSGHDR_NAMELEN, SOFT_ERRORS } from './udp-batch.js';

const SOL_UDP = 17;
const UDP_GRO = 104;
/** Buffers per recvmmsg: each holds one coalesced run (or one lone datagram). */
const GRO_BUFFERS = 8;
/** A coalesced run is at most 64 KB of UDP payload (its length is 16 bits). */
const GRO_BUFFER_BYTES = 65_536;
/**
 * The receive buffers, which UdpGroReceiver expects after its batch's slots
 * (PacketBatch tailBytes): cutting a run into slots is then a copyWithin
 * inside one ArrayBuffer, with no view made per datagram.
 */
export const GRO_RECEIVE_BYTES = GRO_BUFFERS * GRO_BUFFER_BYTES;
/** Room for two cmsgs of CMSG_SPACE(4) = 24 bytes: UDP_GRO's segment size and SO_RXQ_OVFL's drop count. */
const CONTROL_BYTES = 48;
const CMSG_HEADER = 16; // cmsg_len u64 @0, level i32 @8, type i32 @12
/**
 * The control messages of one received datagram: the segment size (0: a lone
 * datagram) and the SO_RXQ_OVFL drop count (-1: none came).
 */
export interface ReceivedControl {
  segment: number;
  drops: number;
}

/** Walks the cmsgs in buf[at .. at+len) (struct cmsghdr, 8-byte aligned, as on x86-64). */
export function parseControl(buf: Buffer, at: number, len: number, out: ReceivedControl): void {
  out.segment = 0;
  out.drops = -1;
  let p = at;
  const end = at + len;
  while (p + CMSG_HEADER <= end) {
    const cmsgLen = buf.readUInt32LE(p);
    if (cmsgLen < CMSG_HEADER || p + cmsgLen > end) return;
    const level = buf.readInt32LE(p + 8);
    const type = buf.readInt32LE(p + 12);
    if (cmsgLen >= CMSG_HEADER + 4) {
      if (level === SOL_UDP && type === UDP_GRO) out.segment = buf.readInt32LE(p + CMSG_HEADER);
      else if (level === libc.SOL_SOCKET && type === libc.SO_RXQ_OVFL) out.drops = buf.readUInt32LE(p + CMSG_HEADER);
    }
    p += (cmsgLen + 7) & ~7;
  }
}

/** Asks the kernel for UDP_GRO on `fd`; false where the kernel does not have it (before 5.0). */
export function enableUdpGro(fd: number): boolean {
  const one = Buffer.alloc(4);
  one.writeInt32LE(1);
  return libc.setsockopt(fd, SOL_UDP, UDP_GRO, one, 4) === 0;
}

/**
 * Receives into a PacketBatch like UdpBatchReceiver (udp-batch.ts), one
 * message per slot, the kernel having coalesced runs. A recvmmsg may bring
 * more segments than the batch holds; `pending` then says to call again
 * before waiting (poll will not report them).
 */
export class UdpGroReceiver {
  private readonly vec: { ptr: libc.Pointer; view: Buffer };
  private readonly iov: { ptr: libc.Pointer; view: Buffer };
  /** mem[dataAt ..): the receive buffers, after the batch's slots. */
  private readonly mem: Uint8Array;
  private readonly dataAt: number;
  private readonly names: { ptr: libc.Pointer; view: Buffer };
  private readonly controls: { ptr: libc.Pointer; view: Buffer };
  private readonly nameOf: Buffer[] = [];
  /** sources[i]: the sockaddr of the sender of message i. */
  readonly sources: Buffer[] = [];
  /** Where each slot's message starts in mem. */
  private readonly messageAt: number[];
  kernelDrops = 0;
  private lastDropStamp = 0;
  private readonly control: ReceivedControl = { segment: 0, drops: -1 };
  /** Received buffers not yet handed out: buffers [at, count), next segment at byte `offset` of buffer `at`. */
  private count = 0;
  private at = 0;
  private offset = 0;
  private readonly lens = new Int32Array(GRO_BUFFERS);
  private readonly segments = new Int32Array(GRO_BUFFERS);
  /** Datagrams the kernel handed over in runs, and those runs (for status and tests). */
  coalesced = 0;
  runs = 0;

  constructor(
    private readonly fd: number,
    private readonly batch: PacketBatch,
  ) {
    this.vec = libc.allocNative(GRO_BUFFERS * libc.SIZEOF_MMSGHDR);
    this.iov = libc.allocNative(GRO_BUFFERS * libc.SIZEOF_IOVEC);
    if (batch.memory.length - batch.tailAt < GRO_RECEIVE_BYTES) throw new RangeError('the batch needs GRO_RECEIVE_BYTES of tail room');
    this.mem = new Uint8Array(batch.memory.buffer, batch.memory.byteOffset, batch.memory.length);
    this.dataAt = batch.tailAt;
    this.names = libc.allocNative(GRO_BUFFERS * libc.SIZEOF_SOCKADDR_STORAGE);
    this.controls = libc.allocNative(GRO_BUFFERS * CONTROL_BYTES);
    const v = this.vec.view;
    for (let i = 0; i < GRO_BUFFERS; i++) {
      const m = i * libc.SIZEOF_MMSGHDR;
      const iov = i * libc.SIZEOF_IOVEC;
      this.iov.view.writeBigUInt64LE(batch.tailPtr + BigInt(i * GRO_BUFFER_BYTES), iov);
      this.iov.view.writeBigUInt64LE(BigInt(GRO_BUFFER_BYTES), iov + 8);
      v.writeBigUInt64LE(this.names.ptr + BigInt(i * libc.SIZEOF_SOCKADDR_STORAGE), m + MSGHDR_NAME);
      v.writeBigUInt64LE(this.iov.ptr + BigInt(iov), m + MSGHDR_IOV);
      v.writeBigUInt64LE(1n, m + MSGHDR_IOVLEN);
      v.writeBigUInt64LE(this.controls.ptr + BigInt(i * CONTROL_BYTES), m + MSGHDR_CONTROL);
      this.restore(i);
      const off = i * libc.SIZEOF_SOCKADDR_STORAGE;
      this.nameOf.push(this.names.view.subarray(off, off + libc.SIZEOF_SOCKADDR_STORAGE));
    }
    for (let i = 0; i < batch.size; i++) this.sources.push(this.nameOf[0]!);
    this.messageAt = batch.messages.map((m) => m.byteOffset - batch.memory.byteOffset);
  }

  /** Segments received but not yet handed out: call receive() again before waiting. */
  get pending(): boolean {
    return this.at < this.count;
  }

  /**
   * Fills batch slots with the next messages (segments of what the kernel
   * coalesced, in order), reading the socket when nothing is left over.
   * Returns the number of slots filled, 0 when nothing is waiting.
   */
  receive(): number {
    if (this.at >= this.count && !this.read()) return 0;
    const batch = this.batch;
    const mem = this.mem;
    let n = 0;
    while (n < batch.size && this.at < this.count) {
      const b = this.at;
      const len = this.lens[b]!;
      const seg = this.segments[b]!;
      const size = Math.min(seg, len - this.offset);
      const from = this.dataAt + b * GRO_BUFFER_BYTES + this.offset;
      const room = batch.slotBytes - MSG_OFFSET;
      // A datagram longer than a slot is no message of ours; it is cut, and then fails to open.
      mem.copyWithin(this.messageAt[n]!, from, from + Math.min(size, room));
      batch.lens[n] = Math.min(size, room);
      this.sources[n] = this.nameOf[b]!;
      n++;
      this.offset += size;
      if (this.offset >= len) {
        this.at++;
        this.offset = 0;
      }
    }
    return n;
  }

  /** One recvmmsg; false when nothing was waiting. */
  private read(): boolean {
    this.at = this.count = this.offset = 0;
    for (;;) {
      const n = libc.recvmmsg(this.fd, this.vec.ptr, GRO_BUFFERS, libc.MSG_DONTWAIT, null);
      if (n < 0) {
        const e = libc.errno();
        if (e === libc.EAGAIN) return false;
        if (e === libc.EINTR || SOFT_ERRORS.has(e)) continue;
        libc.check(n, 'recvmmsg');
      }
      const v = this.vec.view;
      for (let i = 0; i < n; i++) {
        const m = i * libc.SIZEOF_MMSGHDR;
        const len = v.readUInt32LE(m + MMSG_LEN);
        parseControl(this.controls.view, i * CONTROL_BYTES, v.readUInt32LE(m + MSGHDR_CONTROLLEN), this.control);
        const seg = this.control.segment;
        this.lens[i] = len;
        this.segments[i] = seg > 0 && seg < len ? seg : Math.max(len, 1);
        if (seg > 0 && seg < len) {
          this.runs++;
          this.coalesced += Math.ceil(len / seg);
        }
        if (this.control.drops >= 0) {
          this.kernelDrops += (this.control.drops - this.lastDropStamp) >>> 0;
          this.lastDropStamp = this.control.drops;
        }
        this.restore(i);
      }
      this.count = n;
      return n > 0;
    }
  }

  /** The kernel shortens msg_namelen and msg_controllen to what it filled: back to full size. */
  private restore(i: number): void {
    const m = i * libc.SIZEOF_MMSGHDR;
    this.vec.view.writeUInt32LE(libc.SIZEOF_SOCKADDR_STORAGE, m + MSGHDR_NAMELEN);
    this.vec.view.writeUInt32LE(CONTROL_BYTES, m + MSGHDR_CONTROLLEN);
  }
}
