// Data messages: one IP packet sealed with XChaCha20-Poly1305 under the
// session key from the handshake. This is the hot path: the nonce buffer is
// preallocated, header and counter are written byte by byte, and the views
// the AEAD call needs (or, for a backend called with addresses, the
// buffer's address) are cached per buffer.
//
// Wire layout (all integers little-endian):
//
//   offset  size  field
//        0     1  type = MESSAGE_DATA (4)
//        1     1  flags (DATA_FLAG_*), 0 unless the receiver announced the feature
//        2     2  reserved, zero
//        4     4  receiver index (u32): the receiver's session, chosen by the receiver
//        8     8  counter (u64): per-key message number, also the nonce
//       16     n  ciphertext of the IP packet
//     16+n    16  Poly1305 tag
//
// The 16-byte header is the AEAD's associated data, so none of it can be
// altered without the tag failing.
import { KEY_BYTES, TAG_BYTES, XNONCE_BYTES, type AddressedAead, type Aead } from './aead/aead.js';

export const MESSAGE_DATA = 4;
const TYPE_OFFSET = 0;
const FLAGS_OFFSET = 1;
const RESERVED_OFFSET = 2;
const RESERVED_BYTES = 2;
/**
 * The packet's TCP or UDP checksum is partial: its field holds the
 * pseudo-header sum, and the receiver hands the packet to its kernel with
 * NEEDS_CSUM (the AEAD has already vouched for every byte). Only sent to a
 * peer that announced FEATURE_CSUM_PARTIAL (messages.ts).
 */
export const DATA_FLAG_CSUM_PARTIAL = 1;
const RECEIVER_INDEX_OFFSET = 4;
const COUNTER_OFFSET = 8;
export const DATA_HEADER_BYTES = 16;
/** Header plus tag: a packet of n bytes goes on the wire as n + 32. */
export const DATA_OVERHEAD = DATA_HEADER_BYTES + TAG_BYTES;

/**
 * XChaCha20 nonce = 16 zero bytes ‖ counter (u64 LE). HChaCha20 derives the
 * subkey from the key and the nonce's FIRST 16 bytes, which are constant, so
 * the subkey is the same for every packet under a key (an implementation may
 * cache it); the counter lands in the ChaCha20 nonce. Counters never repeat
 * under a key, so neither do nonces.
 */
const NONCE_COUNTER_OFFSET = XNONCE_BYTES - 8;

/**
 * The sealer refuses to use this counter or any later one. WireGuard stops at
 * 2^64 - 2^13 - 1; here counters are JS numbers, exact only up to 2^53 - 1, and
 * an inexact counter could repeat a nonce, so the limit is 2^53 - 1 (counters
 * 0 .. 2^53 - 2 are used). At 10 million packets/s that is 28 years; sessions
 * are rekeyed long before by the handshake's timers.
 */
export const REJECT_AFTER_MESSAGES = Number.MAX_SAFE_INTEGER;

/** A sealer that must not seal any more: destroyed, or its counter exhausted. */
export class DataPacketError extends Error {
  override readonly name = 'DataPacketError';
}

/** Writes a safe non-negative integer as u64 LE without allocating. */
function writeU64LE(to: Uint8Array, at: number, value: number): void {
  const lo = value >>> 0; // ToUint32 is exact: value mod 2^32
  const hi = (value - lo) / 2 ** 32;
  to[at] = lo;
  to[at + 1] = lo >>> 8;
  to[at + 2] = lo >>> 16;
  to[at + 3] = lo >>> 24;
  to[at + 4] = hi;
  to[at + 5] = hi >>> 8;
  to[at + 6] = hi >>> 16;
  to[at + 7] = hi >>> 24;
}

function readU32LE(from: Uint8Array, at: number): number {
  return (from[at]! | (from[at + 1]! << 8) | (from[at + 2]! << 16) | (from[at + 3]! << 24)) >>> 0;
}

/** The flags of a data message (DATA_FLAG_*); authenticated once the message opened. */
export function readFlags(msg: Uint8Array): number {
  return msg[FLAGS_OFFSET]!;
}

/** The receiver index of a data message, or -1 if it is shorter than the header. */
export function readReceiverIndex(msg: Uint8Array): number {
  if (msg.length < DATA_HEADER_BYTES) return -1;
  return readU32LE(msg, RECEIVER_INDEX_OFFSET);
}

/**
 * The counter of a data message, or -1 if it is shorter than the header.
 * Counters of 2^53 or more (never sent by a sealer) come back as 2^53, which
 * the replay window rejects; the exact value does not matter then.
 */
export function readCounter(msg: Uint8Array): number {
  if (msg.length < DATA_HEADER_BYTES) return -1;
  const lo = readU32LE(msg, COUNTER_OFFSET);
  const hi = readU32LE(msg, COUNTER_OFFSET + 4);
  if (hi >= 2 ** 21) return 2 ** 53;
  return hi * 2 ** 32 + lo;
}

/** ChaCha20-Poly1305-IETF nonce: 4 zero bytes ‖ the counter (u64 LE), the last 8 bytes of the XChaCha nonce. */
const IETF_NONCE_BYTES = 12;
const IETF_NONCE_COUNTER_OFFSET = 4;
/** HChaCha20's input for every data nonce: the XChaCha nonce's first 16 bytes, always zero. */
const HCHACHA_INPUT = new Uint8Array(16);

/**
 * A sealer's or opener's key and nonce, in an off-heap buffer of their own:
 * V8 never moves it (a 32-byte Uint8Array lives in the JS heap, where the
 * garbage collector copies it and leaves stale copies of the key behind), so
 * wipe() zeroes the only copy; and its address is fixed, so a backend that
 * takes addresses (AddressedAead) can be handed them.
 *
 * With an AddressedAead the buffer holds the HChaCha20 subkey instead of the
 * key (the session key is wiped at once) and a 12-byte IETF nonce: the
 * packets are sealed with ChaCha20-Poly1305-IETF under the subkey, which is
 * XChaCha20-Poly1305 under the key for these nonces (aead.ts).
 */
class SessionSecret {
  /** The key (typed-array backends) or the HChaCha20 subkey (AddressedAead). */
  readonly key: Uint8Array;
  /** The 24-byte XChaCha nonce, or the 12-byte IETF nonce with an AddressedAead. */
  readonly nonce: Uint8Array;
  /** Where the counter goes in `nonce`. */
  readonly counterAt: number;
  /** Addresses of key and nonce for an AddressedAead; 0 without one. */
  readonly keyAt: number = 0;
  readonly nonceAt: number = 0;

  constructor(key: Uint8Array, addressed: AddressedAead | undefined) {
    if (key.length !== KEY_BYTES) throw new RangeError(`data key must be ${KEY_BYTES} bytes, got ${key.length}`);
    const nonceBytes = addressed !== undefined ? IETF_NONCE_BYTES : XNONCE_BYTES;
    // A copy (never a view of the caller's key: wiping one must not wipe the other).
    const memory = Buffer.allocUnsafeSlow(KEY_BYTES + nonceBytes).fill(0);
    this.key = memory.subarray(0, KEY_BYTES);
    this.nonce = memory.subarray(KEY_BYTES);
    if (addressed !== undefined) {
      addressed.hchacha20(this.key, HCHACHA_INPUT, key);
      this.counterAt = IETF_NONCE_COUNTER_OFFSET;
      this.keyAt = addressed.addressOf(this.key);
      this.nonceAt = addressed.addressOf(this.nonce);
    } else {
      this.key.set(key);
      this.counterAt = NONCE_COUNTER_OFFSET;
    }
  }

  wipe(): void {
    this.key.fill(0);
  }
}

/**
 * What the AEAD call needs from a packet buffer, kept per buffer (the daemon
 * reuses a fixed set of buffers): for a backend called with typed arrays, the
 * three views (header = the AD, plaintext, ciphertext‖tag), remade only when
 * the packet length changes (bulk transfers are runs of MTU-sized packets) —
 * making them costs about a quarter of sealing a small packet; for an
 * AddressedAead, the addresses of the header and the body, found once.
 */
class PacketViews {
  readonly ad: Uint8Array;
  plaintext: Uint8Array;
  sealed: Uint8Array;
  private plainLength = -1;
  /** Address of buf[0] (the header) and of buf[DATA_HEADER_BYTES] (the body); 0 until addresses() is called. */
  adAt = 0;
  bodyAt = 0;

  constructor(private readonly buf: Uint8Array) {
    this.ad = buf.subarray(0, DATA_HEADER_BYTES);
    this.plaintext = this.sealed = this.ad; // placeholders until the first setLength()
  }

  setLength(plainLength: number): this {
    if (plainLength === this.plainLength) return this;
    this.plainLength = plainLength;
    this.plaintext = this.buf.subarray(DATA_HEADER_BYTES, DATA_HEADER_BYTES + plainLength);
    this.sealed = this.buf.subarray(DATA_HEADER_BYTES, DATA_HEADER_BYTES + plainLength + TAG_BYTES);
    return this;
  }

  addresses(addressed: AddressedAead): this {
    if (this.adAt === 0) {
      // Reading .buffer moves a small typed array's bytes out of the JS heap
      // (where the garbage collector could move them) for good; the daemon's
      // buffers are native memory already. The address then holds while buf lives.
      void this.buf.buffer;
      this.adAt = addressed.addressOf(this.buf);
      this.bodyAt = this.adAt + DATA_HEADER_BYTES;
    }
    return this;
  }
}

/** Per-thread cache; weak, so it never keeps a caller's buffer alive. Views and addresses hold no secrets. */
const viewsByBuffer = new WeakMap<Uint8Array, PacketViews>();

function viewsOf(buf: Uint8Array): PacketViews {
  let views = viewsByBuffer.get(buf);
  if (views === undefined) {
    views = new PacketViews(buf);
    viewsByBuffer.set(buf, views);
  }
  return views;
}

/** Seals outgoing packets under one send key; owns a copy of the key. */
export class DataSealer {
  private readonly secret: SessionSecret;
  private readonly addressed: AddressedAead | undefined;
  /** The index the peer gave this session (what each message carries as receiver). */
  readonly receiverIndex: number;
  private next: number;
  private destroyed = false;

  /**
   * `key` is copied (wipe yours when done). `receiverIndex` is the index the
   * peer chose for this session. `firstCounter` is for tests only: a key used
   * from any counter other than 0 risks repeating a nonce.
   */
  constructor(
    private readonly aead: Aead,
    key: Uint8Array,
    receiverIndex: number,
    options: { readonly firstCounter?: number } = {},
  ) {
    if (!Number.isInteger(receiverIndex) || receiverIndex < 0 || receiverIndex > 0xffffffff) {
      throw new RangeError(`receiver index ${receiverIndex} is not a u32`);
    }
    const first = options.firstCounter ?? 0;
    if (!Number.isSafeInteger(first) || first < 0) throw new RangeError(`bad first counter ${first}`);
    this.addressed = aead.addressed;
    this.secret = new SessionSecret(key, this.addressed);
    this.receiverIndex = receiverIndex;
    this.next = first;
  }

  /** The next counter to use (read-only: moving it back would repeat nonces). */
  get counter(): number {
    return this.next;
  }

  /**
   * Packet plaintext is already at buf[DATA_HEADER_BYTES .. DATA_HEADER_BYTES+len)
   * and buf has TAG_BYTES more after it. Writes header (with `flags`,
   * DATA_FLAG_*), seals in place, returns
   * the total wire length (len + DATA_OVERHEAD). Throws DataPacketError once
   * the counter reaches REJECT_AFTER_MESSAGES (a new handshake is due) or after
   * destroy(); RangeError if buf has no room.
   */
  seal(buf: Uint8Array, len: number, flags = 0): number {
    if (this.destroyed) throw new DataPacketError('sealer used after destroy()');
    const counter = this.next;
    if (counter >= REJECT_AFTER_MESSAGES) throw new DataPacketError('send counter exhausted; a new handshake is needed');
    const end = DATA_HEADER_BYTES + len;
    if (!Number.isInteger(len) || len < 0 || end + TAG_BYTES > buf.length) {
      throw new RangeError(`buffer of ${buf.length} bytes cannot hold a ${len}-byte packet plus ${DATA_OVERHEAD}`);
    }
    // Consume the counter before sealing: whatever happens next, it is never used twice.
    this.next = counter + 1;

    buf[TYPE_OFFSET] = MESSAGE_DATA;
    buf[FLAGS_OFFSET] = flags;
    for (let i = 0; i < RESERVED_BYTES; i++) buf[RESERVED_OFFSET + i] = 0;
    const index = this.receiverIndex;
    buf[RECEIVER_INDEX_OFFSET] = index;
    buf[RECEIVER_INDEX_OFFSET + 1] = index >>> 8;
    buf[RECEIVER_INDEX_OFFSET + 2] = index >>> 16;
    buf[RECEIVER_INDEX_OFFSET + 3] = index >>> 24;
    writeU64LE(buf, COUNTER_OFFSET, counter);
    const secret = this.secret;
    writeU64LE(secret.nonce, secret.counterAt, counter);

    const addressed = this.addressed;
    if (addressed !== undefined) {
      const at = viewsOf(buf).addresses(addressed);
      addressed.sealIetfAt(at.bodyAt, at.bodyAt, len, at.adAt, DATA_HEADER_BYTES, secret.nonceAt, secret.keyAt);
    } else {
      const views = viewsOf(buf).setLength(len);
      this.aead.seal(views.sealed, views.plaintext, views.ad, secret.nonce, secret.key);
    }
    return end + TAG_BYTES;
  }

  /** Wipes the key; seal() refuses from now on. */
  destroy(): void {
    this.secret.wipe();
    this.destroyed = true;
  }
}

/** Opens incoming packets under one receive key; owns a copy of the key. */
export class DataOpener {
  private readonly secret: SessionSecret;
  private readonly addressed: AddressedAead | undefined;
  private destroyed = false;

  /** `key` is copied (wipe yours when done). */
  constructor(
    private readonly aead: Aead,
    key: Uint8Array,
  ) {
    this.addressed = aead.addressed;
    this.secret = new SessionSecret(key, this.addressed);
  }

  /**
   * Opens msg[0..len) in place; the plaintext ends up at msg[16 .. 16+ret).
   * Returns -1 if the message is too short, not a data message, forged, or
   * this opener was destroyed. Does NOT touch the replay window: the caller
   * checks readCounter(msg) with its ReplayWindow after this succeeds.
   * Never throws on what came off the wire.
   */
  open(msg: Uint8Array, len: number): number {
    if (this.destroyed || !Number.isInteger(len) || len < DATA_OVERHEAD || len > msg.length) return -1;
    if (msg[TYPE_OFFSET] !== MESSAGE_DATA) return -1;
    const secret = this.secret;
    const nonce = secret.nonce;
    const counterAt = secret.counterAt;
    for (let i = 0; i < 8; i++) nonce[counterAt + i] = msg[COUNTER_OFFSET + i]!;
    const plainLength = len - DATA_OVERHEAD;
    const addressed = this.addressed;
    if (addressed !== undefined) {
      const at = viewsOf(msg).addresses(addressed);
      const ok = addressed.openIetfAt(at.bodyAt, at.bodyAt, plainLength + TAG_BYTES, at.adAt, DATA_HEADER_BYTES, secret.nonceAt, secret.keyAt);
      return ok ? plainLength : -1;
    }
    const views = viewsOf(msg).setLength(plainLength);
    return this.aead.open(views.plaintext, views.sealed, views.ad, nonce, secret.key) ? plainLength : -1;
  }

  /** Wipes the key; open() returns -1 from now on. */
  destroy(): void {
    this.secret.wipe();
    this.destroyed = true;
  }
}
