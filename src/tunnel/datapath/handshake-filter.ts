// What the receive worker checks on a handshake message before queuing it
// for the main thread (whitepaper §5.4.7, as WireGuard's receive path does
// before its handshake queue): the size its type demands, and for an
// initiation or response mac1, which only our public key is needed to
// check; for a cookie reply, that it answers the latest handshake message we
// sent its peer (its receiver index is that message's sender index, which only the
// path to the peer sees) and is the first to. A flood from anyone who does
// not know that key, or of cookie replies from anyone off that path, costs
// one hash or one compare per message here and never takes one of the
// queue's slots from a real initiation, nor makes us count ourselves under
// load (peer.ts underLoad reads the queue's length). The main thread checks everything again (handshake.ts,
// cookie.ts): this is a filter, not the authority.
import type { KeyedHash } from '../../crypto/keyed-hash.js';
import {
  COOKIE_REPLY,
  INITIATION,
  MAC_BYTES,
  MESSAGE_COOKIE_REPLY,
  MESSAGE_COOKIE_REPLY_BYTES,
  MESSAGE_INITIATION,
  MESSAGE_INITIATION_BYTES,
  MESSAGE_RESPONSE,
  MESSAGE_RESPONSE_BYTES,
  RESPONSE,
} from '../messages.js';

export type FilterVerdict = 'ok' | 'bad-size' | 'bad-mac1' | 'cookie-unexpected';

const COOKIE_RECEIVER_AT = COOKIE_REPLY.receiverIndex.offset;

export class HandshakeFilter {
  /** mac1 as computed for the message at hand. */
  private readonly expected = new Uint8Array(MAC_BYTES);
  /**
   * What mac1 covers, copied out of the message (at most 120 bytes): a view
   * of it would be an allocation per message of a flood. With sodium-native
   * a refused message allocates nothing; the libsodium-wrappers fallback
   * still allocates inside its hash call (its WebAssembly heap and the
   * result array), whatever is done here.
   */
  private readonly coveredInitiation = new Uint8Array(INITIATION.mac1.offset);
  private readonly coveredResponse = new Uint8Array(RESPONSE.mac1.offset);
  /** Per peer: the sender index of the latest handshake message we sent it, while no cookie reply to it has passed. */
  private readonly latest = new Map<number, number>();
  /** The same, by sender index (what a cookie reply names), to the peer. */
  private readonly awaiting = new Map<number, number>();

  /** `mac1Key`: messages.ts mac1Key(our public key). */
  constructor(
    private readonly mac1Key: Uint8Array,
    private readonly hash: KeyedHash,
  ) {}

  /** We send `peer` a handshake message with this sender index (worker-messages.ts 'handshake-sent'). */
  expectCookieReply(peer: number, senderIndex: number): void {
    this.forget(peer);
    this.latest.set(peer, senderIndex);
    this.awaiting.set(senderIndex, peer);
  }

  /** A removed peer: no reply to what we sent it passes. */
  forget(peer: number): void {
    const before = this.latest.get(peer);
    if (before === undefined) return;
    this.latest.delete(peer);
    if (this.awaiting.get(before) === peer) this.awaiting.delete(before);
  }

  /** `msg[0]` is a handshake type (1, 2 or 3); `len` the message's length. */
  check(msg: Uint8Array, len: number): FilterVerdict {
    const type = msg[0];
    if (type === MESSAGE_COOKIE_REPLY) return len === MESSAGE_COOKIE_REPLY_BYTES ? this.checkCookieReply(msg) : 'bad-size';
    const initiation = type === MESSAGE_INITIATION;
    if (len !== (initiation ? MESSAGE_INITIATION_BYTES : type === MESSAGE_RESPONSE ? MESSAGE_RESPONSE_BYTES : -1)) return 'bad-size';
    const covered = initiation ? this.coveredInitiation : this.coveredResponse;
    const at = covered.length;
    for (let i = 0; i < at; i++) covered[i] = msg[i]!;
    this.hash(this.expected, covered, this.mac1Key);
    // Constant time, as messages.ts verifyMac1.
    let diff = 0;
    for (let i = 0; i < MAC_BYTES; i++) diff |= this.expected[i]! ^ msg[at + i]!;
    return diff === 0 ? 'ok' : 'bad-mac1';
  }

  /** One reply per message sent, as the main thread's CookieJar takes (cookie.ts consumeReply). */
  private checkCookieReply(msg: Uint8Array): FilterVerdict {
    const at = COOKIE_RECEIVER_AT;
    const index = (msg[at]! | (msg[at + 1]! << 8) | (msg[at + 2]! << 16) | (msg[at + 3]! << 24)) >>> 0;
    const peer = this.awaiting.get(index);
    if (peer === undefined) return 'cookie-unexpected';
    this.forget(peer);
    return 'ok';
  }
}
