// The one place that waits for libsodium-wrappers (WASM) to be ready.
// Everything else imports `sodium()` and gets the initialised module.
import _sodium from 'libsodium-wrappers';

export type Sodium = typeof _sodium;

let ready: Promise<Sodium> | null = null;

/** Resolves once libsodium's WASM module is initialised (once per thread). */
export function initSodium(): Promise<Sodium> {
  ready ??= _sodium.ready.then(() => _sodium);
  return ready;
}

/** The initialised module; throws if initSodium() has not resolved yet. */
export function sodium(): Sodium {
  if (!ready) throw new Error('libsodium used before initSodium()');
  return _sodium;
}
