// The sealtun handshake with one configured peer: WireGuard's two messages
// (initiation, response) carrying Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b.
//
//   initiator                                  responder
//   createInitiation(i) ── MESSAGE_INITIATION ─→ consumeInitiation()
//                                                createResponse(r) → result
//   consumeResponse() → result ←─ MESSAGE_RESPONSE ──
//
// Everything that reads a message from the network returns a typed rejection
// instead of throwing, so the daemon can count drops per reason. Checks run
// cheapest first: size and type, then mac1 (no DH for scanners that do not
// know our public key), then Noise.
import type { CipherState } from '../../crypto/noise/cipher-state.js';
import { HandshakeState, protocolName } from '../../crypto/noise/handshake-state.js';
import { IKpsk2 } from '../../crypto/noise/patterns.js';
import { HASHLEN, KEYLEN, NoiseError, PSKLEN, constantTimeEqual, keypairFromPrivate, type KeyPair } from '../../crypto/noise/primitives.js';
import {
  INITIATION,
  INITIATION_NOISE,
  MESSAGE_INITIATION,
  MESSAGE_INITIATION_BYTES,
  MESSAGE_RESPONSE,
  MESSAGE_RESPONSE_BYTES,
  RESPONSE,
  RESPONSE_NOISE,
  FEATURES_BYTES,
  INITIATION_PAYLOAD_BYTES,
  TAI64N_BYTES,
  compareTai64n,
  decodeFeatures,
  encodeFeatures,
  hasType,
  mac1Key,
  readU32,
  slice,
  tai64n,
  verifyMac1,
  writeMac1,
  writeMac2,
  writeType,
  writeU32,
} from '../messages.js';

/** The Noise protocol, and the prologue both sides mix in first (it must match, §6). */
export const HANDSHAKE_PATTERN = IKpsk2;
export const PROTOCOL_NAME = protocolName(HANDSHAKE_PATTERN); // Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b
export const PROLOGUE: Uint8Array = new TextEncoder().encode('sealtun v1');
/** Length of HandshakeResult.handshakeHash (BLAKE2b-512). */
export const HANDSHAKE_HASH_BYTES = HASHLEN;

/** Why a handshake message was dropped. */
export type RejectReason =
  | 'bad-size' // not the fixed size of its type
  | 'bad-type' // type byte or reserved bytes wrong
  | 'bad-mac1' // not addressed to our public key (or corrupted)
  | 'unexpected-index' // a response to no initiation we have pending
  | 'bad-dh' // the peer's ephemeral is a low-order point
  | 'decrypt-failed' // Noise authentication failed (wrong keys, wrong PSK, tampering)
  | 'bad-static' // initiator authenticated, but is not the configured peer
  | 'replayed-timestamp'; // initiation not newer than the newest accepted: a replay

export interface Rejection {
  readonly ok: false;
  readonly reason: RejectReason;
}

/** Session keys from Noise Split(): the initiator sends with k1, the responder with k2. */
export interface HandshakeResult {
  /** Our index for this session: the peer puts it in messages to us. */
  readonly localIndex: number;
  /** The peer's index for this session: we put it in messages to the peer. */
  readonly remoteIndex: number;
  readonly sendKey: Uint8Array;
  readonly recvKey: Uint8Array;
  readonly isInitiator: boolean;
  /** Noise h after the last message (64 bytes), for channel binding. */
  readonly handshakeHash: Uint8Array;
  /** What the peer's data path can receive (FEATURE_* bits from messages.ts). */
  readonly peerFeatures: number;
}

export interface InitiationAccepted {
  readonly ok: true;
  /** The initiator's sender index, which our response will carry as receiver index. */
  readonly senderIndex: number;
  /** The features the initiator announced. */
  readonly peerFeatures: number;
}

export interface ResponseAccepted {
  readonly ok: true;
  readonly result: HandshakeResult;
}

/** Our side of every handshake, the same for all peers: the static key pair and the mac1 key of messages to us. */
export interface LocalIdentity {
  readonly keyPair: KeyPair;
  readonly mac1KeyToUs: Uint8Array;
}

export function localIdentity(staticPrivate: Uint8Array): LocalIdentity {
  const keyPair = keypairFromPrivate(staticPrivate);
  return { keyPair, mac1KeyToUs: mac1Key(keyPair.publicKey) };
}

/**
 * An initiation that passed mac1 and Noise under our static key: it names
 * its sender (the initiator's static key), which picks the peer, whose own
 * Handshake then checks it further (acceptInitiation). IKpsk2 mixes the
 * pre-shared key in only at the response, so the peer's key is not needed yet.
 */
export interface OpenedInitiation {
  readonly ok: true;
  readonly state: HandshakeState;
  readonly initiatorStatic: Uint8Array;
  readonly payload: Uint8Array;
  readonly senderIndex: number;
}

const ZERO_PSK = new Uint8Array(PSKLEN);

/** Checks an initiation's size, type, mac1 and Noise; the caller destroys `state` unless a peer accepts it. */
export function openInitiation(local: LocalIdentity, msg: Uint8Array): OpenedInitiation | Rejection {
  if (msg.length !== MESSAGE_INITIATION_BYTES) return reject('bad-size');
  if (!hasType(msg, MESSAGE_INITIATION)) return reject('bad-type');
  if (!verifyMac1(msg, INITIATION.mac1, local.mac1KeyToUs)) return reject('bad-mac1');
  const state = HandshakeState.initialize({ pattern: HANDSHAKE_PATTERN, initiator: false, prologue: PROLOGUE, s: local.keyPair, psk: ZERO_PSK });
  let payload: Uint8Array;
  try {
    payload = state.readMessage(slice(msg, INITIATION_NOISE)).value;
  } catch (err) {
    state.destroy();
    return noiseRejection(err);
  }
  const initiatorStatic = state.remoteStaticKey;
  if (initiatorStatic === null) {
    state.destroy();
    return reject('bad-static');
  }
  return { ok: true, state, initiatorStatic, payload, senderIndex: readU32(msg, INITIATION.senderIndex) };
}

export interface HandshakeConfig {
  /** Our static X25519 private key (copied). */
  readonly staticPrivate: Uint8Array;
  /** The same, already derived (many peers share one): spares a scalar multiplication per peer. */
  readonly local?: LocalIdentity;
  /** The one peer's static public key. */
  readonly peerPublic: Uint8Array;
  /** Pre-shared key; absent means 32 zero bytes, as in WireGuard, so there is one code path. */
  readonly psk?: Uint8Array | null;
  /** Features we announce (FEATURE_* bits); default none. */
  readonly features?: number;
  /**
   * The newest initiation timestamp this peer's earlier Handshake accepted
   * (the same peer removed and added again, as a reload does when its
   * PresharedKey changes): an initiation recorded before is not new again.
   */
  readonly greatestTimestamp?: Uint8Array;
}

/** A call the code should not have made (not something a peer can cause). */
export class HandshakeUsageError extends Error {
  override readonly name = 'HandshakeUsageError';
}

const reject = (reason: RejectReason): Rejection => ({ ok: false, reason });

function checkIndex(index: number): void {
  if (!Number.isInteger(index) || index < 0 || index > 0xffffffff) {
    throw new HandshakeUsageError(`index ${index} is not a u32`);
  }
}

/** Maps a Noise failure on a peer's message to a drop reason; anything else is a bug and rethrown. */
function noiseRejection(err: unknown): Rejection {
  if (!(err instanceof NoiseError)) throw err;
  return reject(err.reason === 'bad-dh' ? 'bad-dh' : 'decrypt-failed');
}

/** Split() keys as a HandshakeResult; wipes the CipherStates. */
function resultFrom(
  split: [CipherState, CipherState],
  state: HandshakeState,
  isInitiator: boolean,
  localIndex: number,
  remoteIndex: number,
  peerFeatures: number,
): HandshakeResult {
  const [c1, c2] = split;
  const k1 = c1.exportKey();
  const k2 = c2.exportKey();
  c1.destroy();
  c2.destroy();
  return {
    localIndex,
    remoteIndex,
    sendKey: isInitiator ? k1 : k2,
    recvKey: isInitiator ? k2 : k1,
    isInitiator,
    handshakeHash: state.getHandshakeHash(),
    peerFeatures,
  };
}

/** Before any initiation from the peer: every timestamp is newer (never written: replaced whole). */
const NO_TIMESTAMP = new Uint8Array(TAI64N_BYTES);

export class Handshake {
  /**
   * Ours: shared by every peer of an interface when given (config.local, then
   * the interface wipes it), else derived here and wiped by destroy().
   */
  private readonly local: LocalIdentity;
  private readonly ownsLocal: boolean;
  private readonly peerPublic: Uint8Array;
  /** null: none configured (32 zero bytes, as WireGuard), which costs no buffer per peer. */
  private readonly psk: Uint8Array | null;
  private readonly features: number;
  /** mac1 key for messages we send (keyed to the peer's public key), derived when first sending. */
  private mac1KeyToPeerOf: Uint8Array | null = null;
  /** mac1 key for messages we receive (keyed to our public key). */
  private readonly mac1KeyToUs: Uint8Array;

  /** Newest TAI64N accepted from the peer; an initiation must be strictly newer. */
  private greatestTimestamp: Uint8Array = NO_TIMESTAMP;
  /** Newest timestamp we sent, so ours increase even within one clock tick. */
  private lastSentNanoseconds = -1n;

  /** Our initiation awaiting a response. */
  private initiation: { state: HandshakeState; localIndex: number } | null = null;
  /** A consumed initiation awaiting createResponse(). */
  private response: { state: HandshakeState; remoteIndex: number; peerFeatures: number } | null = null;

  /** Needs initSodium() to have resolved. */
  constructor(config: HandshakeConfig) {
    if (config.peerPublic.length !== KEYLEN) throw new HandshakeUsageError(`peer public key must be ${KEYLEN} bytes`);
    if (config.psk && config.psk.length !== PSKLEN) throw new HandshakeUsageError(`pre-shared key must be ${PSKLEN} bytes`);
    this.ownsLocal = config.local === undefined;
    const local = config.local ?? localIdentity(config.staticPrivate);
    this.local = local;
    // Held, not copied: a public key, never written (one copy fewer per peer).
    this.peerPublic = config.peerPublic;
    this.psk = config.psk ? config.psk.slice() : null;
    this.features = (config.features ?? 0) >>> 0;
    this.mac1KeyToUs = local.mac1KeyToUs;
    if (config.greatestTimestamp) this.greatestTimestamp = config.greatestTimestamp.slice();
  }

  /** The newest initiation timestamp accepted from the peer (see HandshakeConfig.greatestTimestamp). */
  get newestTimestamp(): Uint8Array {
    return this.greatestTimestamp;
  }

  private get staticKey(): KeyPair {
    return this.local.keyPair;
  }

  private get mac1KeyToPeer(): Uint8Array {
    this.mac1KeyToPeerOf ??= mac1Key(this.peerPublic);
    return this.mac1KeyToPeerOf;
  }

  /** Our static public key. */
  get localPublic(): Uint8Array {
    return this.staticKey.publicKey.slice();
  }

  private newState(initiator: boolean): HandshakeState {
    return HandshakeState.initialize({
      pattern: HANDSHAKE_PATTERN,
      initiator,
      prologue: PROLOGUE,
      s: this.staticKey,
      psk: this.psk ?? ZERO_PSK,
      ...(initiator ? { rs: this.peerPublic } : {}),
    });
  }

  /** TAI64N for `nowMs`, bumped past the last one we sent if the clock has not moved on. */
  private nextTimestamp(nowMs: number): Uint8Array {
    if (!Number.isFinite(nowMs) || nowMs < 0) throw new HandshakeUsageError(`bad time ${nowMs}`);
    const whole = Math.floor(nowMs);
    let ns = BigInt(whole) * 1_000_000n + BigInt(Math.floor((nowMs - whole) * 1e6));
    if (ns <= this.lastSentNanoseconds) ns = this.lastSentNanoseconds + 1n;
    this.lastSentNanoseconds = ns;
    return tai64n(ns);
  }

  /**
   * A 152-byte initiation with mac1 (mac2 zero). `senderIndex` is our index for
   * the new session; `nowMs` (ms since the Unix epoch) is for tests. Replaces
   * any initiation still pending.
   */
  createInitiation(senderIndex: number, nowMs: number = Date.now()): Uint8Array {
    checkIndex(senderIndex);
    this.initiation?.state.destroy();
    this.initiation = null;
    const state = this.newState(true);
    const payload = new Uint8Array(INITIATION_PAYLOAD_BYTES);
    payload.set(this.nextTimestamp(nowMs));
    payload.set(encodeFeatures(this.features), TAI64N_BYTES);
    const { value: noise } = state.writeMessage(payload); // -> e, es, s, ss; payload
    if (noise.length !== INITIATION_NOISE.length) throw new Error(`Noise message 1 is ${noise.length} bytes`);
    const msg = new Uint8Array(MESSAGE_INITIATION_BYTES);
    writeType(msg, MESSAGE_INITIATION);
    writeU32(msg, INITIATION.senderIndex, senderIndex);
    msg.set(noise, INITIATION_NOISE.offset);
    writeMac1(msg, INITIATION.mac1, this.mac1KeyToPeer);
    writeMac2(msg, INITIATION.mac2, null);
    this.initiation = { state, localIndex: senderIndex };
    return msg;
  }

  /**
   * Checks an initiation: size, type, mac1, Noise, that the initiator is the
   * configured peer, and that its timestamp is newer than any accepted before.
   * Only if all pass does anything change: the timestamp is recorded and
   * createResponse() may follow.
   */
  consumeInitiation(msg: Uint8Array): InitiationAccepted | Rejection {
    const opened = openInitiation(this.local, msg);
    return opened.ok ? this.acceptInitiation(opened) : opened;
  }

  /**
   * The rest of consumeInitiation for an initiation already opened under our
   * static key: that it comes from this peer, and is newer than any accepted
   * before. Takes `opened.state` over (destroyed if refused).
   */
  acceptInitiation(opened: OpenedInitiation): InitiationAccepted | Rejection {
    const { state, payload } = opened;
    if (!constantTimeEqual(opened.initiatorStatic, this.peerPublic)) {
      state.destroy();
      return reject('bad-static');
    }
    // Fixed message size means a fixed payload size; checked anyway, it is cheap.
    const timestamp = payload.subarray(0, TAI64N_BYTES);
    if (payload.length !== INITIATION_PAYLOAD_BYTES || compareTai64n(timestamp, this.greatestTimestamp) <= 0) {
      state.destroy();
      return reject('replayed-timestamp');
    }
    this.greatestTimestamp = timestamp.slice();
    this.response?.state.destroy();
    const senderIndex = opened.senderIndex;
    const peerFeatures = decodeFeatures(payload, TAI64N_BYTES);
    // This peer's pre-shared key for the response's psk token.
    const withPsk = state.clone(this.psk ?? ZERO_PSK);
    state.destroy();
    this.response = { state: withPsk, remoteIndex: senderIndex, peerFeatures };
    return { ok: true, senderIndex, peerFeatures };
  }

  /**
   * The 96-byte response to the initiation just consumed, and the session.
   * `senderIndex` is our index for the session. Throws HandshakeUsageError if
   * no initiation is waiting (a bug in the caller, not the peer).
   */
  createResponse(senderIndex: number): { message: Uint8Array; result: HandshakeResult } {
    checkIndex(senderIndex);
    const pending = this.response;
    if (pending === null) throw new HandshakeUsageError('createResponse() without a consumed initiation');
    this.response = null;
    try {
      const { value: noise, split } = pending.state.writeMessage(encodeFeatures(this.features)); // <- e, ee, se, psk; payload
      if (split === null || noise.length !== RESPONSE_NOISE.length) throw new Error('Noise message 2 is malformed');
      const msg = new Uint8Array(MESSAGE_RESPONSE_BYTES);
      writeType(msg, MESSAGE_RESPONSE);
      writeU32(msg, RESPONSE.senderIndex, senderIndex);
      writeU32(msg, RESPONSE.receiverIndex, pending.remoteIndex);
      msg.set(noise, RESPONSE_NOISE.offset);
      writeMac1(msg, RESPONSE.mac1, this.mac1KeyToPeer);
      writeMac2(msg, RESPONSE.mac2, null);
      return { message: msg, result: resultFrom(split, pending.state, false, senderIndex, pending.remoteIndex, pending.peerFeatures) };
    } finally {
      pending.state.destroy(); // ephemeral, ck and k wiped once Split() has run
    }
  }

  /**
   * Checks a response: size, type, mac1, that it answers our pending
   * initiation, then Noise. A forged response leaves the pending initiation
   * intact (Noise runs on a copy), so an attacker cannot cancel our handshake.
   */
  consumeResponse(msg: Uint8Array): ResponseAccepted | Rejection {
    if (msg.length !== MESSAGE_RESPONSE_BYTES) return reject('bad-size');
    if (!hasType(msg, MESSAGE_RESPONSE)) return reject('bad-type');
    if (!verifyMac1(msg, RESPONSE.mac1, this.mac1KeyToUs)) return reject('bad-mac1');
    const pending = this.initiation;
    if (pending === null || readU32(msg, RESPONSE.receiverIndex) !== pending.localIndex) return reject('unexpected-index');

    const trial = pending.state.clone();
    try {
      const { value: payload, split } = trial.readMessage(slice(msg, RESPONSE_NOISE));
      if (split === null) throw new NoiseError('wrong-turn', 'handshake not complete after message 2');
      if (payload.length !== FEATURES_BYTES) throw new NoiseError('decrypt-failed', 'response payload has the wrong size');
      const result = resultFrom(split, trial, true, pending.localIndex, readU32(msg, RESPONSE.senderIndex), decodeFeatures(payload));
      pending.state.destroy();
      this.initiation = null;
      return { ok: true, result };
    } catch (err) {
      return noiseRejection(err);
    } finally {
      trial.destroy();
    }
  }

  /** Forgets any pending handshake (e.g. when giving up on one). */
  abandon(): void {
    this.initiation?.state.destroy();
    this.response?.state.destroy();
    this.initiation = null;
    this.response = null;
  }

  /** Wipes every secret: pending states, the PSK, and our static private key if it is this handshake's own. */
  destroy(): void {
    this.abandon();
    if (this.ownsLocal) this.local.keyPair.privateKey.fill(0);
    this.psk?.fill(0);
  }
}
