// A small, deliberately plain ChaCha20 / HChaCha20 / XChaCha20 (RFC 8439 §2.3,
// draft-irtf-cfrg-xchacha-03 §2.2 and §2.3) used only by tests, to check the
// vectors independently of libsodium (whose non-sumo build does not export
// HChaCha20 or the raw XChaCha20 stream). Slow and not constant-time: never
// use it outside tests.

/** "expand 32-byte k" as four little-endian words (RFC 8439 §2.3). */
const SIGMA = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574] as const;

function readWordsLE(bytes: Uint8Array, count: number): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: count }, (_, i) => view.getUint32(4 * i, true));
}

function rotl(x: number, n: number): number {
  return ((x << n) | (x >>> (32 - n))) >>> 0;
}

/** RFC 8439 §2.1 quarter round on state indices a, b, c, d. */
function quarterRound(s: number[], a: number, b: number, c: number, d: number): void {
  s[a] = (s[a]! + s[b]!) >>> 0; s[d] = rotl(s[d]! ^ s[a]!, 16);
  s[c] = (s[c]! + s[d]!) >>> 0; s[b] = rotl(s[b]! ^ s[c]!, 12);
  s[a] = (s[a]! + s[b]!) >>> 0; s[d] = rotl(s[d]! ^ s[a]!, 8);
  s[c] = (s[c]! + s[d]!) >>> 0; s[b] = rotl(s[b]! ^ s[c]!, 7);
}

/** 20 rounds: 10 × (4 column rounds + 4 diagonal rounds). */
function rounds(state: number[]): number[] {
  const s = [...state];
  for (let i = 0; i < 10; i++) {
    quarterRound(s, 0, 4, 8, 12);
    quarterRound(s, 1, 5, 9, 13);
    quarterRound(s, 2, 6, 10, 14);
    quarterRound(s, 3, 7, 11, 15);
    quarterRound(s, 0, 5, 10, 15);
    quarterRound(s, 1, 6, 11, 12);
    quarterRound(s, 2, 7, 8, 13);
    quarterRound(s, 3, 4, 9, 14);
  }
  return s;
}

function wordsToBytesLE(words: number[]): Uint8Array {
  const out = new Uint8Array(4 * words.length);
  const view = new DataView(out.buffer);
  words.forEach((w, i) => view.setUint32(4 * i, w, true));
  return out;
}

/** RFC 8439 §2.3: one 64-byte ChaCha20 block for a 32-byte key, 32-bit counter and 12-byte nonce. */
export function chacha20Block(key: Uint8Array, counter: number, nonce12: Uint8Array): Uint8Array {
  const state = [...SIGMA, ...readWordsLE(key, 8), counter >>> 0, ...readWordsLE(nonce12, 3)];
  const mixed = rounds(state);
  return wordsToBytesLE(mixed.map((w, i) => (w + state[i]!) >>> 0));
}

/** draft-irtf-cfrg-xchacha-03 §2.2: HChaCha20 = the ChaCha20 rounds without the final addition, words 0–3 and 12–15. */
export function hchacha20(key: Uint8Array, nonce16: Uint8Array): Uint8Array {
  const state = [...SIGMA, ...readWordsLE(key, 8), ...readWordsLE(nonce16, 4)];
  const mixed = rounds(state);
  return wordsToBytesLE([...mixed.slice(0, 4), ...mixed.slice(12, 16)]);
}

/** RFC 8439 §2.4: ChaCha20 encryption (XOR with the keystream from `counter` on). */
export function chacha20Xor(key: Uint8Array, nonce12: Uint8Array, counter: number, input: Uint8Array): Uint8Array {
  const out = new Uint8Array(input.length);
  for (let block = 0; 64 * block < input.length; block++) {
    const stream = chacha20Block(key, counter + block, nonce12);
    for (let i = 0; i < 64 && 64 * block + i < input.length; i++) {
      out[64 * block + i] = input[64 * block + i]! ^ stream[i]!;
    }
  }
  return out;
}

/** draft §2.3: XChaCha20's ChaCha20 key and 12-byte nonce for a 24-byte nonce. */
export function xchacha20Parameters(key: Uint8Array, nonce24: Uint8Array): { subkey: Uint8Array; nonce12: Uint8Array } {
  const subkey = hchacha20(key, nonce24.subarray(0, 16));
  const nonce12 = new Uint8Array(12);
  nonce12.set(nonce24.subarray(16, 24), 4);
  return { subkey, nonce12 };
}

/** draft §2.3: XChaCha20 = ChaCha20 under HChaCha20(key, nonce[0..16)) with nonce 0^4 ‖ nonce[16..24). */
export function xchacha20Xor(key: Uint8Array, nonce24: Uint8Array, counter: number, input: Uint8Array): Uint8Array {
  const { subkey, nonce12 } = xchacha20Parameters(key, nonce24);
  return chacha20Xor(subkey, nonce12, counter, input);
}
