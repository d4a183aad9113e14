// Noise rev 34 §5.1: the CipherState object, a key k (or empty) and a nonce n.
import { KEYLEN, NoiseError, decrypt, encrypt, rekey } from './primitives.js';

/**
 * §5.1 reserves n = 2^64 - 1 and fails before it. JS numbers count exactly only
 * to 2^53 - 1, so this implementation stops there instead: in Noise the nonce
 * counts handshake and transport messages under one key, and 2^53 of them would
 * take 28 years at ten million messages a second.
 */
export const MAX_NONCE = Number.MAX_SAFE_INTEGER;

export class CipherState {
  /** §5.1: k is either 32 bytes or empty (null). */
  private k: Uint8Array | null = null;
  private n = 0;

  /** §5.1 InitializeKey(key): takes ownership of `key` (it is wiped with this state); null = empty. */
  initializeKey(key: Uint8Array | null): void {
    if (key !== null && key.length !== KEYLEN) {
      throw new NoiseError('bad-key-length', `cipher key must be ${KEYLEN} bytes, got ${key.length}`);
    }
    this.k?.fill(0);
    this.k = key;
    this.n = 0;
  }

  /** §5.1 HasKey(). */
  hasKey(): boolean {
    return this.k !== null;
  }

  /** §5.1 SetNonce(nonce). */
  setNonce(nonce: number): void {
    if (!Number.isSafeInteger(nonce) || nonce < 0) throw new NoiseError('nonce-exhausted', `bad nonce ${nonce}`);
    this.n = nonce;
  }

  /** The next nonce this state will use. */
  get nonce(): number {
    return this.n;
  }

  /** §5.1 EncryptWithAd(ad, plaintext): encrypts and increments n, or returns the plaintext when k is empty. */
  encryptWithAd(ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    if (this.k === null) return plaintext.slice();
    this.checkNonce();
    const ciphertext = encrypt(this.k, this.n, ad, plaintext);
    this.n++;
    return ciphertext;
  }

  /**
   * §5.1 DecryptWithAd(ad, ciphertext): throws NoiseError('decrypt-failed') on
   * authentication failure, in which case n is NOT incremented (as §5.1 requires).
   */
  decryptWithAd(ad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
    if (this.k === null) return ciphertext.slice();
    this.checkNonce();
    const plaintext = decrypt(this.k, this.n, ad, ciphertext);
    this.n++;
    return plaintext;
  }

  /** §5.1 Rekey(): k = REKEY(k); n is left alone. */
  rekey(): void {
    if (this.k === null) throw new NoiseError('bad-key-length', 'Rekey() on a CipherState without a key');
    const next = rekey(this.k);
    this.k.fill(0);
    this.k = next;
  }

  /**
   * A copy of k, for handing Split() keys to a transport that does its own
   * encryption (sealtun's data path uses XChaCha20-Poly1305 with explicit counters).
   */
  exportKey(): Uint8Array {
    if (this.k === null) throw new NoiseError('bad-key-length', 'CipherState has no key to export');
    return this.k.slice();
  }

  clone(): CipherState {
    const copy = new CipherState();
    copy.k = this.k?.slice() ?? null;
    copy.n = this.n;
    return copy;
  }

  /** Wipes k; the state is empty afterwards. */
  destroy(): void {
    this.k?.fill(0);
    this.k = null;
    this.n = 0;
  }

  private checkNonce(): void {
    if (this.n >= MAX_NONCE) throw new NoiseError('nonce-exhausted', 'CipherState nonce exhausted');
  }
}
