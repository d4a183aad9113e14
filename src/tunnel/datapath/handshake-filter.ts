// What the receive worker checks on a handshake message before queuing it
// for the main thread (whitepaper §5.4.7, as WireGuard's receive path does
// before its handshake queue): the size its type demands, and for an
// initiation or response mac1, which only our public key is needed to
// check. A flood from anyone who does not know that key costs one hash per
// message here and never takes one of the queue's slots from a real
// initiation. The main thread checks everything again (handshake.ts,
// cookie.ts): this is a filter, not the authority.
import type { KeyedHash } from '../../crypto/keyed-hash.js';
import {
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

export type FilterVerdict = 'ok' | 'bad-size' | 'bad-mac1';

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

  /** `mac1Key`: messages.ts mac1Key(our public key). */
  constructor(
    private readonly mac1Key: Uint8Array,
    private readonly hash: KeyedHash,
  ) {}

  /** `msg[0]` is a handshake type (1, 2 or 3); `len` the message's length. */
  check(msg: Uint8Array, len: number): FilterVerdict {
    const type = msg[0];
    if (type === MESSAGE_COOKIE_REPLY) return len === MESSAGE_COOKIE_REPLY_BYTES ? 'ok' : 'bad-size';
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
}
