// Stream I/O for the TCP transport's data-path workers.
//
// Sending: a batch of messages leaves in one sendmsg() with one iovec per
// message; each slot already has room for its 2-byte length prefix, so no
// message is copied. Receiving: recv() into the connection's FrameDecoder and
// hand complete messages on in place.
import * as libc from '../sys/libc.js';
import { MSG_OFFSET, type PacketBatch } from './batch.js';
import { FrameDecoder, FrameError, writeFrameHeader } from './framing.js';

const MSGHDR_IOV = 16;
const MSGHDR_IOVLEN = 24;

export class TcpBatchSender {
  private readonly msghdr = libc.allocNative(libc.SIZEOF_MSGHDR);
  private readonly iov: { ptr: libc.Pointer; view: Buffer };
  private fd = -1;

  constructor(private readonly batch: PacketBatch) {
    this.iov = libc.allocNative(batch.size * libc.SIZEOF_IOVEC);
  }

  setConnection(fd: number): void {
    this.fd = fd;
  }

  get connection(): number {
    return this.fd;
  }

  /**
   * Frames and sends messages [0, count) of the batch, blocking until all are
   * written. Returns false when the connection failed (the caller reports it).
   */
  send(count: number): boolean {
    if (this.fd < 0) return false;
    const { slots, slotPtrs, lens } = this.batch;
    let total = 0;
    for (let i = 0; i < count; i++) {
      writeFrameHeader(slots[i]!, MSG_OFFSET - 2, lens[i]!);
      this.iov.view.writeBigUInt64LE(slotPtrs[i]! + BigInt(MSG_OFFSET - 2), i * libc.SIZEOF_IOVEC);
      this.iov.view.writeUInt32LE(lens[i]! + 2, i * libc.SIZEOF_IOVEC + 8);
      total += lens[i]! + 2;
    }
    let first = 0;
    while (total > 0) {
      this.msghdr.view.writeBigUInt64LE(this.iov.ptr + BigInt(first * libc.SIZEOF_IOVEC), MSGHDR_IOV);
      this.msghdr.view.writeBigUInt64LE(BigInt(count - first), MSGHDR_IOVLEN);
      const n = libc.sendmsg(this.fd, this.msghdr.ptr, libc.MSG_NOSIGNAL);
      if (n < 0) {
        if (libc.errno() === libc.EINTR) continue;
        return false;
      }
      total -= n;
      first = this.advance(first, count, n);
    }
    return true;
  }

  /** Moves the iovec window past `n` sent bytes; returns the first unsent iovec. */
  private advance(first: number, count: number, n: number): number {
    const v = this.iov.view;
    while (n > 0 && first < count) {
      const off = first * libc.SIZEOF_IOVEC;
      const len = v.readUInt32LE(off + 8);
      if (n < len) {
        v.writeBigUInt64LE(v.readBigUInt64LE(off) + BigInt(n), off);
        v.writeUInt32LE(len - n, off + 8);
        return first;
      }
      n -= len;
      first++;
    }
    return first;
  }
}

export type StreamResult = 'ok' | 'eof' | 'error' | FrameError;

/** One TCP connection's receive side. */
export class TcpStreamReceiver {
  readonly decoder: FrameDecoder;

  constructor(
    readonly fd: number,
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
