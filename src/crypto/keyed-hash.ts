// Keyed BLAKE2b (libsodium's crypto_generichash) for the data-path workers,
// from the same library as their AEAD (select.ts chose it): the system
// libsodium and sodium-native write into the caller's buffer, so a worker on
// them neither allocates per message nor loads libsodium-wrappers'
// WebAssembly heap (about 10 MB of RSS per thread, measured here) for a hash
// it runs only on handshake messages.
import { createRequire } from 'node:module';
import type { Aead } from './aead/aead.js';
import { SystemLibsodiumAead } from './aead/system-libsodium.js';
import { sodium } from './sodium.js';

/** BLAKE2b of `input` keyed with `key`, `out.length` bytes (16–64), written into `out`. */
export type KeyedHash = (out: Uint8Array, input: Uint8Array, key: Uint8Array) => void;

interface SodiumNativeGenericHash {
  /** `key` omitted: unkeyed. An empty key is refused (assertion), unlike libsodium's keylen 0. */
  crypto_generichash(out: Uint8Array, input: Uint8Array, key?: Uint8Array): void;
}

/** The keyed hash of the library behind `aead` (which is loaded, and for libsodium-wrappers initialised, already). */
export function keyedHashFor(aead: Aead): KeyedHash {
  if (aead instanceof SystemLibsodiumAead) {
    const { generichash } = aead.binding;
    return (out, input, key) => {
      // Only a bad length fails (out 16–64 bytes, key ≤ 64): a bug, like sodium-native's throw.
      if (generichash(out, out.length, input, input.length, key, key.length) !== 0) {
        throw new RangeError(`crypto_generichash refused out ${out.length} bytes, key ${key.length} bytes`);
      }
    };
  }
  if (aead.name === 'sodium-native') {
    const binding = createRequire(import.meta.url)('sodium-native') as SodiumNativeGenericHash;
    // keylen 0 means unkeyed in libsodium; sodium-native wants the key left out for that.
    return (out, input, key) => binding.crypto_generichash(out, input, key.length === 0 ? undefined : key);
  }
  const s = sodium();
  return (out, input, key) => out.set(s.crypto_generichash(out.length, input, key));
}
