// The BLAKE2 authors' unkeyed BLAKE2b-512 known answers (inputs 0..255 bytes
// of 00 01 02 …) through Noise's HASH (primitives.ts hash(), also with its
// input in two parts, as HMAC-HASH calls it) and through the workers' keyed
// hash (keyed-hash.ts) of every backend that loads, with an empty key.
import { expect } from 'chai';
import type { Aead } from '../../src/crypto/aead/aead.js';
import { availableAeads } from '../../src/crypto/aead/select.js';
import { keyedHashFor } from '../../src/crypto/keyed-hash.js';
import { HASHLEN, hash } from '../../src/crypto/noise/primitives.js';
import { initSodium } from '../../src/crypto/sodium.js';
import { fromHex, loadVectors, toHex } from './vectors.js';

interface Blake2Kat {
  hash: string;
  in: string;
  key: string;
  out: string;
}

await initSodium();
const aeads: Aead[] = await availableAeads();
const kat = loadVectors<Blake2Kat[]>('wycheproof/blake2b_unkeyed_kat.json');

describe('BLAKE2b-512 unkeyed KAT (test/vectors/wycheproof/blake2b_unkeyed_kat.json)', () => {
  it(`${kat.length} entries, all blake2b, unkeyed, 64-byte outputs, inputs of 0–255 bytes`, () => {
    expect(kat).to.have.length(256);
    kat.forEach((e, i) => {
      expect([e.hash, e.key, e.out.length, e.in.length], `entry ${i}`).to.deep.equal(['blake2b', '', HASHLEN * 2, i * 2]);
    });
  });

  it(`${kat.length} entries through Noise's HASH (hash())`, () => {
    for (const [i, e] of kat.entries()) expect(toHex(hash(fromHex(e.in))), `entry ${i}`).to.equal(e.out);
  });

  it(`${kat.length} entries through hash() with the input in two parts`, () => {
    for (const [i, e] of kat.entries()) {
      const input = fromHex(e.in);
      const cut = input.length >> 1;
      expect(toHex(hash(input.subarray(0, cut), input.subarray(cut))), `entry ${i}`).to.equal(e.out);
    }
  });

  for (const aead of aeads) {
    it(`${kat.length} entries through keyedHashFor(${aead.name}) with an empty key`, () => {
      const keyedHash = keyedHashFor(aead);
      const out = new Uint8Array(HASHLEN);
      for (const [i, e] of kat.entries()) {
        keyedHash(out, fromHex(e.in), new Uint8Array(0));
        expect(toHex(out), `entry ${i}`).to.equal(e.out);
      }
    });
  }
});
