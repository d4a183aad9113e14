// Aead over the system's libsodium (Debian/Ubuntu package libsodium23),
// called through koffi, which the data path already uses for its syscalls.
//
// Why not only sodium-native: each sodium-native call crosses N-API and
// takes its buffers as typed arrays; koffi hands the same buffers to the C
// function with less work, and addresses (plain numbers) with less still. Measured
// here (bench/crypto.ts; docs/performance.md, "The AEAD through koffi"): the
// cipher is equally fast in both libraries, the call costs ~0.1 µs less with
// the same typed arrays and 0.2–0.25 µs less with addresses, which is how
// DataSealer/DataOpener call it (AddressedAead). Loaded, if present, by
// select.ts; sodium-native and libsodium-wrappers remain the fallbacks.
import koffi, { type LibraryHandle } from 'koffi';
import { KEY_BYTES, TAG_BYTES, checkAeadArguments, type AddressedAead, type Aead } from './aead.js';

/**
 * Sonames tried in order: 1.0.19 and later (libsodium.so.26), Debian 10–13's
 * and Ubuntu's 1.0.18 (libsodium.so.23), then the unversioned development link.
 */
export const LIBSODIUM_SONAMES = ['libsodium.so.26', 'libsodium.so.23', 'libsodium.so'] as const;

/** Memory a `void *` parameter accepts: Node memory or a native pointer (koffi 3: BigInt). */
type Mem = Uint8Array | bigint;
/** An address as a `uintptr_t` parameter: a plain number, which koffi converts faster than a BigInt. */
type Addr = number;
/** The AEAD calls, on addresses (AddressedAead). */
type AeadAt = (out: Addr, outlenP: number, input: Addr, inlen: number, ad: Addr, adlen: number, nsec: number, npub: Addr, k: Addr) => number;
type OpenAt = (m: Addr, mlenP: number, nsec: number, c: Addr, clen: number, ad: Addr, adlen: number, npub: Addr, k: Addr) => number;

/** The libsodium calls used here, as koffi exposes them. */
export interface SystemLibsodiumBinding {
  readonly soname: string;
  readonly version: string;
  /** crypto_aead_xchacha20poly1305_ietf_encrypt: writes mlen + 16 bytes to c; c == m allowed; returns 0. */
  encrypt(c: Mem, clenP: null, m: Mem, mlen: number, ad: Mem, adlen: number, nsec: null, npub: Mem, k: Mem): number;
  /** crypto_aead_xchacha20poly1305_ietf_decrypt: 0, or -1 (and m zeroed) when the tag is wrong; m == c allowed. */
  decrypt(m: Mem, mlenP: null, nsec: null, c: Mem, clen: number, ad: Mem, adlen: number, npub: Mem, k: Mem): number;
  /** The same two calls and the IETF ones (12-byte nonce), declared with `uintptr_t` addresses. */
  readonly at: { encrypt: AeadAt; decrypt: OpenAt; encryptIetf: AeadAt; decryptIetf: OpenAt };
  /** crypto_core_hchacha20(out, in, k, c): c NULL for the standard constants. */
  hchacha20(out: Mem, input: Mem, k: Mem, c: null): number;
  /** crypto_generichash (keyed BLAKE2b, outlen 16–64, keylen 0–64): for the receive worker's mac1 check (keyed-hash.ts). */
  generichash(out: Mem, outlen: number, input: Mem, inlen: number, key: Mem, keylen: number): number;
}

function bind(lib: LibraryHandle, soname: string): SystemLibsodiumBinding {
  const init = lib.func('int sodium_init(void)') as () => number;
  // 0: initialised now; 1: already (another thread or library did it); -1: failed.
  if (init() < 0) throw new Error('sodium_init() failed');
  const version = (lib.func('const char *sodium_version_string(void)') as () => string)();
  return {
    soname,
    version,
    encrypt: lib.func(
      'int crypto_aead_xchacha20poly1305_ietf_encrypt(void *c, void *clen_p, const void *m, unsigned long long mlen, ' +
        'const void *ad, unsigned long long adlen, const void *nsec, const void *npub, const void *k)',
    ) as SystemLibsodiumBinding['encrypt'],
    decrypt: lib.func(
      'int crypto_aead_xchacha20poly1305_ietf_decrypt(void *m, void *mlen_p, void *nsec, const void *c, ' +
        'unsigned long long clen, const void *ad, unsigned long long adlen, const void *npub, const void *k)',
    ) as SystemLibsodiumBinding['decrypt'],
    at: {
      encrypt: lib.func(
        'int crypto_aead_xchacha20poly1305_ietf_encrypt(uintptr_t c, uintptr_t clen_p, uintptr_t m, unsigned long long mlen, ' +
          'uintptr_t ad, unsigned long long adlen, uintptr_t nsec, uintptr_t npub, uintptr_t k)',
      ) as AeadAt,
      decrypt: lib.func(
        'int crypto_aead_xchacha20poly1305_ietf_decrypt(uintptr_t m, uintptr_t mlen_p, uintptr_t nsec, uintptr_t c, ' +
          'unsigned long long clen, uintptr_t ad, unsigned long long adlen, uintptr_t npub, uintptr_t k)',
      ) as OpenAt,
      encryptIetf: lib.func(
        'int crypto_aead_chacha20poly1305_ietf_encrypt(uintptr_t c, uintptr_t clen_p, uintptr_t m, unsigned long long mlen, ' +
          'uintptr_t ad, unsigned long long adlen, uintptr_t nsec, uintptr_t npub, uintptr_t k)',
      ) as AeadAt,
      decryptIetf: lib.func(
        'int crypto_aead_chacha20poly1305_ietf_decrypt(uintptr_t m, uintptr_t mlen_p, uintptr_t nsec, uintptr_t c, ' +
          'unsigned long long clen, uintptr_t ad, unsigned long long adlen, uintptr_t npub, uintptr_t k)',
      ) as OpenAt,
    },
    hchacha20: lib.func('int crypto_core_hchacha20(void *out, const void *in, const void *k, const void *c)') as SystemLibsodiumBinding['hchacha20'],
    generichash: lib.func(
      'int crypto_generichash(void *out, size_t outlen, const void *in, unsigned long long inlen, const void *key, size_t keylen)',
    ) as SystemLibsodiumBinding['generichash'],
  };
}

/** The first soname that loads and has the calls, or why none did (one reason per soname). */
export function loadSystemLibsodium(): { binding: SystemLibsodiumBinding | null; why: string } {
  const reasons: string[] = [];
  for (const soname of LIBSODIUM_SONAMES) {
    try {
      return { binding: bind(koffi.load(soname), soname), why: '' };
    } catch (err) {
      reasons.push(`${soname}: ${(err as Error).message}`);
    }
  }
  return { binding: null, why: `system libsodium did not load (${reasons.join('; ')})` };
}

export class SystemLibsodiumAead implements Aead {
  readonly name = 'system-libsodium';
  readonly addressed: AddressedAead;

  /** `binding` is public for keyed-hash.ts, which takes its hash from the same library. */
  constructor(readonly binding: SystemLibsodiumBinding) {
    const { encrypt, decrypt, encryptIetf, decryptIetf } = binding.at;
    const hchacha20 = binding.hchacha20;
    this.addressed = {
      addressOf: (buf) => Number(koffi.address(buf)),
      sealAt: (c, m, mlen, ad, adlen, nonce, key) => {
        encrypt(c, 0, m, mlen, ad, adlen, 0, nonce, key);
      },
      openAt: (m, c, clen, ad, adlen, nonce, key) => decrypt(m, 0, 0, c, clen, ad, adlen, nonce, key) === 0,
      hchacha20: (out, input, key) => {
        if (out.length !== KEY_BYTES || input.length !== 16 || key.length !== KEY_BYTES) throw new RangeError('HChaCha20 takes a 32-byte key and 16 input bytes into 32');
        hchacha20(out, input, key, null);
      },
      sealIetfAt: (c, m, mlen, ad, adlen, nonce12, key) => {
        encryptIetf(c, 0, m, mlen, ad, adlen, 0, nonce12, key);
      },
      openIetfAt: (m, c, clen, ad, adlen, nonce12, key) => decryptIetf(m, 0, 0, c, clen, ad, adlen, nonce12, key) === 0,
    };
  }

  seal(out: Uint8Array, plaintext: Uint8Array, ad: Uint8Array, nonce: Uint8Array, key: Uint8Array): void {
    checkAeadArguments(out.length, plaintext.length + TAG_BYTES, nonce, key);
    // libsodium allows c == m (in place): it encrypts, then MACs the ciphertext.
    // It writes exactly plaintext.length + 16 bytes, so a longer `out` needs no view.
    this.binding.encrypt(out, null, plaintext, plaintext.length, ad, ad.length, null, nonce, key);
  }

  open(out: Uint8Array, input: Uint8Array, ad: Uint8Array, nonce: Uint8Array, key: Uint8Array): boolean {
    if (input.length < TAG_BYTES) return false;
    checkAeadArguments(out.length, input.length - TAG_BYTES, nonce, key);
    // libsodium verifies the tag before decrypting (so m == c is allowed) and
    // reports a forgery by returning -1: no exception to throw and catch.
    return this.binding.decrypt(out, null, null, input, input.length, ad, ad.length, nonce, key) === 0;
  }
}
