// Wycheproof's XChaCha20-Poly1305 and ChaCha20-Poly1305 vectors through
// sealtun's own wrappers: every XChaCha20-Poly1305 backend that loads here
// (src/crypto/aead/, the data packets' AEAD, with its address-taking path when
// the backend has one), and the Noise cipher of src/crypto/noise/ (primitives'
// 12-byte-nonce AEAD, ENCRYPT/DECRYPT and CipherState).
//
// valid: seal gives ct ‖ tag byte for byte and open gives msg back.
// invalid: open fails (false for an Aead, NoiseError 'decrypt-failed' for Noise)
// and leaves no plaintext behind. Groups whose nonce size the wrapper does not
// take: the wrapper refuses them with a RangeError naming the nonce.
import { expect } from 'chai';
import { KEY_BYTES, TAG_BYTES, XNONCE_BYTES, type AddressedAead, type Aead } from '../../src/crypto/aead/aead.js';
import { availableAeads } from '../../src/crypto/aead/select.js';
import { CipherState, MAX_NONCE } from '../../src/crypto/noise/cipher-state.js';
import { NoiseError, decrypt, encrypt, openChaChaPoly, sealChaChaPoly } from '../../src/crypto/noise/primitives.js';
import { initSodium } from '../../src/crypto/sodium.js';
import { fromHex, toHex } from './vectors.js';
import { aeadGroupName, allTests, counts, label, loadWycheproof, type AeadGroup, type AeadTest } from './wycheproof.js';

await initSodium();
const aeads: Aead[] = await availableAeads();
const xchacha = loadWycheproof<AeadGroup>('xchacha20_poly1305_test.json');
const chacha = loadWycheproof<AeadGroup>('chacha20_poly1305_test.json');

/** A vector's fields as bytes; `sealed` is ct ‖ tag, as every wrapper here writes it. */
function parse(t: AeadTest) {
  const sealed = fromHex(t.ct + t.tag);
  return { key: fromHex(t.key), nonce: fromHex(t.iv), ad: fromHex(t.aad), msg: fromHex(t.msg), sealed };
}

/** Filled into output buffers first, so a test sees whether open wrote the message there. */
const POISON = 0xa5;

/**
 * After a failed open: `out` must not hold the message. The Aead interface only
 * says `out` must not be used; every backend here is libsodium, which checks the
 * tag before decrypting and zeroes `out` on failure, and this keeps it so.
 */
function expectNoPlaintext(out: Uint8Array, msg: Uint8Array, t: AeadTest): void {
  if (msg.length > 0) expect(toHex(out), `${label(t)}: plaintext left in out`).to.not.equal(toHex(msg));
}

function splitGroups(file: typeof xchacha, ivBits: number): { inDomain: AeadGroup[]; outOfDomain: AeadGroup[] } {
  const fits = (g: AeadGroup) => g.ivSize === ivBits && g.keySize === KEY_BYTES * 8 && g.tagSize === TAG_BYTES * 8;
  return { inDomain: file.testGroups.filter(fits), outOfDomain: file.testGroups.filter((g) => !fits(g)) };
}

describe('Wycheproof AEAD vectors (test/vectors/wycheproof)', () => {
  const fileCounts = [xchacha, chacha].map((f) => `${f.algorithm}: ${counts(allTests(f.testGroups))}`);
  it(fileCounts.join('; '), () => {
    expect(allTests(xchacha.testGroups)).to.have.length(xchacha.numberOfTests).and.length(315);
    expect(allTests(chacha.testGroups)).to.have.length(chacha.numberOfTests).and.length(325);
  });

  describe('XChaCha20-Poly1305 (the data packets)', () => {
    const { inDomain, outOfDomain } = splitGroups(xchacha, XNONCE_BYTES * 8);

    it('libsodium-wrappers is among the backends, so at least one runs everywhere', () => {
      expect(aeads.map((a) => a.name)).to.include('libsodium-wrappers');
      expect(inDomain).to.have.length(1);
    });

    for (const aead of aeads) {
      describe(`through ${aead.name}`, () => {
        for (const group of inDomain) {
          it(`${aeadGroupName(group)}: ${counts(group.tests)} (seal, open, in place)`, () => {
            for (const t of group.tests) runAeadVector(aead, t);
          });

          const addressed = aead.addressed;
          if (addressed !== undefined) {
            it(`${aeadGroupName(group)}: ${counts(group.tests)} through sealAt/openAt (the data path's addresses)`, () => {
              for (const t of group.tests) runAddressedVector(addressed, t);
            });
          }
        }

        for (const group of outOfDomain) {
          it(`${aeadGroupName(group)}: ${counts(group.tests)}, refused with a RangeError naming the nonce or key`, () => {
            for (const t of group.tests) expectRefusedArguments(aead, t);
          });
        }
      });
    }
  });

  describe('ChaCha20-Poly1305 IETF (the Noise cipher, src/crypto/noise)', () => {
    const { inDomain, outOfDomain } = splitGroups(chacha, 96);
    const vectors = allTests(inDomain);
    const noiseForm = vectors.filter((t) => isNoiseNonce(fromHex(t.iv)));

    it(`${inDomain.map(aeadGroupName).join('; ')}: ${counts(vectors)} through sealChaChaPoly/openChaChaPoly`, () => {
      expect(inDomain).to.have.length(1);
      for (const t of vectors) runNoiseVector(t);
    });

    // The data packets are sealed with these calls under the HChaCha20 subkey (aead.ts, AddressedAead).
    for (const aead of aeads) {
      const addressed = aead.addressed;
      if (addressed === undefined) continue;
      it(`${counts(vectors)} through ${aead.name}'s sealIetfAt/openIetfAt (the data packets' calls)`, () => {
        for (const t of vectors) runAddressedVector(addressed, t, true);
      });
    }

    // ENCRYPT(k, n) and CipherState take n, not a nonce. Wycheproof has 10
    // nonces of Noise's form (4 zero bytes ‖ u64le n), all with n ≥ 2^53, past
    // CipherState's MAX_NONCE; so instead every vector's key, ad and message go
    // through ENCRYPT/DECRYPT and CipherState at edge values of n, which must
    // agree with the function the vectors just checked (the nonce layout itself
    // is pinned by the cacophony vectors, noise-vectors.test.ts).
    it(`${counts(noiseForm)} with Noise-form nonces, all with n ≥ 2^53: beyond CipherState's MAX_NONCE by design`, () => {
      const beyond = noiseForm.map((t) => nonceCounter(fromHex(t.iv)) > BigInt(MAX_NONCE));
      expect(beyond).to.deep.equal(new Array(10).fill(true));
    });

    const EDGE_NONCES = [0, 1, 2 ** 32 - 1, 2 ** 32, MAX_NONCE - 1];
    const atNonces = `n = ${EDGE_NONCES.join(', ')}`;
    it(`${counts(vectors)}: ENCRYPT/DECRYPT(k, n) and CipherState agree with sealChaChaPoly at ${atNonces}`, () => {
      for (const t of vectors) runCipherStateVector(t, EDGE_NONCES);
    });

    // Noise's nonce is 96 bits (rev 34 §4.2, 12.3.1); other sizes cannot reach
    // ENCRYPT. The 12-byte function refuses them rather than misusing them.
    const skipped = allTests(outOfDomain);
    const sizes = outOfDomain.map((g) => g.ivSize).join(', ');
    it(`${outOfDomain.length} groups with other nonce sizes (${sizes} bits): ${counts(skipped)}, outside the domain by design`, () => {
      const all = { groups: outOfDomain.length, vectors: skipped.length, invalid: skipped.every((t) => t.result === 'invalid') };
      expect(all).to.deep.equal({ groups: 9, vectors: 9, invalid: true });
      for (const t of skipped) {
        const v = parse(t);
        expect(() => sealChaChaPoly(v.key, v.nonce, v.ad, v.msg), label(t)).to.throw(RangeError, /nonce must be 12 bytes/);
        expect(() => openChaChaPoly(v.key, v.nonce, v.ad, v.sealed), label(t)).to.throw(RangeError, /nonce must be 12 bytes/);
      }
    });
  });
});

function runAeadVector(aead: Aead, t: AeadTest): void {
  const v = parse(t);
  const sealed = new Uint8Array(v.msg.length + TAG_BYTES);
  aead.seal(sealed, v.msg, v.ad, v.nonce, v.key);
  const out = new Uint8Array(v.msg.length).fill(POISON);
  const opened = aead.open(out, v.sealed, v.ad, v.nonce, v.key);
  if (t.result === 'valid') {
    expect(toHex(sealed), label(t)).to.equal(t.ct + t.tag);
    expect(opened, label(t)).to.equal(true);
    expect(toHex(out), label(t)).to.equal(t.msg);
    // In place, as the data path does it: one buffer, sealed then opened.
    const buf = new Uint8Array(v.msg.length + TAG_BYTES);
    buf.set(v.msg);
    aead.seal(buf, buf.subarray(0, v.msg.length), v.ad, v.nonce, v.key);
    expect(toHex(buf), `${label(t)} in place`).to.equal(t.ct + t.tag);
    expect(aead.open(buf.subarray(0, v.msg.length), buf, v.ad, v.nonce, v.key), `${label(t)} in place`).to.equal(true);
    expect(toHex(buf.subarray(0, v.msg.length)), `${label(t)} in place`).to.equal(t.msg);
  } else {
    expect(opened, label(t)).to.equal(false);
    expectNoPlaintext(out, v.msg, t);
    // The damage is in ct or tag: sealing msg honestly must not reproduce them.
    expect(toHex(sealed), label(t)).to.not.equal(t.ct + t.tag);
  }
}

/**
 * The same through AddressedAead, as DataSealer/DataOpener call it: key, nonce,
 * ad and message laid out in one off-heap buffer (V8 never moves it).
 */
function runAddressedVector(addressed: AddressedAead, t: AeadTest, ietf = false): void {
  const v = parse(t);
  const arena = Buffer.allocUnsafeSlow(KEY_BYTES + XNONCE_BYTES + v.ad.length + v.sealed.length).fill(POISON);
  const at = (offset: number) => addressed.addressOf(arena) + offset;
  const sealAt = ietf ? addressed.sealIetfAt : addressed.sealAt;
  const openAt = ietf ? addressed.openIetfAt : addressed.openAt;
  const adAt = KEY_BYTES + XNONCE_BYTES;
  const bodyAt = adAt + v.ad.length;
  arena.set(v.key, 0);
  arena.set(v.nonce, KEY_BYTES);
  arena.set(v.ad, adAt);
  const body = arena.subarray(bodyAt);
  if (t.result === 'valid') {
    body.set(v.msg);
    sealAt(at(bodyAt), at(bodyAt), v.msg.length, at(adAt), v.ad.length, at(KEY_BYTES), at(0));
    expect(toHex(body), label(t)).to.equal(t.ct + t.tag);
  } else {
    body.set(v.sealed);
  }
  body.set(v.sealed);
  const opened = openAt(at(bodyAt), at(bodyAt), v.sealed.length, at(adAt), v.ad.length, at(KEY_BYTES), at(0));
  expect(opened, label(t)).to.equal(t.result === 'valid');
  if (t.result === 'valid') expect(toHex(body.subarray(0, v.msg.length)), label(t)).to.equal(t.msg);
  else expectNoPlaintext(body.subarray(0, v.msg.length), v.msg, t);
}

/**
 * A nonce size the Aead does not take is the caller's bug: seal throws a
 * RangeError. open never says `true`: these vectors carry an empty ct ‖ tag,
 * which open turns down first (input shorter than the tag is the peer's doing:
 * false, no throw); with a tag-sized input the nonce is the fault, a RangeError.
 * The check matters: with it removed (aead.ts checkAeadArguments, tried), the
 * system-libsodium backend reads past the short nonce and the process dies of SIGSEGV.
 */
function expectRefusedArguments(aead: Aead, t: AeadTest): void {
  const v = parse(t);
  const refusal = /(nonce|key) must be \d+ bytes/;
  expect(() => aead.seal(new Uint8Array(v.msg.length + TAG_BYTES), v.msg, v.ad, v.nonce, v.key), label(t)).to.throw(
    RangeError,
    refusal,
  );
  if (v.sealed.length < TAG_BYTES) {
    expect(aead.open(new Uint8Array(0), v.sealed, v.ad, v.nonce, v.key), label(t)).to.equal(false);
  }
  const tagSized = new Uint8Array(Math.max(v.sealed.length, TAG_BYTES));
  tagSized.set(v.sealed);
  const out = new Uint8Array(tagSized.length - TAG_BYTES);
  expect(() => aead.open(out, tagSized, v.ad, v.nonce, v.key), label(t)).to.throw(RangeError, refusal);
}

function expectDecryptFailed(fn: () => unknown, t: AeadTest): void {
  expect(fn, label(t)).to.throw(NoiseError).with.property('reason', 'decrypt-failed');
}

function runNoiseVector(t: AeadTest): void {
  const v = parse(t);
  const sealed = sealChaChaPoly(v.key, v.nonce, v.ad, v.msg);
  if (t.result === 'valid') {
    expect(toHex(sealed), label(t)).to.equal(t.ct + t.tag);
    expect(toHex(openChaChaPoly(v.key, v.nonce, v.ad, v.sealed)), label(t)).to.equal(t.msg);
  } else {
    expect(toHex(sealed), label(t)).to.not.equal(t.ct + t.tag);
    expectDecryptFailed(() => openChaChaPoly(v.key, v.nonce, v.ad, v.sealed), t);
  }
}

/** Noise's nonce layout (rev 34 §4.2): 0x00000000 ‖ u64le(n). */
function isNoiseNonce(nonce: Uint8Array): boolean {
  return nonce.length === 12 && nonce.subarray(0, 4).every((b) => b === 0);
}

function nonceCounter(nonce: Uint8Array): bigint {
  return Buffer.from(nonce.subarray(4)).readBigUInt64LE();
}

function noiseNonceFor(n: number): Uint8Array {
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64LE(BigInt(n), 4);
  return new Uint8Array(nonce);
}

/**
 * ENCRYPT(k, n), CipherState.encryptWithAd, DECRYPT and decryptWithAd against
 * sealChaChaPoly with the nonce spelled out. For an invalid vector, the same
 * damage (its ct ‖ tag XOR the honest one) is done to the message sealed at n,
 * which must then fail under CipherState too, leaving n where it was (§5.1).
 */
function runCipherStateVector(t: AeadTest, nonces: readonly number[]): void {
  const v = parse(t);
  const damage = t.result === 'invalid' ? damageOf(v) : null;
  for (const n of nonces) {
    const sealed = sealChaChaPoly(v.key, noiseNonceFor(n), v.ad, v.msg);
    const what = `${label(t)} n=${n}`;
    const sender = stateAt(v.key, n);
    const receiver = stateAt(v.key, n);
    if (damage !== null) {
      const forged = damage.length === sealed.length ? sealed.map((b, i) => b ^ damage[i]!) : v.sealed;
      expectDecryptFailed(() => decrypt(v.key, n, v.ad, forged), t);
      expectDecryptFailed(() => receiver.decryptWithAd(v.ad, forged), t);
      expect(receiver.nonce, what).to.equal(n);
    }
    expect(toHex(encrypt(v.key, n, v.ad, v.msg)), what).to.equal(toHex(sealed));
    expect(toHex(sender.encryptWithAd(v.ad, v.msg)), what).to.equal(toHex(sealed));
    expect(toHex(decrypt(v.key, n, v.ad, sealed)), what).to.equal(t.msg);
    expect(toHex(receiver.decryptWithAd(v.ad, sealed)), what).to.equal(t.msg);
    expect([sender.nonce, receiver.nonce], what).to.deep.equal([n + 1, n + 1]);
  }
}

function stateAt(key: Uint8Array, n: number): CipherState {
  const state = new CipherState();
  state.initializeKey(key.slice());
  state.setNonce(n);
  return state;
}

/** An invalid vector's ct ‖ tag XOR the honest one (empty when the lengths differ). */
function damageOf(v: ReturnType<typeof parse>): Uint8Array {
  const honest = sealChaChaPoly(v.key, v.nonce, v.ad, v.msg);
  return honest.length === v.sealed.length ? honest.map((b, i) => b ^ v.sealed[i]!) : new Uint8Array(0);
}
