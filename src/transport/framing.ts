// Stream framing for the TCP transport: every message is preceded by its
// length as a 2-byte big-endian integer, as OpenVPN's TCP mode does.
//
// The decoder owns one fixed buffer for the life of a connection. A length
// beyond the bound (or zero) is a protocol violation: the connection is
// closed rather than any memory being reserved on an attacker's word.

export const FRAME_HEADER_BYTES = 2;
/** The largest length a 2-byte prefix can state. */
export const FRAME_LIMIT = 0xffff;

export class FrameError extends Error {
  override readonly name = 'FrameError';
  constructor(
    readonly reason: 'frame-too-large' | 'frame-empty',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Throws unless messages of up to `maxFrame` bytes can be framed: a data
 * path checks its bound when it starts, not on the first connection.
 */
export function checkFrameBound(maxFrame: number): void {
  if (!(maxFrame >= 1 && maxFrame <= FRAME_LIMIT)) {
    throw new RangeError(`TCP frames carry messages of 1 to ${FRAME_LIMIT} bytes; a bound of ${maxFrame} cannot be framed`);
  }
}

/**
 * Writes the length prefix for a message of `len` bytes at buf[off..off+2).
 * A length the prefix cannot state (or 0, which the receiver refuses) throws:
 * written modulo 2^16 it would desynchronise the stream.
 */
export function writeFrameHeader(buf: Uint8Array, off: number, len: number): void {
  if (!(len >= 1 && len <= FRAME_LIMIT)) throw new RangeError(`a message of ${len} bytes cannot be framed (1 to ${FRAME_LIMIT})`);
  buf[off] = len >>> 8;
  buf[off + 1] = len & 0xff;
}

export class FrameDecoder {
  /** Reassembly buffer; complete frames are read from it in place. */
  readonly buf: Uint8Array;
  private start = 0;
  private end = 0;
  /** Offset in `buf` of the message returned by the last next(). */
  frameOffset = 0;

  constructor(readonly maxFrame: number) {
    checkFrameBound(maxFrame);
    // Room for one whole frame plus as much again for the next recv().
    this.buf = new Uint8Array(2 * (FRAME_HEADER_BYTES + maxFrame));
  }

  /** Free space after the buffered bytes, compacting first; never empty. */
  writable(): Uint8Array {
    if (this.start > 0 && this.buf.length - this.end < FRAME_HEADER_BYTES + this.maxFrame) {
      this.buf.copyWithin(0, this.start, this.end);
      this.end -= this.start;
      this.start = 0;
    }
    return this.buf.subarray(this.end);
  }

  /** Records that `n` bytes were written into the space from writable(). */
  commit(n: number): void {
    this.end += n;
  }

  /** Copies bytes in (for tests and callers without a recv() of their own); returns how many fit. */
  push(data: Uint8Array): number {
    const space = this.writable();
    const n = Math.min(space.length, data.length);
    space.set(data.subarray(0, n));
    this.commit(n);
    return n;
  }

  /**
   * The length of the next complete message (at `frameOffset`), or -1 when
   * more bytes are needed. Throws FrameError on a length outside 1..maxFrame.
   */
  next(): number {
    const avail = this.end - this.start;
    if (avail < FRAME_HEADER_BYTES) return -1;
    const len = (this.buf[this.start]! << 8) | this.buf[this.start + 1]!;
    if (len === 0) throw new FrameError('frame-empty', 'frame of length 0');
    if (len > this.maxFrame) throw new FrameError('frame-too-large', `frame of ${len} bytes exceeds the bound of ${this.maxFrame}`);
    if (avail < FRAME_HEADER_BYTES + len) return -1;
    this.frameOffset = this.start + FRAME_HEADER_BYTES;
    this.start += FRAME_HEADER_BYTES + len;
    if (this.start === this.end) this.start = this.end = 0;
    return len;
  }

  /** Bytes received but not yet returned as frames. */
  get buffered(): number {
    return this.end - this.start;
  }
}
