// Stream I/O for the TCP transport's data-path workers.
//
// Sending: a batch of messages leaves in one sendmsg() with one iovec per
// message; each slot already has room for its 2-byte length prefix, so no
// message is copied. Sends never block: a full socket buffer (a slow or
// stalled peer) leaves the batch pending until the socket is writable, and
// the worker keeps answering its control messages meanwhile. Receiving: recv() into the connection's FrameDecoder and
// hand complete messages on in place.
import * as libc from '../sys/libc.js';
import { MSG_OFFSET, type PacketBatch } from './batch.js';
import { checkFrameBound, FrameDecoder, FrameError, writeFrameHeader } from './framing.js';

const MSGHDR_IOV = 16;
const MSGHDR_IOVLEN = 24;

/** What a send did: all written, stopped by a full socket buffer (resume() later), or failed. */
export type SendResult = 'sent' | 'blocked' | 'failed';

export class TcpBatchSender {
  private readonly msghdr = libc.allocNative(libc.SIZEOF_MSGHDR);
  private readonly iov: { ptr: libc.Pointer; view: Buffer };
  private fd = -1;
  /** The batch being written: iovecs [first, count) are unsent. */
  private first = 0;
  private count = 0;
  /** An iovec whose base a partial write moved, to put back before the next batch. */
  private moved = -1;

  constructor(private readonly batch: PacketBatch) {
    checkFrameBound(batch.slotBytes - MSG_OFFSET);
    this.iov = libc.allocNative(batch.size * libc.SIZEOF_IOVEC);
    for (let i = 0; i < batch.size; i++) this.setBase(i);
  }

  private setBase(i: number): void {
    this.iov.view.writeBigUInt64LE(this.batch.slotPtrs[i]! + BigInt(MSG_OFFSET - 2), i * libc.SIZEOF_IOVEC);
  }

  setConnection(fd: number): void {
    this.fd = fd;
    this.first = this.count = 0;
  }

  get connection(): number {
    return this.fd;
  }

  /** A batch is half written; the batch's slots must not be reused until resume() says 'sent'. */
  get blocked(): boolean {
    return this.first < this.count;
  }

  /**
   * Frames messages [from, from + count) of the batch and writes them without blocking.
   * 'blocked' means the socket buffer is full: wait for POLLOUT, then resume().
   */
  send(count: number, from = 0): SendResult {
    if (this.fd < 0) return 'failed';
    const { slots, lens } = this.batch;
    if (this.moved >= 0) {
      this.setBase(this.moved);
      this.moved = -1;
    }
    const end = from + count;
    for (let i = from; i < end; i++) {
      writeFrameHeader(slots[i]!, MSG_OFFSET - 2, lens[i]!);
      this.iov.view.writeUInt32LE(lens[i]! + 2, i * libc.SIZEOF_IOVEC + 8);
    }
    this.first = from;
    this.count = end;
    return this.resume();
  }

  /**
   * The half-written batch's unsent bytes (the rest of a frame, then whole
   * frames), copied out; the sender is then free for another batch. For a
   * caller that keeps them for later (one peer's queue) rather than wait.
   */
  takeUnsent(): Uint8Array {
    const v = this.iov.view;
    let total = 0;
    for (let i = this.first; i < this.count; i++) total += v.readUInt32LE(i * libc.SIZEOF_IOVEC + 8);
    const out = new Uint8Array(total);
    let at = 0;
    for (let i = this.first; i < this.count; i++) {
      const len = v.readUInt32LE(i * libc.SIZEOF_IOVEC + 8);
      const from = Number(v.readBigUInt64LE(i * libc.SIZEOF_IOVEC) - this.batch.slotPtrs[i]!);
      out.set(this.batch.slots[i]!.subarray(from, from + len), at);
      at += len;
    }
    if (this.moved >= 0) {
      this.setBase(this.moved);
      this.moved = -1;
    }
    this.first = this.count = 0;
    return out;
  }

  /** Continues writing the current batch. */
  resume(): SendResult {
    while (this.first < this.count) {
      this.msghdr.view.writeBigUInt64LE(this.iov.ptr + BigInt(this.first * libc.SIZEOF_IOVEC), MSGHDR_IOV);
      this.msghdr.view.writeBigUInt64LE(BigInt(this.count - this.first), MSGHDR_IOVLEN);
      const n = libc.sendmsg(this.fd, this.msghdr.ptr, libc.MSG_NOSIGNAL | libc.MSG_DONTWAIT);
      if (n < 0) {
        const e = libc.errno();
        if (e === libc.EINTR) continue;
        if (e === libc.EAGAIN) return 'blocked';
        this.first = this.count = 0;
        return 'failed';
      }
      this.advance(n);
    }
    return 'sent';
  }

  /** Moves the iovec window past `n` sent bytes. */
  private advance(n: number): void {
    const v = this.iov.view;
    while (n > 0 && this.first < this.count) {
      const off = this.first * libc.SIZEOF_IOVEC;
      const len = v.readUInt32LE(off + 8);
      if (n < len) {
        v.writeBigUInt64LE(v.readBigUInt64LE(off) + BigInt(n), off);
        v.writeUInt32LE(len - n, off + 8);
        this.moved = this.first;
        return;
      }
      n -= len;
      if (this.moved === this.first) {
        this.setBase(this.first);
        this.moved = -1;
      }
      this.first++;
    }
  }
}

export type StreamResult = 'ok' | 'eof' | 'error' | FrameError;

/** One TCP connection's receive side. */
export class TcpStreamReceiver {
  readonly decoder: FrameDecoder;

  /** `conn`: the id its owner gave this connection (the descriptor number outlives it). */
  constructor(
    readonly fd: number,
    readonly conn: number,
    maxFrame: number,
  ) {
    this.decoder = new FrameDecoder(maxFrame);
  }

  /**
   * Reads what is available without blocking and calls `onMessage` for each
   * complete message (valid only during the call). Stops at end of stream,
   * on a socket error or a framing violation, which it returns.
   */
  receive(onMessage: (buf: Uint8Array, off: number, len: number) => void): StreamResult {
    for (;;) {
      const space = this.decoder.writable();
      const n = libc.recv(this.fd, space, space.length, libc.MSG_DONTWAIT);
      if (n === 0) return 'eof';
      if (n < 0) {
        const e = libc.errno();
        if (e === libc.EAGAIN) return 'ok';
        if (e === libc.EINTR) continue;
        return 'error';
      }
      this.decoder.commit(n);
      try {
        for (let len = this.decoder.next(); len > 0; len = this.decoder.next()) {
          onMessage(this.decoder.buf, this.decoder.frameOffset, len);
        }
      } catch (err) {
        if (err instanceof FrameError) return err;
        throw err;
      }
      if (n < space.length) return 'ok';
    }
  }
}
