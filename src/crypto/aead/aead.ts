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
 * seal/open on native addresses (koffi 3 pointers are BigInt), for callers
 * that keep their buffers' addresses: koffi takes an address for ~23 ns less
 * than a typed array, 0.1–0.15 µs per AEAD call (bench/crypto.ts, the
 * "pointers" rows against "koffi mem"). No argument checks: the caller checked
 * lengths against its buffers, and an address must stay valid (its memory
 * alive and never moved) for as long as it is used.
 */
export interface AddressedAead {
  /** The address of buf[0]. Only for memory that never moves: native memory or an off-heap ArrayBuffer. */
  addressOf(buf: Uint8Array): bigint;
  /** Aead.seal: c ‖ tag (mlen + 16 bytes) from m; c == m allowed. */
  sealAt(c: bigint, m: bigint, mlen: number, ad: bigint, adlen: number, nonce: bigint, key: bigint): void;
  /** Aead.open: m (clen - 16 bytes) from c; false when the tag is wrong; m == c allowed. clen ≥ 16. */
  openAt(m: bigint, c: bigint, clen: number, ad: bigint, adlen: number, nonce: bigint, key: bigint): boolean;
}

/** Checks the caller's arguments (not the attacker's): these are bugs, not forgeries. */
export function checkAeadArguments(outLength: number, needed: number, nonce: Uint8Array, key: Uint8Array): void {
  if (key.length !== KEY_BYTES) throw new RangeError(`XChaCha20-Poly1305 key must be ${KEY_BYTES} bytes, got ${key.length}`);
  if (nonce.length !== XNONCE_BYTES) {
    throw new RangeError(`XChaCha20-Poly1305 nonce must be ${XNONCE_BYTES} bytes, got ${nonce.length}`);
  }
  if (outLength < needed) throw new RangeError(`output buffer holds ${outLength} bytes, needs ${needed}`);
}
