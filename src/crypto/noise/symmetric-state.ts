// Noise rev 34 §5.2: the SymmetricState object, a CipherState plus the chaining
// key ck and the handshake hash h.
import { CipherState } from './cipher-state.js';
import { HASHLEN, KEYLEN, hash, hkdf } from './primitives.js';

/** §5.2: with HASHLEN 64, HKDF outputs used as cipher keys are truncated to 32 bytes. */
function truncateToKey(output: Uint8Array): Uint8Array {
  const key = output.slice(0, KEYLEN);
  output.fill(0);
  return key;
}

export class SymmetricState {
  private readonly cipherState: CipherState;
  private ck: Uint8Array;
  private h: Uint8Array;

  private constructor(cipherState: CipherState, ck: Uint8Array, h: Uint8Array) {
    this.cipherState = cipherState;
    this.ck = ck;
    this.h = h;
  }

  /**
   * §5.2 InitializeSymmetric(protocol_name): h = name zero-padded to HASHLEN
   * when it fits, else HASH(name); ck = h; k empty.
   */
  static initializeSymmetric(protocolName: string): SymmetricState {
    const name = new TextEncoder().encode(protocolName);
    let h: Uint8Array;
    if (name.length <= HASHLEN) {
      h = new Uint8Array(HASHLEN);
      h.set(name);
    } else {
      h = hash(name);
    }
    const cipherState = new CipherState();
    cipherState.initializeKey(null);
    return new SymmetricState(cipherState, h.slice(), h);
  }

  /** §5.2 MixKey(input_key_material): ck, temp_k = HKDF(ck, ikm, 2); InitializeKey(temp_k). */
  mixKey(inputKeyMaterial: Uint8Array): void {
    const [ck, tempK] = hkdf(this.ck, inputKeyMaterial, 2);
    this.ck.fill(0);
    this.ck = ck;
    this.cipherState.initializeKey(truncateToKey(tempK));
  }

  /** §5.2 MixHash(data): h = HASH(h ‖ data). */
  mixHash(data: Uint8Array): void {
    this.h = hash(this.h, data);
  }

  /**
   * §5.2 MixKeyAndHash(input_key_material): ck, temp_h, temp_k = HKDF(ck, ikm, 3);
   * MixHash(temp_h); InitializeKey(temp_k). Used for psk tokens.
   */
  mixKeyAndHash(inputKeyMaterial: Uint8Array): void {
    const [ck, tempH, tempK] = hkdf(this.ck, inputKeyMaterial, 3);
    this.ck.fill(0);
    this.ck = ck;
    this.mixHash(tempH);
    tempH.fill(0);
    this.cipherState.initializeKey(truncateToKey(tempK));
  }

  /** §5.2 GetHandshakeHash(): a copy of h. */
  getHandshakeHash(): Uint8Array {
    return this.h.slice();
  }

  /** §5.2 EncryptAndHash(plaintext): ciphertext = EncryptWithAd(h, plaintext); MixHash(ciphertext). */
  encryptAndHash(plaintext: Uint8Array): Uint8Array {
    const ciphertext = this.cipherState.encryptWithAd(this.h, plaintext);
    this.mixHash(ciphertext);
    return ciphertext;
  }

  /** §5.2 DecryptAndHash(ciphertext): plaintext = DecryptWithAd(h, ciphertext); MixHash(ciphertext). */
  decryptAndHash(ciphertext: Uint8Array): Uint8Array {
    const plaintext = this.cipherState.decryptWithAd(this.h, ciphertext);
    this.mixHash(ciphertext);
    return plaintext;
  }

  /** §5.2 HasKey() of the inner CipherState, which ReadMessage's `s` token needs (§5.3). */
  hasKey(): boolean {
    return this.cipherState.hasKey();
  }

  /**
   * §5.2 Split(): temp_k1, temp_k2 = HKDF(ck, zerolen, 2); two CipherStates.
   * The first is for initiator→responder, the second for responder→initiator.
   */
  split(): [CipherState, CipherState] {
    const [tempK1, tempK2] = hkdf(this.ck, new Uint8Array(0), 2);
    const c1 = new CipherState();
    c1.initializeKey(truncateToKey(tempK1));
    const c2 = new CipherState();
    c2.initializeKey(truncateToKey(tempK2));
    return [c1, c2];
  }

  clone(): SymmetricState {
    return new SymmetricState(this.cipherState.clone(), this.ck.slice(), this.h.slice());
  }

  /** Wipes ck, h and k. */
  destroy(): void {
    this.cipherState.destroy();
    this.ck.fill(0);
    this.h.fill(0);
  }
}
