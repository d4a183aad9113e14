// The one interface the packet path uses for XChaCha20-Poly1305
// (draft-irtf-cfrg-xchacha-03 §2), whichever library implements it.
// select.ts chooses the implementation.

/** Poly1305 tag appended to every ciphertext. */
export const TAG_BYTES = 16;
/** XChaCha20 nonce: 16 bytes feed HChaCha20, the last 8 the ChaCha20 nonce (draft §2.3). */
export const XNONCE_BYTES = 24;
export const KEY_BYTES = 32;

export interface Aead {
  readonly name: 'system-libsodium' | 'sodium-native' | 'libsodium-wrappers';
  /**
   * Writes ciphertext‖tag (plaintext.length + 16 bytes) into `out`. `out` may be
   * the same memory as `plaintext` (same start: in place) or disjoint from it.
   * Throws RangeError only for programming errors (key/nonce size, `out` too short).
   */
  seal(out: Uint8Array, plaintext: Uint8Array, ad: Uint8Array, nonce: Uint8Array, key: Uint8Array): void;
  /**
   * Writes the plaintext (input.length - 16 bytes) into `out`; returns false if
   * authentication fails or input is shorter than the tag. Never throws on bad
   * input. May be in place (same start address). On failure `out` may have been
   * overwritten with unauthenticated bytes, so it must not be used.
   */
  open(out: Uint8Array, input: Uint8Array, ad: Uint8Array, nonce: Uint8Array, key: Uint8Array): boolean;
  /** Present when the backend can also be called with addresses (see AddressedAead). */
  readonly addressed?: AddressedAead;
}

/**
 * seal/open on native addresses, for callers that keep their buffers'
 * addresses. Addresses are plain numbers (x86-64 user space fits in 47 bits,
 * exact in a double): koffi converts a number for less than a BigInt, about
 * 0.2 µs less per AEAD call here (docs/performance.md, "Addresses as
 * numbers"). No argument checks: the caller checked lengths against its
 * buffers, and an address must stay valid (its memory alive and never moved)
 * for as long as it is used.
 *
 * The data path seals with `sealIetfAt`: an XChaCha20-Poly1305 nonce whose
 * first 16 bytes are zero (data-packet.ts) always gives the same HChaCha20
 * subkey, so XChaCha20-Poly1305(key, 0^16 ‖ c) is exactly
 * ChaCha20-Poly1305-IETF(HChaCha20(key, 0^16), 0^4 ‖ c) (draft-irtf-cfrg-
 * xchacha-03 §2.3). The subkey is derived once per key instead of per packet.
 */
export interface AddressedAead {
  /** The address of buf[0]. Only for memory that never moves: native memory or an off-heap ArrayBuffer. */
  addressOf(buf: Uint8Array): number;
  /** Aead.seal (XChaCha20-Poly1305): c ‖ tag (mlen + 16 bytes) from m; c == m allowed. */
  sealAt(c: number, m: number, mlen: number, ad: number, adlen: number, nonce: number, key: number): void;
  /** Aead.open (XChaCha20-Poly1305): m (clen - 16 bytes) from c; false when the tag is wrong; m == c allowed. clen ≥ 16. */
  openAt(m: number, c: number, clen: number, ad: number, adlen: number, nonce: number, key: number): boolean;
  /** HChaCha20(key, input): the 32-byte subkey XChaCha20 uses for nonces starting with `input` (16 bytes). */
  hchacha20(out: Uint8Array, input: Uint8Array, key: Uint8Array): void;
  /** ChaCha20-Poly1305-IETF seal with a 12-byte nonce: c ‖ tag from m; c == m allowed. */
  sealIetfAt(c: number, m: number, mlen: number, ad: number, adlen: number, nonce12: number, key: number): void;
  /** ChaCha20-Poly1305-IETF open with a 12-byte nonce; false when the tag is wrong; m == c allowed. clen ≥ 16. */
  openIetfAt(m: number, c: number, clen: number, ad: number, adlen: number, nonce12: number, key: number): boolean;
}

/** Checks the caller's arguments (not the attacker's): these are bugs, not forgeries. */
export function checkAeadArguments(outLength: number, needed: number, nonce: Uint8Array, key: Uint8Array): void {
  if (key.length !== KEY_BYTES) throw new RangeError(`XChaCha20-Poly1305 key must be ${KEY_BYTES} bytes, got ${key.length}`);
  if (nonce.length !== XNONCE_BYTES) {
    throw new RangeError(`XChaCha20-Poly1305 nonce must be ${XNONCE_BYTES} bytes, got ${nonce.length}`);
  }
  if (outLength < needed) throw new RangeError(`output buffer holds ${outLength} bytes, needs ${needed}`);
}
