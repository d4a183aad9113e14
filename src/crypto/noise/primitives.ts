// The crypto functions of Noise rev 34 §4 for the suite 25519_ChaChaPoly_BLAKE2b:
// DH (§4.1), CIPHER (§4.2), HASH (§4.3), plus HMAC-HASH and HKDF as §4.3 defines
// them. Everything else in src/crypto/noise/ is built only on what this file exports.
//
// Backed by libsodium-wrappers: the handshake runs a few times per peer every
// couple of minutes, so it does not need the native fast path that data packets use.
import { sodium } from '../sodium.js';

/** The names that go into the protocol name, `Noise_<pattern>_<DH>_<CIPHER>_<HASH>` (§8). */
export const DH_NAME = '25519';
export const CIPHER_NAME = 'ChaChaPoly';
export const HASH_NAME = 'BLAKE2b';

/** §4.1: DHLEN for Curve25519. */
export const DHLEN = 32;
/** §4.3: HASHLEN and BLOCKLEN for BLAKE2b. */
export const HASHLEN = 64;
export const BLOCKLEN = 128;
/** §4.2: cipher keys are 32 bytes; with HASHLEN 64, HKDF outputs are truncated to this (§5.2). */
export const KEYLEN = 32;
/** §4.2: ChaChaPoly appends a 16-byte Poly1305 tag. */
export const TAGLEN = 16;
/** Pre-shared keys are 32 bytes (§9.1). */
export const PSKLEN = 32;
/** §3: Noise messages are at most 65535 bytes. */
export const MAX_MESSAGE_LEN = 65535;

/** §4.2: the 12-byte ChaChaPoly nonce is 32 bits of zeros followed by the 64-bit little-endian n. */
const NONCE_BYTES = 12;
const NONCE_ZERO_PREFIX = 4;

/** Why a Noise operation failed; the handshake layer maps these to drop reasons. */
export type NoiseFailure =
  | 'decrypt-failed' // §5.1 DecryptWithAd: authentication failed
  | 'bad-dh' // §4.1: the peer's public key gave an all-zero shared secret (low-order point)
  | 'short-message' // §5.3 ReadMessage: fewer bytes than the tokens need
  | 'message-too-long' // §3: over 65535 bytes
  | 'nonce-exhausted' // §5.1: n reached its limit
  | 'bad-key-length' // a key, psk or public key of the wrong size
  | 'wrong-turn'; // §5.3: writing or reading out of turn, or after the handshake finished

/** A Noise operation failed; `reason` says which rule was broken. */
export class NoiseError extends Error {
  override readonly name = 'NoiseError';
  constructor(
    readonly reason: NoiseFailure,
    message: string,
  ) {
    super(message);
  }
}

export interface KeyPair {
  readonly publicKey: Uint8Array;
  readonly privateKey: Uint8Array;
}

function expectLength(what: string, bytes: Uint8Array, length: number): void {
  if (bytes.length !== length) {
    throw new NoiseError('bad-key-length', `${what} must be ${length} bytes, got ${bytes.length}`);
  }
}

/** §4.1 GENERATE_KEYPAIR(). */
export function generateKeypair(): KeyPair {
  const s = sodium();
  const privateKey = s.randombytes_buf(DHLEN);
  return { privateKey, publicKey: s.crypto_scalarmult_base(privateKey) };
}

/** The key pair for a given private key (for fixed keys, e.g. test vectors or configured statics). */
export function keypairFromPrivate(privateKey: Uint8Array): KeyPair {
  expectLength('private key', privateKey, DHLEN);
  return { privateKey: privateKey.slice(), publicKey: sodium().crypto_scalarmult_base(privateKey) };
}

/**
 * §4.1 DH(key_pair, public_key). libsodium refuses a result of all zeros (the
 * peer sent a low-order point); §4.1 allows rejecting such keys, and WireGuard does.
 */
export function dh(keyPair: KeyPair, publicKey: Uint8Array): Uint8Array {
  expectLength('public key', publicKey, DHLEN);
  try {
    return sodium().crypto_scalarmult(keyPair.privateKey, publicKey);
  } catch {
    throw new NoiseError('bad-dh', 'DH produced an all-zero shared secret');
  }
}

function nonceBytes(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new NoiseError('nonce-exhausted', `nonce ${n} is not usable`);
  const nonce = new Uint8Array(NONCE_BYTES);
  const view = new DataView(nonce.buffer);
  // A safe integer splits exactly into two 32-bit halves.
  view.setUint32(NONCE_ZERO_PREFIX, n % 2 ** 32, true);
  view.setUint32(NONCE_ZERO_PREFIX + 4, Math.floor(n / 2 ** 32), true);
  return nonce;
}

/** §4.2 REKEY uses n = 2^64 - 1, which a JS number cannot hold, so it is spelled out. */
const MAX_NONCE_BYTES = Uint8Array.of(0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);

/** §4.2 ENCRYPT(k, n, ad, plaintext): ciphertext ‖ 16-byte tag. */
export function encrypt(k: Uint8Array, n: number, ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
  return sealChaChaPoly(k, nonceBytes(n), ad, plaintext);
}

/** §4.2 DECRYPT(k, n, ad, ciphertext); throws NoiseError('decrypt-failed') if authentication fails. */
export function decrypt(k: Uint8Array, n: number, ad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  return openChaChaPoly(k, nonceBytes(n), ad, ciphertext);
}

/**
 * The AEAD under ENCRYPT (RFC 8439 §2.8, libsodium's "IETF" ChaCha20-Poly1305)
 * with the 12-byte nonce given whole: ciphertext ‖ 16-byte tag. Exported so the
 * Wycheproof vectors, whose nonces are not all of Noise's form, reach this code.
 */
export function sealChaChaPoly(k: Uint8Array, nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
  checkChaChaPolyArguments(k, nonce);
  return sodium().crypto_aead_chacha20poly1305_ietf_encrypt(plaintext, ad, null, nonce, k);
}

/** sealChaChaPoly's inverse; throws NoiseError('decrypt-failed') if authentication fails. */
export function openChaChaPoly(k: Uint8Array, nonce: Uint8Array, ad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  checkChaChaPolyArguments(k, nonce);
  if (ciphertext.length < TAGLEN) throw new NoiseError('decrypt-failed', 'ciphertext shorter than the tag');
  try {
    return sodium().crypto_aead_chacha20poly1305_ietf_decrypt(null, ciphertext, ad, nonce, k);
  } catch {
    throw new NoiseError('decrypt-failed', 'ciphertext failed authentication');
  }
}

/** The caller's arguments (not the peer's): a wrong size is a bug, so a RangeError like aead.ts's. */
function checkChaChaPolyArguments(k: Uint8Array, nonce: Uint8Array): void {
  expectLength('cipher key', k, KEYLEN);
  if (nonce.length !== NONCE_BYTES) {
    throw new RangeError(`ChaCha20-Poly1305 nonce must be ${NONCE_BYTES} bytes, got ${nonce.length}`);
  }
}

/** §4.2 REKEY(k): the first 32 bytes of ENCRYPT(k, maxnonce, zerolen, zeros). */
export function rekey(k: Uint8Array): Uint8Array {
  const zeros = new Uint8Array(KEYLEN);
  const sealed = sealChaChaPoly(k, MAX_NONCE_BYTES, new Uint8Array(0), zeros);
  const next = sealed.slice(0, KEYLEN);
  sealed.fill(0);
  return next;
}

/** §4.3 HASH(data): BLAKE2b with a 64-byte output. */
export function hash(...parts: Uint8Array[]): Uint8Array {
  const data = parts.length === 1 ? parts[0]! : concat(parts);
  const out = sodium().crypto_generichash(HASHLEN, data, null);
  // A concatenation made here may hold key material (HMAC pads, chaining keys): wipe it.
  if (data !== parts[0]) data.fill(0);
  return out;
}

/**
 * §4.3 HMAC-HASH(key, data), RFC 2104 over BLAKE2b with BLOCKLEN 128 (not
 * BLAKE2b's built-in keyed mode, which Noise does not use).
 */
export function hmacHash(key: Uint8Array, ...data: Uint8Array[]): Uint8Array {
  const block = new Uint8Array(BLOCKLEN);
  if (key.length > BLOCKLEN) {
    const digest = hash(key);
    block.set(digest);
    digest.fill(0);
  } else {
    block.set(key);
  }
  const IPAD = 0x36;
  const OPAD = 0x5c;
  const inner = new Uint8Array(BLOCKLEN);
  const outer = new Uint8Array(BLOCKLEN);
  for (let i = 0; i < BLOCKLEN; i++) {
    inner[i] = block[i]! ^ IPAD;
    outer[i] = block[i]! ^ OPAD;
  }
  const innerHash = hash(inner, ...data);
  const result = hash(outer, innerHash);
  for (const secret of [block, inner, outer, innerHash]) secret.fill(0);
  return result;
}

/**
 * §4.3 HKDF(chaining_key, input_key_material, num_outputs): HASHLEN-byte outputs.
 * Callers truncate cipher keys to 32 bytes themselves (§5.2).
 */
export function hkdf(chainingKey: Uint8Array, inputKeyMaterial: Uint8Array, numOutputs: 2): [Uint8Array, Uint8Array];
export function hkdf(
  chainingKey: Uint8Array,
  inputKeyMaterial: Uint8Array,
  numOutputs: 3,
): [Uint8Array, Uint8Array, Uint8Array];
export function hkdf(chainingKey: Uint8Array, inputKeyMaterial: Uint8Array, numOutputs: 2 | 3): Uint8Array[] {
  const tempKey = hmacHash(chainingKey, inputKeyMaterial);
  const output1 = hmacHash(tempKey, Uint8Array.of(0x01));
  const output2 = hmacHash(tempKey, output1, Uint8Array.of(0x02));
  const outputs = [output1, output2];
  if (numOutputs === 3) outputs.push(hmacHash(tempKey, output2, Uint8Array.of(0x03)));
  tempKey.fill(0);
  return outputs;
}

/** Constant-time equality for secrets and identities; false when lengths differ. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && sodium().memcmp(a, b);
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
