// The one place that chooses the XChaCha20-Poly1305 implementation.
//
// Order: system-libsodium (the system's libsodium.so through koffi; Debian
// package libsodium23), else sodium-native (native libsodium, an optional
// dependency that may be missing or fail to load on this platform), else
// libsodium-wrappers (WASM, always installed). The first two are native code
// of about the same speed; the system library is called with less overhead
// per packet (docs/performance.md, "The AEAD through koffi").
//
// Environment variable SEALTUN_AEAD forces a choice when loadAead() is called
// with 'auto': `SEALTUN_AEAD=system-libsodium`, `sodium-native` or
// `libsodium-wrappers` (`auto` or unset: the order above). Forcing a backend
// that cannot be loaded is an error, not a silent fallback. An explicit
// `prefer` argument (e.g. from the config or command line) wins over the variable.
import { createRequire } from 'node:module';
import { initSodium } from '../sodium.js';
import type { Aead } from './aead.js';
import { LibsodiumWrappersAead } from './libsodium-wrappers.js';
import { SodiumNativeAead, isSodiumNativeBinding } from './sodium-native.js';
import { SystemLibsodiumAead, loadSystemLibsodium } from './system-libsodium.js';

export type AeadName = Aead['name'];
export type AeadPreference = 'auto' | AeadName;

export const AEAD_ENV_VAR = 'SEALTUN_AEAD';
const AEAD_NAMES: readonly AeadName[] = ['system-libsodium', 'sodium-native', 'libsodium-wrappers'];

/** The requested backend cannot be used; the message says why. */
export class AeadSelectionError extends Error {
  override readonly name = 'AeadSelectionError';
}

/** A native backend, loaded at most once per thread, or why it did not load. */
interface Loaded {
  aead: Aead | null;
  why: string;
}

let systemAead: Loaded | null = null;
let nativeAead: Loaded | null = null;
let wasmAead: Promise<Aead> | null = null;

function loadSystem(): Loaded {
  if (systemAead === null) {
    const { binding, why } = loadSystemLibsodium();
    systemAead = { aead: binding ? new SystemLibsodiumAead(binding) : null, why };
  }
  return systemAead;
}

function loadSodiumNative(): Loaded {
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

/** The native backends in order of preference. */
const NATIVE_LOADERS: readonly [AeadName, () => Loaded][] = [
  ['system-libsodium', loadSystem],
  ['sodium-native', loadSodiumNative],
];

function preferenceFromEnv(): AeadPreference {
  const value = process.env[AEAD_ENV_VAR]?.trim();
  if (value === undefined || value === '' || value === 'auto') return 'auto';
  if ((AEAD_NAMES as readonly string[]).includes(value)) return value as AeadName;
  throw new AeadSelectionError(`${AEAD_ENV_VAR}=${value}: expected auto, ${AEAD_NAMES.join(', ')}`);
}

/** The XChaCha20-Poly1305 implementation to use; see the top of this file for the rules. */
export async function loadAead(prefer: AeadPreference = 'auto'): Promise<Aead> {
  const choice = prefer === 'auto' ? preferenceFromEnv() : prefer;
  if (choice === 'libsodium-wrappers') return loadLibsodiumWrappers();
  for (const [name, load] of NATIVE_LOADERS) {
    if (choice !== 'auto' && choice !== name) continue;
    const loaded = load();
    if (loaded.aead) return loaded.aead;
    if (choice === name) throw new AeadSelectionError(loaded.why);
  }
  return loadLibsodiumWrappers();
}

/** Every implementation that loads here, in order of preference (for tests and benchmarks). */
export async function availableAeads(): Promise<Aead[]> {
  const found: Aead[] = [];
  for (const [, load] of NATIVE_LOADERS) {
    const aead = load().aead;
    if (aead) found.push(aead);
  }
  found.push(await loadLibsodiumWrappers());
  return found;
}

/** Why a native backend did not load ('' when it did), for `sealtun check`-style reports and tests. */
export function whyNotLoaded(name: Exclude<AeadName, 'libsodium-wrappers'>): string {
  return (name === 'system-libsodium' ? loadSystem() : loadSodiumNative()).why;
}
