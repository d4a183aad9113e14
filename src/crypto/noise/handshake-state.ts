// Noise rev 34 §5.3: the HandshakeState object, which runs a handshake pattern
// over a SymmetricState and ends in Split().
import type { CipherState } from './cipher-state.js';
import type { HandshakePattern, Token } from './patterns.js';
import {
  CIPHER_NAME,
  DHLEN,
  DH_NAME,
  HASH_NAME,
  MAX_MESSAGE_LEN,
  NoiseError,
  PSKLEN,
  TAGLEN,
  concat,
  dh,
  generateKeypair,
  type KeyPair,
} from './primitives.js';
import { SymmetricState } from './symmetric-state.js';

/** §8: `Noise_<pattern>_<DH>_<CIPHER>_<HASH>`, e.g. `Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b`. */
export function protocolName(pattern: HandshakePattern): string {
  return `Noise_${pattern.name}_${DH_NAME}_${CIPHER_NAME}_${HASH_NAME}`;
}

/** The arguments of §5.3 Initialize(); keys are copied, so callers keep ownership of theirs. */
export interface HandshakeStateOptions {
  readonly pattern: HandshakePattern;
  readonly initiator: boolean;
  readonly prologue: Uint8Array;
  /** Our static key pair (s). */
  readonly s?: KeyPair;
  /** The remote static public key (rs), when known beforehand (IK: the initiator knows it). */
  readonly rs?: Uint8Array;
  /** The remote ephemeral public key (re), when a pre-message carries it. */
  readonly re?: Uint8Array;
  /** The pre-shared key for `psk` tokens (§9). */
  readonly psk?: Uint8Array;
  /**
   * A pre-chosen ephemeral key pair for the `e` token instead of
   * GENERATE_KEYPAIR(). Only for reproducing test vectors: reusing an
   * ephemeral across handshakes destroys forward secrecy.
   */
  readonly fixedEphemeral?: KeyPair;
}

/** What WriteMessage/ReadMessage return: on the last message, the two CipherStates of Split(). */
export interface MessageResult<T> {
  readonly value: T;
  /** [initiator→responder, responder→initiator] once the handshake is complete, else null. */
  readonly split: [CipherState, CipherState] | null;
}

/** The §5.3 variables besides the SymmetricState. */
interface StateFields {
  readonly pattern: HandshakePattern;
  readonly initiator: boolean;
  readonly s: KeyPair | null;
  readonly e: KeyPair | null;
  readonly rs: Uint8Array | null;
  readonly re: Uint8Array | null;
  readonly psk: Uint8Array | null;
  readonly fixedEphemeral: KeyPair | null;
}

/** A copy even of a Buffer, whose slice() is a view: destroy() wipes the copy, never the caller's key. */
function copyKeyPair(pair: KeyPair): KeyPair {
  return { publicKey: Uint8Array.from(pair.publicKey), privateKey: Uint8Array.from(pair.privateKey) };
}

export class HandshakeState {
  private readonly symmetricState: SymmetricState;
  private readonly pattern: HandshakePattern;
  private readonly initiator: boolean;
  private s: KeyPair | null;
  private e: KeyPair | null;
  private rs: Uint8Array | null;
  private re: Uint8Array | null;
  private readonly psk: Uint8Array | null;
  private readonly fixedEphemeral: KeyPair | null;
  /** Index into pattern.messages of the next message to write or read (§5.3 message_patterns). */
  private messageIndex = 0;

  private constructor(
    symmetricState: SymmetricState,
    from: StateFields,
  ) {
    this.symmetricState = symmetricState;
    this.pattern = from.pattern;
    this.initiator = from.initiator;
    this.s = from.s;
    this.e = from.e;
    this.rs = from.rs;
    this.re = from.re;
    this.psk = from.psk;
    this.fixedEphemeral = from.fixedEphemeral;
  }

  /**
   * §5.3 Initialize(handshake_pattern, initiator, prologue, s, e, rs, re):
   * InitializeSymmetric(protocol_name); MixHash(prologue); then MixHash of each
   * pre-message public key, the initiator's first, then the responder's.
   */
  static initialize(options: HandshakeStateOptions): HandshakeState {
    const { pattern, initiator } = options;
    if (options.psk !== undefined && options.psk.length !== PSKLEN) {
      throw new NoiseError('bad-key-length', `psk must be ${PSKLEN} bytes, got ${options.psk.length}`);
    }
    if (pattern.hasPskModifier && options.psk === undefined) {
      throw new NoiseError('bad-key-length', `${pattern.name} needs a psk`);
    }
    const symmetricState = SymmetricState.initializeSymmetric(protocolName(pattern));
    const state = new HandshakeState(symmetricState, {
      pattern,
      initiator,
      s: options.s ? copyKeyPair(options.s) : null,
      e: null,
      rs: options.rs?.slice() ?? null,
      re: options.re?.slice() ?? null,
      psk: options.psk ? Uint8Array.from(options.psk) : null,
      fixedEphemeral: options.fixedEphemeral ? copyKeyPair(options.fixedEphemeral) : null,
    });
    symmetricState.mixHash(options.prologue);
    // The initiator's pre-message keys are our own if we are the initiator, the remote's otherwise.
    state.mixPreMessage(pattern.initiatorPreMessage, initiator);
    state.mixPreMessage(pattern.responderPreMessage, !initiator);
    return state;
  }

  private mixPreMessage(tokens: readonly ('e' | 's')[], ours: boolean): void {
    for (const token of tokens) {
      const key = token === 'e' ? (ours ? this.e?.publicKey : this.re) : ours ? this.s?.publicKey : this.rs;
      if (!key) throw new NoiseError('bad-key-length', `pre-message needs the ${ours ? '' : 'remote '}${token} key`);
      this.symmetricState.mixHash(key);
    }
  }

  /** True once both messages of the pattern have been processed. */
  get isComplete(): boolean {
    return this.messageIndex >= this.pattern.messages.length;
  }

  /** The remote static public key: configured, or learned from an `s` token. */
  get remoteStaticKey(): Uint8Array | null {
    return this.rs?.slice() ?? null;
  }

  /** §5.2 GetHandshakeHash(), exposed for channel binding (§11.2). */
  getHandshakeHash(): Uint8Array {
    return this.symmetricState.getHandshakeHash();
  }

  /** §5.3 WriteMessage(payload, message_buffer). */
  writeMessage(payload: Uint8Array): MessageResult<Uint8Array> {
    const tokens = this.nextTokens(true);
    const parts: Uint8Array[] = [];
    for (const token of tokens) {
      switch (token) {
        case 'e': {
          this.e = this.fixedEphemeral ? copyKeyPair(this.fixedEphemeral) : generateKeypair();
          parts.push(this.e.publicKey.slice());
          this.symmetricState.mixHash(this.e.publicKey);
          if (this.pattern.hasPskModifier) this.symmetricState.mixKey(this.e.publicKey); // §9.2
          break;
        }
        case 's':
          parts.push(this.symmetricState.encryptAndHash(this.required('s', this.s).publicKey));
          break;
        case 'psk':
          this.symmetricState.mixKeyAndHash(this.required('psk', this.psk)); // §9.2
          break;
        default:
          this.mixDh(token);
      }
    }
    parts.push(this.symmetricState.encryptAndHash(payload));
    const message = concat(parts);
    if (message.length > MAX_MESSAGE_LEN) throw new NoiseError('message-too-long', `${message.length}-byte message`);
    return { value: message, split: this.finishMessage() };
  }

  /**
   * §5.3 ReadMessage(message, payload_buffer). Throws NoiseError on a short
   * message, a bad DH or failed decryption; the state is then unusable (§5.3:
   * the handshake fails), so callers that must survive forged messages work on a clone().
   */
  readMessage(message: Uint8Array): MessageResult<Uint8Array> {
    if (message.length > MAX_MESSAGE_LEN) throw new NoiseError('message-too-long', `${message.length}-byte message`);
    const tokens = this.nextTokens(false);
    let at = 0;
    const take = (length: number): Uint8Array => {
      if (message.length - at < length) throw new NoiseError('short-message', 'message shorter than its tokens');
      const bytes = message.slice(at, at + length);
      at += length;
      return bytes;
    };
    for (const token of tokens) {
      switch (token) {
        case 'e': {
          this.re = take(DHLEN);
          this.symmetricState.mixHash(this.re);
          if (this.pattern.hasPskModifier) this.symmetricState.mixKey(this.re); // §9.2
          break;
        }
        case 's': {
          // §5.3: DHLEN + 16 bytes if a key is set (the static is encrypted), else DHLEN.
          const temp = take(this.symmetricState.hasKey() ? DHLEN + TAGLEN : DHLEN);
          this.rs = this.symmetricState.decryptAndHash(temp);
          break;
        }
        case 'psk':
          this.symmetricState.mixKeyAndHash(this.required('psk', this.psk));
          break;
        default:
          this.mixDh(token);
      }
    }
    const payload = this.symmetricState.decryptAndHash(message.subarray(at));
    return { value: payload, split: this.finishMessage() };
  }

  /** §5.3 DH tokens: which of our keys meets which remote key depends on the role. */
  private mixDh(token: Exclude<Token, 'e' | 's' | 'psk'>): void {
    let local: KeyPair | null;
    let remote: Uint8Array | null;
    switch (token) {
      case 'ee':
        [local, remote] = [this.e, this.re];
        break;
      case 'es': // initiator: DH(e, rs); responder: DH(s, re)
        [local, remote] = this.initiator ? [this.e, this.rs] : [this.s, this.re];
        break;
      case 'se': // initiator: DH(s, re); responder: DH(e, rs)
        [local, remote] = this.initiator ? [this.s, this.re] : [this.e, this.rs];
        break;
      case 'ss':
        [local, remote] = [this.s, this.rs];
        break;
    }
    const shared = dh(this.required(`${token} local key`, local), this.required(`${token} remote key`, remote));
    this.symmetricState.mixKey(shared);
    shared.fill(0);
  }

  private nextTokens(writing: boolean): readonly Token[] {
    const tokens = this.pattern.messages[this.messageIndex];
    if (tokens === undefined) throw new NoiseError('wrong-turn', 'the handshake is already complete');
    const initiatorsTurn = this.messageIndex % 2 === 0;
    if ((initiatorsTurn === this.initiator) !== writing) {
      throw new NoiseError('wrong-turn', `it is not our turn to ${writing ? 'write' : 'read'}`);
    }
    return tokens;
  }

  /** After the last message, §5.3 returns Split(). */
  private finishMessage(): [CipherState, CipherState] | null {
    this.messageIndex++;
    return this.isComplete ? this.symmetricState.split() : null;
  }

  private required<T>(what: string, value: T | null | undefined): T {
    if (value === null || value === undefined) throw new NoiseError('bad-key-length', `missing ${what}`);
    return value;
  }

  /**
   * An independent copy, so a forged message can be tried without spoiling
   * this state; `psk`, if given, replaces the pre-shared key for the psk
   * tokens still ahead (a responder that serves many peers learns which
   * peer, and so which key, only from the first message).
   */
  clone(psk?: Uint8Array): HandshakeState {
    if (psk !== undefined && psk.length !== PSKLEN) throw new NoiseError('bad-key-length', `psk must be ${PSKLEN} bytes, got ${psk.length}`);
    const copy = new HandshakeState(this.symmetricState.clone(), {
      pattern: this.pattern,
      initiator: this.initiator,
      s: this.s ? copyKeyPair(this.s) : null,
      e: this.e ? copyKeyPair(this.e) : null,
      rs: this.rs?.slice() ?? null,
      re: this.re?.slice() ?? null,
      psk: psk ? Uint8Array.from(psk) : (this.psk?.slice() ?? null),
      fixedEphemeral: this.fixedEphemeral ? copyKeyPair(this.fixedEphemeral) : null,
    });
    copy.messageIndex = this.messageIndex;
    return copy;
  }

  /** Wipes every secret this state holds: ck, k, h, private keys and psk. */
  destroy(): void {
    this.symmetricState.destroy();
    this.s?.privateKey.fill(0);
    this.e?.privateKey.fill(0);
    this.fixedEphemeral?.privateKey.fill(0);
    this.psk?.fill(0);
    this.s = null;
    this.e = null;
    this.rs = null;
    this.re = null;
    this.messageIndex = this.pattern.messages.length;
  }
}
