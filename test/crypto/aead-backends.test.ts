// Every available XChaCha20-Poly1305 backend against every other: what one
// seals the other opens, and every kind of damage is refused with `false`.
import { expect } from 'chai';
import { randomBytes, randomInt } from 'node:crypto';
import { TAG_BYTES, XNONCE_BYTES, type Aead } from '../../src/crypto/aead/aead.js';
import { execFileSync } from 'node:child_process';
import { AEAD_ENV_VAR, AeadSelectionError, availableAeads, loadAead, whyNotLoaded } from '../../src/crypto/aead/select.js';
import { LIBSODIUM_SONAMES } from '../../src/crypto/aead/system-libsodium.js';

const aeads: Aead[] = await availableAeads();
const CASES = 200;
const EDGE_SIZES = [0, 1, 15, 16, 17, 63, 64, 65, 1420, 65535];

function bytes(n: number): Uint8Array {
  return new Uint8Array(randomBytes(n));
}

function sizes(): number[] {
  const out = [...EDGE_SIZES];
  while (out.length < CASES) out.push(randomInt(0, 65536));
  return out;
}

interface Sealed {
  key: Uint8Array;
  nonce: Uint8Array;
  ad: Uint8Array;
  plaintext: Uint8Array;
  sealed: Uint8Array;
}

function sealWith(aead: Aead, size: number, inPlace: boolean): Sealed {
  const key = bytes(32);
  const nonce = bytes(XNONCE_BYTES);
  const ad = bytes(randomInt(0, 64));
  const plaintext = bytes(size);
  let sealed: Uint8Array;
  if (inPlace) {
    sealed = new Uint8Array(size + TAG_BYTES);
    sealed.set(plaintext);
    aead.seal(sealed, sealed.subarray(0, size), ad, nonce, key);
  } else {
    sealed = new Uint8Array(size + TAG_BYTES);
    aead.seal(sealed, plaintext, ad, nonce, key);
  }
  return { key, nonce, ad, plaintext, sealed };
}

describe('AEAD backends', () => {
  it('lists libsodium-wrappers last, after system-libsodium and sodium-native (in that order) when they load', () => {
    const names = aeads.map((a) => a.name);
    expect(names[names.length - 1]).to.equal('libsodium-wrappers');
    const order: Aead['name'][] = ['system-libsodium', 'sodium-native', 'libsodium-wrappers'];
    expect(names).to.deep.equal(order.filter((n) => names.includes(n)));
  });

  for (const sealer of aeads) {
    for (const opener of aeads) {
      describe(`${sealer.name} seals → ${opener.name} opens`, () => {
        it(`${CASES} random sizes 0–65535, alternately in place and out of place`, () => {
          sizes().forEach((size, i) => {
            const s = sealWith(sealer, size, i % 2 === 0);
            // Open in place on odd cases, into a separate buffer on even ones.
            if (i % 2 === 1) {
              const buf = s.sealed.slice();
              expect(opener.open(buf.subarray(0, size), buf, s.ad, s.nonce, s.key), `size ${size}`).to.equal(true);
              expect(Buffer.from(buf.subarray(0, size)).equals(Buffer.from(s.plaintext)), `size ${size}`).to.equal(true);
            } else {
              const out = new Uint8Array(size);
              expect(opener.open(out, s.sealed, s.ad, s.nonce, s.key), `size ${size}`).to.equal(true);
              expect(Buffer.from(out).equals(Buffer.from(s.plaintext)), `size ${size}`).to.equal(true);
            }
          });
        });

        it('both produce the same bytes', () => {
          const s = sealWith(sealer, 1000, false);
          const again = new Uint8Array(1000 + TAG_BYTES);
          opener.seal(again, s.plaintext, s.ad, s.nonce, s.key);
          expect(Buffer.from(again).equals(Buffer.from(s.sealed))).to.equal(true);
        });

        it('wrong key, wrong nonce, and a flipped bit anywhere in ciphertext, tag or AD → false', () => {
          for (let round = 0; round < 20; round++) {
            const size = round === 0 ? 0 : randomInt(1, 2000);
            const s = sealWith(sealer, size, false);
            const out = new Uint8Array(size);
            const wrongKey = s.key.slice();
            wrongKey[randomInt(32)]! ^= 1 << randomInt(8);
            expect(opener.open(out, s.sealed, s.ad, s.nonce, wrongKey)).to.equal(false);
            const wrongNonce = s.nonce.slice();
            wrongNonce[randomInt(XNONCE_BYTES)]! ^= 1 << randomInt(8);
            expect(opener.open(out, s.sealed, s.ad, wrongNonce, s.key)).to.equal(false);
            // A bit in the ciphertext body (if any), then in the tag.
            for (const at of [size > 0 ? randomInt(size) : 0, size + randomInt(TAG_BYTES)]) {
              const forged = s.sealed.slice();
              forged[at]! ^= 1 << randomInt(8);
              expect(opener.open(out, forged, s.ad, s.nonce, s.key), `bit at ${at}`).to.equal(false);
            }
            if (s.ad.length > 0) {
              const ad = s.ad.slice();
              ad[randomInt(ad.length)]! ^= 1 << randomInt(8);
              expect(opener.open(out, s.sealed, ad, s.nonce, s.key)).to.equal(false);
            }
            const longerAd = new Uint8Array(s.ad.length + 1);
            longerAd.set(s.ad);
            expect(opener.open(out, s.sealed, longerAd, s.nonce, s.key)).to.equal(false);
          }
        });

        it('every bit of a short message, flipped one at a time → false', () => {
          const s = sealWith(sealer, 8, false);
          const out = new Uint8Array(8);
          for (let bit = 0; bit < s.sealed.length * 8; bit++) {
            const forged = s.sealed.slice();
            forged[bit >> 3]! ^= 1 << (bit & 7);
            expect(opener.open(out, forged, s.ad, s.nonce, s.key), `bit ${bit}`).to.equal(false);
          }
        });

        it('truncated input (every length short of the whole) → false, no throw', () => {
          const s = sealWith(sealer, 40, false);
          for (let len = 0; len < s.sealed.length; len++) {
            const input = s.sealed.subarray(0, len);
            const out = new Uint8Array(Math.max(0, len - TAG_BYTES));
            expect(opener.open(out, input, s.ad, s.nonce, s.key), `length ${len}`).to.equal(false);
          }
        });
      });
    }
  }

  for (const aead of aeads) {
    describe(`${aead.name} argument checks`, () => {
      it('seal into a too-short output is a RangeError (a bug, not an attack)', () => {
        expect(() => aead.seal(new Uint8Array(10), new Uint8Array(10), new Uint8Array(0), bytes(24), bytes(32))).to.throw(
          RangeError,
        );
      });

      it('a 12-byte nonce or a 16-byte key is a RangeError', () => {
        const out = new Uint8Array(TAG_BYTES);
        expect(() => aead.seal(out, new Uint8Array(0), new Uint8Array(0), bytes(12), bytes(32))).to.throw(RangeError);
        expect(() => aead.seal(out, new Uint8Array(0), new Uint8Array(0), bytes(24), bytes(16))).to.throw(RangeError);
      });

      it('a larger output buffer is fine (only the first bytes are written)', () => {
        const out = new Uint8Array(100).fill(0xaa);
        aead.seal(out, new Uint8Array(4), new Uint8Array(0), new Uint8Array(24), new Uint8Array(32));
        expect(Array.from(out.subarray(20))).to.deep.equal(new Array(80).fill(0xaa));
        const plain = new Uint8Array(50).fill(0xbb);
        expect(aead.open(plain, out.subarray(0, 20), new Uint8Array(0), new Uint8Array(24), new Uint8Array(32))).to.equal(
          true,
        );
        expect(Array.from(plain.subarray(0, 4))).to.deep.equal([0, 0, 0, 0]);
        expect(plain[4]).to.equal(0xbb);
      });
    });
  }
});

describe('AEAD selection', () => {
  let saved: string | undefined;
  beforeEach(() => {
    saved = process.env[AEAD_ENV_VAR];
  });
  afterEach(() => {
    if (saved === undefined) delete process.env[AEAD_ENV_VAR];
    else process.env[AEAD_ENV_VAR] = saved;
  });

  it('auto picks the first available backend', async () => {
    delete process.env[AEAD_ENV_VAR];
    expect((await loadAead()).name).to.equal(aeads[0]!.name);
  });

  it('an explicit preference is honoured, and one that does not load is an AeadSelectionError', async () => {
    expect((await loadAead('libsodium-wrappers')).name).to.equal('libsodium-wrappers');
    for (const name of ['system-libsodium', 'sodium-native'] as const) {
      if (aeads.some((a) => a.name === name)) {
        expect((await loadAead(name)).name).to.equal(name);
      } else {
        await loadAead(name).then(
          () => expect.fail(`${name} does not load here, asking for it must fail`),
          (err: unknown) => expect(err).to.be.instanceOf(AeadSelectionError).with.property('message', whyNotLoaded(name)),
        );
      }
    }
  });

  // A regression in loading the system library (a soname, a declaration koffi
  // refuses, sodium_init) would otherwise pass silently: the data path would
  // just run on sodium-native. So: where the dynamic linker knows libsodium,
  // the system backend must be the one chosen.
  it('picks system-libsodium wherever the dynamic linker lists libsodium (Debian: libsodium23)', async function () {
    const cache = execFileSync('/sbin/ldconfig', ['-p'], { encoding: 'utf8' });
    const present = LIBSODIUM_SONAMES.filter((soname) => cache.includes(`${soname} (`));
    if (present.length === 0) this.skip(); // libsodium23 not installed: sodium-native is the right choice then
    expect(whyNotLoaded('system-libsodium'), `${present.join(', ')} listed by ldconfig -p`).to.equal('');
    delete process.env[AEAD_ENV_VAR];
    expect((await loadAead()).name).to.equal('system-libsodium');
  });

  it(`${AEAD_ENV_VAR} forces a backend under auto, and an explicit argument beats it`, async () => {
    process.env[AEAD_ENV_VAR] = 'libsodium-wrappers';
    expect((await loadAead()).name).to.equal('libsodium-wrappers');
    expect((await loadAead('auto')).name).to.equal('libsodium-wrappers');
    if (aeads[0]!.name !== 'libsodium-wrappers') expect((await loadAead(aeads[0]!.name)).name).to.equal(aeads[0]!.name);
    if (aeads.some((a) => a.name === 'sodium-native')) {
      process.env[AEAD_ENV_VAR] = 'sodium-native';
      expect((await loadAead()).name).to.equal('sodium-native');
    }
  });

  it(`a bad ${AEAD_ENV_VAR} value is an AeadSelectionError`, async () => {
    process.env[AEAD_ENV_VAR] = 'openssl';
    await loadAead().then(
      () => expect.fail('should have refused'),
      (err: unknown) => expect(err).to.be.instanceOf(AeadSelectionError).with.property('message').that.includes('openssl'),
    );
  });
});
