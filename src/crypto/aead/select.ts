// The one place that chooses the XChaCha20-Poly1305 implementation.
//
// Order: sodium-native (native libsodium, an optional dependency that may be
// missing or fail to load on this platform), else libsodium-wrappers (WASM,
// always installed).
//
// Environment variable SEALTUN_AEAD forces a choice when loadAead() is called
// with 'auto': `SEALTUN_AEAD=sodium-native` or `SEALTUN_AEAD=libsodium-wrappers`
// (`auto` or unset: the order above). Forcing a backend that cannot be loaded is
// an error, not a silent fallback. An explicit `prefer` argument (e.g. from the
// config or command line) wins over the variable.
import { createRequire } from 'node:module';
import { initSodium } from '../sodium.js';
import type { Aead } from './aead.js';
import { LibsodiumWrappersAead } from './libsodium-wrappers.js';
import { SodiumNativeAead, isSodiumNativeBinding } from './sodium-native.js';

export type AeadName = Aead['name'];
export type AeadPreference = 'auto' | AeadName;

export const AEAD_ENV_VAR = 'SEALTUN_AEAD';
const AEAD_NAMES: readonly AeadName[] = ['sodium-native', 'libsodium-wrappers'];

/** The requested backend cannot be used; the message says why. */
export class AeadSelectionError extends Error {
  override readonly name = 'AeadSelectionError';
}

let nativeAead: { aead: Aead | null; why: string } | null = null;
let wasmAead: Promise<Aead> | null = null;

function loadSodiumNative(): { aead: Aead | null; why: string } {
  if (nativeAead === null) {
    try {
      const binding: unknown = createRequire(import.meta.url)('sodium-native');
      nativeAead = isSodiumNativeBinding(binding)
        ? { aead: new SodiumNativeAead(binding), why: '' }
        : { aead: null, why: 'sodium-native lacks crypto_aead_xchacha20poly1305_ietf_*' };
    } catch (err) {
      nativeAead = { aead: null, why: `sodium-native did not load: ${(err as Error).message}` };
    }
  }
  return nativeAead;
}

function loadLibsodiumWrappers(): Promise<Aead> {
  wasmAead ??= initSodium().then((sodium) => new LibsodiumWrappersAead(sodium));
  return wasmAead;
}

function preferenceFromEnv(): AeadPreference {
  const value = process.env[AEAD_ENV_VAR]?.trim();
  if (value === undefined || value === '' || value === 'auto') return 'auto';
  if ((AEAD_NAMES as readonly string[]).includes(value)) return value as AeadName;
  throw new AeadSelectionError(`${AEAD_ENV_VAR}=${value}: expected auto, ${AEAD_NAMES.join(' or ')}`);
}

/** The XChaCha20-Poly1305 implementation to use; see the top of this file for the rules. */
export async function loadAead(prefer: AeadPreference = 'auto'): Promise<Aead> {
  const choice = prefer === 'auto' ? preferenceFromEnv() : prefer;
  if (choice === 'libsodium-wrappers') return loadLibsodiumWrappers();
  const native = loadSodiumNative();
  if (native.aead) return native.aead;
  if (choice === 'sodium-native') throw new AeadSelectionError(native.why);
  return loadLibsodiumWrappers();
}

/** Every implementation that loads here, fastest first (for tests and benchmarks). */
export async function availableAeads(): Promise<Aead[]> {
  const found: Aead[] = [];
  const native = loadSodiumNative().aead;
  if (native) found.push(native);
  found.push(await loadLibsodiumWrappers());
  return found;
}
