// Aead over libsodium-wrappers (libsodium compiled to WebAssembly): always
// available, slower; it returns fresh arrays, which are copied into `out`.
import type { Sodium } from '../sodium.js';
import { TAG_BYTES, checkAeadArguments, type Aead } from './aead.js';

export class LibsodiumWrappersAead implements Aead {
  readonly name = 'libsodium-wrappers';

  /** `sodium` must be initialised (await initSodium()). */
  constructor(private readonly sodium: Sodium) {}

  seal(out: Uint8Array, plaintext: Uint8Array, ad: Uint8Array, nonce: Uint8Array, key: Uint8Array): void {
    checkAeadArguments(out.length, plaintext.length + TAG_BYTES, nonce, key);
    // The library copies `plaintext` into WASM memory before writing anything, so in place is safe.
    const sealed = this.sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, ad, null, nonce, key);
    out.set(sealed);
  }

  open(out: Uint8Array, input: Uint8Array, ad: Uint8Array, nonce: Uint8Array, key: Uint8Array): boolean {
    if (input.length < TAG_BYTES) return false;
    checkAeadArguments(out.length, input.length - TAG_BYTES, nonce, key);
    let plaintext: Uint8Array;
    try {
      plaintext = this.sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, input, ad, nonce, key);
    } catch {
      // libsodium-wrappers reports a forged message by throwing.
      return false;
    }
    out.set(plaintext);
    return true;
  }
}
