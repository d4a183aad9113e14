// XChaCha20-Poly1305 vectors (draft-irtf-cfrg-xchacha-03 and libsodium's own
// tests) through every available Aead backend, and the HChaCha20 / XChaCha20
// keystream vectors through an independent pure-JS reference.
import { expect } from 'chai';
import { TAG_BYTES, type Aead } from '../../src/crypto/aead/aead.js';
import { availableAeads } from '../../src/crypto/aead/select.js';
import { chacha20Block, chacha20Xor, hchacha20, xchacha20Parameters, xchacha20Xor } from './chacha20-reference.js';
import { fromHex, loadVectors, toHex } from './vectors.js';

interface XChaChaVectors {
  hchacha20: { source: string; key: string; nonce16: string; subkey: string }[];
  aead_xchacha20poly1305: {
    source: string;
    key: string;
    nonce: string;
    aad: string;
    plaintext: string;
    poly1305_key?: string;
    ciphertext: string;
    tag: string;
  }[];
  xchacha20_stream: { source: string; counter: number; key: string; nonce: string; plaintext: string; ciphertext: string }[];
}

const vectors = loadVectors<XChaChaVectors>('xchacha20poly1305.json');
const aeads: Aead[] = await availableAeads();

describe('XChaCha20-Poly1305 vectors', () => {
  it('the vector file has every section', () => {
    expect(vectors.hchacha20).to.have.length(11);
    expect(vectors.aead_xchacha20poly1305).to.have.length(3);
    expect(vectors.xchacha20_stream).to.have.length(11);
  });

  it('libsodium-wrappers is always among the backends', () => {
    expect(aeads.map((a) => a.name)).to.include('libsodium-wrappers');
  });

  describe('pure-JS reference sanity (RFC 8439 §2.3.2 block function vector)', () => {
    it('reproduces the RFC 8439 ChaCha20 block', () => {
      const key = fromHex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
      const nonce = fromHex('000000090000004a00000000');
      expect(toHex(chacha20Block(key, 1, nonce))).to.equal(
        '10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e' +
          'd2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e',
      );
    });
  });

  describe('HChaCha20 (pure-JS reference)', () => {
    vectors.hchacha20.forEach((v, i) => {
      it(`#${i} ${v.source}`, () => {
        expect(toHex(hchacha20(fromHex(v.key), fromHex(v.nonce16)))).to.equal(v.subkey);
      });
    });
  });

  // The data path derives its per-key subkey with the backend's HChaCha20 (data-packet.ts).
  for (const aead of aeads) {
    const addressed = aead.addressed;
    if (addressed === undefined) continue;
    it(`HChaCha20 through ${aead.name}: all ${vectors.hchacha20.length} vectors`, () => {
      for (const v of vectors.hchacha20) {
        const out = new Uint8Array(32);
        addressed.hchacha20(out, fromHex(v.nonce16), fromHex(v.key));
        expect(toHex(out), v.source).to.equal(v.subkey);
      }
    });
  }

  describe('XChaCha20 keystream (pure-JS reference)', () => {
    vectors.xchacha20_stream.forEach((v, i) => {
      it(`#${i} ${v.source}`, () => {
        const out = xchacha20Xor(fromHex(v.key), fromHex(v.nonce), v.counter, fromHex(v.plaintext));
        expect(toHex(out)).to.equal(v.ciphertext);
      });
    });
  });

  describe('AEAD vectors, ciphertext and Poly1305 key rederived with the pure-JS reference', () => {
    vectors.aead_xchacha20poly1305.forEach((v, i) => {
      it(`#${i} ${v.source}`, () => {
        const { subkey, nonce12 } = xchacha20Parameters(fromHex(v.key), fromHex(v.nonce));
        // RFC 8439 §2.6/§2.8: block 0 gives the Poly1305 key, the payload is encrypted from block 1.
        const polyKey = chacha20Block(subkey, 0, nonce12).subarray(0, 32);
        if (v.poly1305_key !== undefined) expect(toHex(polyKey)).to.equal(v.poly1305_key);
        expect(toHex(chacha20Xor(subkey, nonce12, 1, fromHex(v.plaintext)))).to.equal(v.ciphertext);
      });
    });
  });

  for (const aead of aeads) {
    describe(`AEAD vectors through ${aead.name}`, () => {
      vectors.aead_xchacha20poly1305.forEach((v, i) => {
        const key = fromHex(v.key);
        const nonce = fromHex(v.nonce);
        const ad = fromHex(v.aad);
        const plaintext = fromHex(v.plaintext);
        const combined = v.ciphertext + v.tag;

        it(`#${i} seal: ciphertext‖tag byte for byte (${v.source})`, () => {
          const out = new Uint8Array(plaintext.length + TAG_BYTES);
          aead.seal(out, plaintext, ad, nonce, key);
          expect(toHex(out)).to.equal(combined);
        });

        it(`#${i} open: recovers the plaintext`, () => {
          const out = new Uint8Array(plaintext.length);
          expect(aead.open(out, fromHex(combined), ad, nonce, key)).to.equal(true);
          expect(toHex(out)).to.equal(v.plaintext);
        });

        it(`#${i} in place: seal then open in one buffer`, () => {
          const buf = new Uint8Array(plaintext.length + TAG_BYTES);
          buf.set(plaintext);
          aead.seal(buf, buf.subarray(0, plaintext.length), ad, nonce, key);
          expect(toHex(buf)).to.equal(combined);
          expect(aead.open(buf.subarray(0, plaintext.length), buf, ad, nonce, key)).to.equal(true);
          expect(toHex(buf.subarray(0, plaintext.length))).to.equal(v.plaintext);
        });

        it(`#${i} open: a flipped tag bit is refused`, () => {
          const forged = fromHex(combined);
          forged[forged.length - 1]! ^= 0x80;
          expect(aead.open(new Uint8Array(plaintext.length), forged, ad, nonce, key)).to.equal(false);
        });
      });
    });
  }
});
