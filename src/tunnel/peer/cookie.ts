// Cookies: WireGuard's answer to a handshake flood (whitepaper §5.4.7).
//
// A responder under load does not spend a Diffie-Hellman on a handshake
// message unless its mac2 proves the sender can receive at its source
// address: mac2 is keyed with a cookie that only that address was sent.
//
//   responder (CookieChecker)                 initiator (CookieJar)
//   secret R, replaced every 2 minutes
//   cookie τ = MAC(R, source address ‖ port)
//   ── MESSAGE_COOKIE_REPLY: receiver index,  → τ = XAEAD-open(key, nonce,
//      nonce, XAEAD(key, nonce, τ, AD = mac1     encrypted_cookie, AD = the
//      of the message answered)                  mac1 we sent last)
//                                               next messages: mac2 = MAC(τ, msg)
//
// key = BLAKE2b-256("cookie--" ‖ responder's static public key): the peer
// knows it, an eavesdropper elsewhere on the path does not learn τ for an
// address it cannot receive at; AD = mac1 ties the reply to one message, so
// a forged reply cannot plant a cookie. MAC is keyed BLAKE2b-128 as for mac1.
import { randomBytes } from 'node:crypto';
import { sodium } from '../../crypto/sodium.js';
import { AF_INET, AF_INET6 } from '../../sys/libc.js';
import { isV4Mapped } from '../../transport/sockaddr.js';
import {
  COOKIE_REPLY,
  MAC_BYTES,
  MESSAGE_COOKIE_REPLY,
  MESSAGE_COOKIE_REPLY_BYTES,
  hasType,
  mac1Key,
  readU32,
  slice,
  verifyMac1,
  writeType,
  writeU32,
  type Field,
} from '../messages.js';
import { TIMERS } from '../timers.js';

const COOKIE_LABEL = new TextEncoder().encode('cookie--');
const KEY_BYTES = 32;
const SECRET_BYTES = 32;
const NONCE_BYTES = 24;
/** A cookie is a 16-byte MAC. */
export const COOKIE_BYTES = MAC_BYTES;

/** Where mac1 and mac2 sit in a handshake message (INITIATION.mac1 etc. from messages.ts). */
export interface MacFields {
  readonly mac1: Field;
  readonly mac2: Field;
}

/** Why a cookie reply was not taken. */
export type CookieRejectReason = 'bad-size' | 'bad-type' | 'unexpected-index' | 'decrypt-failed';

/** A typed error for cookie-reply parsing (never thrown across the network boundary, returned). */
export class CookieReplyError extends Error {
  override readonly name = 'CookieReplyError';
  constructor(readonly reason: CookieRejectReason) {
    super(`cookie reply rejected: ${reason}`);
  }
}

/** What the responder's check found, as WireGuard's cookie_validate_packet says it. */
export type MacState =
  | 'invalid-mac' // mac1 wrong: not for us, or corrupted; drop, no reply
  | 'valid-mac-no-cookie' // mac1 right, mac2 missing or wrong (or not checked)
  | 'valid-mac-with-cookie'; // both right: the source address is proven

/** The cookie-encryption key for messages to `publicKey`'s owner. */
export function cookieKey(publicKey: Uint8Array): Uint8Array {
  const input = new Uint8Array(COOKIE_LABEL.length + publicKey.length);
  input.set(COOKIE_LABEL);
  input.set(publicKey, COOKIE_LABEL.length);
  return sodium().crypto_generichash(KEY_BYTES, input, null);
}

/**
 * The bytes a cookie is bound to: the source's IP address and port, from a
 * raw sockaddr (sockaddr_in or sockaddr_in6; an IPv4-mapped IPv6 address
 * counts as the IPv4 address, so a dual-stack socket and an IPv4 one agree).
 * Null for any other family.
 */
export function sourceBytes(sockaddr: Uint8Array): Uint8Array | null {
  if (sockaddr.length < 16) return null;
  const family = sockaddr[0]! | (sockaddr[1]! << 8);
  const port = sockaddr.subarray(2, 4);
  let addr: Uint8Array;
  if (family === AF_INET) addr = sockaddr.subarray(4, 8);
  else if (family === AF_INET6 && sockaddr.length >= 24) {
    addr = sockaddr.subarray(8, 24);
    if (isV4Mapped(addr)) addr = addr.subarray(12);
  } else return null;
  const out = new Uint8Array(addr.length + 2);
  out.set(addr);
  out.set(port, addr.length);
  return out;
}

/** The address part of sourceBytes() (no port): what the rate limiter keys on. */
export function addressOf(source: Uint8Array): Uint8Array {
  return source.subarray(0, source.length - 2);
}

function mac(key: Uint8Array, data: Uint8Array): Uint8Array {
  return sodium().crypto_generichash(MAC_BYTES, data, key);
}

/** The responder's half: checks mac1/mac2 on incoming handshakes and makes cookie replies. */
export class CookieChecker {
  private readonly mac1Key: Uint8Array;
  private readonly encryptionKey: Uint8Array;
  private secret = new Uint8Array(SECRET_BYTES);
  private secretBirth = -Infinity;

  /** `localPublic`: our static public key (mac1 and the cookie key are derived from it). */
  constructor(
    localPublic: Uint8Array,
    private readonly now: () => number = Date.now,
  ) {
    this.mac1Key = mac1Key(localPublic);
    this.encryptionKey = cookieKey(localPublic);
  }

  /** τ for a source: MAC(secret, address ‖ port), the secret replaced when older than 2 minutes. */
  private cookieFor(source: Uint8Array): Uint8Array {
    const t = this.now();
    if (t - this.secretBirth >= TIMERS.cookieSecretMaxAgeMs) {
      this.secret.fill(0);
      this.secret = new Uint8Array(randomBytes(SECRET_BYTES));
      this.secretBirth = t;
    }
    return mac(this.secret, source);
  }

  /**
   * Checks mac1 always and, when `checkCookie` (we are under load) and the
   * source is known, mac2 against the cookie for `source`. One or two hashes;
   * no state changes except the secret's scheduled rotation.
   */
  validate(msg: Uint8Array, fields: MacFields, source: Uint8Array | null, checkCookie: boolean): MacState {
    if (msg.length < fields.mac2.offset + fields.mac2.length) return 'invalid-mac';
    if (!verifyMac1(msg, fields.mac1, this.mac1Key)) return 'invalid-mac';
    if (!checkCookie || source === null) return 'valid-mac-no-cookie';
    const cookie = this.cookieFor(source);
    const expected = mac(cookie, msg.subarray(0, fields.mac2.offset));
    cookie.fill(0);
    return sodium().memcmp(expected, slice(msg, fields.mac2)) ? 'valid-mac-with-cookie' : 'valid-mac-no-cookie';
  }

  /**
   * A MESSAGE_COOKIE_REPLY answering `msg` (whose mac1 was valid) from
   * `source`; `senderIndex` is the index `msg` carries (the reply's receiver).
   */
  createReply(msg: Uint8Array, fields: MacFields, senderIndex: number, source: Uint8Array): Uint8Array {
    const reply = new Uint8Array(MESSAGE_COOKIE_REPLY_BYTES);
    writeType(reply, MESSAGE_COOKIE_REPLY);
    writeU32(reply, COOKIE_REPLY.receiverIndex, senderIndex);
    const nonce = randomBytes(NONCE_BYTES);
    reply.set(nonce, COOKIE_REPLY.nonce.offset);
    const cookie = this.cookieFor(source);
    const sealed = sodium().crypto_aead_xchacha20poly1305_ietf_encrypt(cookie, slice(msg, fields.mac1), null, nonce, this.encryptionKey);
    cookie.fill(0);
    reply.set(sealed, COOKIE_REPLY.encryptedCookie.offset);
    return reply;
  }

  /** Wipes the secret and keys. */
  destroy(): void {
    this.secret.fill(0);
    this.encryptionKey.fill(0);
    this.mac1Key.fill(0);
  }
}

/**
 * The initiator's half (and the responder's, for its responses): remembers
 * the mac1 of the last message sent, takes a cookie reply to it, and stamps
 * mac2 on messages sent while the cookie is fresh.
 */
export class CookieJar {
  /** Derived when a cookie reply first comes (most peers never send one): memory per idle peer. */
  private decryptionKeyOf: Uint8Array | null = null;
  private lastMac1: Uint8Array | null = null;
  private lastSenderIndex = -1;
  private cookie: Uint8Array | null = null;
  private cookieBirth = 0;

  private readonly peerPublic: Uint8Array;

  /** `peerPublic`: the peer's static public key, which keys the cookie encryption (held, not copied). */
  constructor(
    peerPublic: Uint8Array,
    private readonly now: () => number = Date.now,
  ) {
    this.peerPublic = peerPublic;
  }

  /**
   * Writes mac2 into an outgoing handshake message (whose mac1 is already
   * written): keyed with the cookie if one arrived within cookieValidMs,
   * zeros otherwise. Remembers mac1 and the sender index, which a cookie reply
   * to this message must match.
   */
  stamp(msg: Uint8Array, fields: MacFields, senderIndex: number): void {
    const m2 = slice(msg, fields.mac2);
    if (this.cookie && this.now() - this.cookieBirth < TIMERS.cookieValidMs) {
      m2.set(mac(this.cookie, msg.subarray(0, fields.mac2.offset)));
    } else {
      this.forgetCookie();
      m2.fill(0);
    }
    this.lastMac1 = slice(msg, fields.mac1).slice();
    this.lastSenderIndex = senderIndex;
  }

  /**
   * Takes a cookie reply; returns null when accepted, else why not (never
   * throws on input). Only a reply to the last message we sent can decrypt.
   */
  consumeReply(msg: Uint8Array): CookieReplyError | null {
    if (msg.length !== MESSAGE_COOKIE_REPLY_BYTES) return new CookieReplyError('bad-size');
    if (!hasType(msg, MESSAGE_COOKIE_REPLY)) return new CookieReplyError('bad-type');
    if (this.lastMac1 === null || readU32(msg, COOKIE_REPLY.receiverIndex) !== this.lastSenderIndex) {
      return new CookieReplyError('unexpected-index');
    }
    let cookie: Uint8Array;
    try {
      cookie = sodium().crypto_aead_xchacha20poly1305_ietf_decrypt(
        null,
        slice(msg, COOKIE_REPLY.encryptedCookie),
        this.lastMac1,
        slice(msg, COOKIE_REPLY.nonce),
        (this.decryptionKeyOf ??= cookieKey(this.peerPublic)),
      );
    } catch {
      return new CookieReplyError('decrypt-failed');
    }
    if (cookie.length !== COOKIE_BYTES) return new CookieReplyError('decrypt-failed');
    this.forgetCookie();
    this.cookie = cookie;
    this.cookieBirth = this.now();
    // One reply per message: a replayed reply finds no mac1 to match.
    this.lastMac1 = null;
    return null;
  }

  /** Whether a fresh cookie is held (for tests and status). */
  get hasCookie(): boolean {
    return this.cookie !== null && this.now() - this.cookieBirth < TIMERS.cookieValidMs;
  }

  private forgetCookie(): void {
    this.cookie?.fill(0);
    this.cookie = null;
  }

  destroy(): void {
    this.forgetCookie();
    this.decryptionKeyOf?.fill(0);
  }
}
