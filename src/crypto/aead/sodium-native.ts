// Aead over sodium-native: libsodium compiled natively, writing straight into
// the caller's buffers (no copies). Loaded, if installed, by select.ts.
import { TAG_BYTES, checkAeadArguments, type Aead } from './aead.js';

/** The part of sodium-native's API used here (it ships no TypeScript types). */
export interface SodiumNativeBinding {
  /** Returns the ciphertext length; `c` must be exactly m.length + 16 bytes. */
  crypto_aead_xchacha20poly1305_ietf_encrypt(
    c: Uint8Array,
    m: Uint8Array,
    ad: Uint8Array | null,
    nsec: null,
    npub: Uint8Array,
    k: Uint8Array,
  ): number;
  /** Returns the plaintext length; throws if authentication fails. `m` must be exactly c.length - 16 bytes. */
  crypto_aead_xchacha20poly1305_ietf_decrypt(
    m: Uint8Array,
    nsec: null,
    c: Uint8Array,
    ad: Uint8Array | null,
    npub: Uint8Array,
    k: Uint8Array,
  ): number;
}

export function isSodiumNativeBinding(value: unknown): value is SodiumNativeBinding {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v['crypto_aead_xchacha20poly1305_ietf_encrypt'] === 'function' &&
    typeof v['crypto_aead_xchacha20poly1305_ietf_decrypt'] === 'function'
  );
}

export class SodiumNativeAead implements Aead {
  readonly name = 'sodium-native';

  constructor(private readonly binding: SodiumNativeBinding) {}

  seal(out: Uint8Array, plaintext: Uint8Array, ad: Uint8Array, nonce: Uint8Array, key: Uint8Array): void {
    const sealedLength = plaintext.length + TAG_BYTES;
    checkAeadArguments(out.length, sealedLength, nonce, key);
    // sodium-native wants the output exactly sized; a view is made only when it is not.
    const target = out.length === sealedLength ? out : out.subarray(0, sealedLength);
    // libsodium allows c == m (in place): it encrypts then MACs the ciphertext.
    this.binding.crypto_aead_xchacha20poly1305_ietf_encrypt(target, plaintext, ad, null, nonce, key);
  }

  open(out: Uint8Array, input: Uint8Array, ad: Uint8Array, nonce: Uint8Array, key: Uint8Array): boolean {
    if (input.length < TAG_BYTES) return false;
    const plainLength = input.length - TAG_BYTES;
    checkAeadArguments(out.length, plainLength, nonce, key);
    const target = out.length === plainLength ? out : out.subarray(0, plainLength);
    try {
      // libsodium verifies the tag before decrypting, so m == c (in place) is allowed.
      this.binding.crypto_aead_xchacha20poly1305_ietf_decrypt(target, null, input, ad, nonce, key);
      return true;
    } catch {
      // sodium-native reports a forged message by throwing; that is not exceptional here.
      return false;
    }
  }
}
