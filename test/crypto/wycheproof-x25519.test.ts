// Wycheproof's X25519 vectors through the handshake's DH (primitives.ts dh()).
//
// sealtun's policy (docs/protocol.md, *Cryptography*, the X25519 item):
// - a shared secret of all zeros is refused (NoiseError 'bad-dh'): the peer's
//   key is a low-order point (or a non-canonical spelling of one), so the result
//   would not depend on our private key. Noise rev 34 §4.1 allows this and
//   WireGuard does it; libsodium's crypto_scalarmult returns -1 for it.
// - every other public key is accepted with the RFC 7748 §5 result: points on
//   the twist, non-canonical encodings (u ≥ 2^255 - 19, reduced mod p) and a set
//   top bit (ignored). Wycheproof marks these "acceptable": whether to refuse
//   them is left to the protocol, and nothing in IKpsk2 needs to.
import { expect } from 'chai';
import { NoiseError, dh, keypairFromPrivate } from '../../src/crypto/noise/primitives.js';
import { initSodium } from '../../src/crypto/sodium.js';
import { fromHex, toHex } from './vectors.js';
import { allTests, counts, label, loadWycheproof, type XdhGroup, type XdhTest } from './wycheproof.js';

await initSodium();
const file = loadWycheproof<XdhGroup>('x25519_test.json');
const vectors = allTests(file.testGroups);

const ALL_ZERO = '00'.repeat(32);
/** The policy above: the expected dh() output, or null for a refusal. */
function expectedSecret(t: XdhTest): string | null {
  return t.shared === ALL_ZERO ? null : t.shared;
}

function expectPolicy(t: XdhTest): void {
  const ours = keypairFromPrivate(fromHex(t.private));
  const peer = fromHex(t.public);
  const expected = expectedSecret(t);
  if (expected === null) {
    expect(() => dh(ours, peer), label(t)).to.throw(NoiseError).with.property('reason', 'bad-dh');
  } else {
    expect(toHex(dh(ours, peer)), label(t)).to.equal(expected);
  }
}

function policyCounts(tests: readonly XdhTest[]): string {
  const refused = tests.filter((t) => expectedSecret(t) === null).length;
  return `${tests.length - refused} give the RFC 7748 secret, ${refused} all-zero refused`;
}

describe('Wycheproof X25519 vectors through the handshake DH (test/vectors/wycheproof)', () => {
  it(`x25519_test.json: ${counts(vectors)}; ${policyCounts(vectors)}`, () => {
    expect(file.testGroups.map((g) => g.curve)).to.deep.equal(['curve25519']);
    expect(vectors).to.have.length(file.numberOfTests).and.length(518);
    for (const t of vectors) expectPolicy(t);
  });

  it('the refusals are exactly the ZeroSharedSecret vectors, all "acceptable" low-order public keys', () => {
    const refused = vectors.filter((t) => expectedSecret(t) === null);
    expect(refused.length).to.equal(31);
    for (const t of refused) {
      expect(t.result, label(t)).to.equal('acceptable');
      expect(t.flags, label(t)).to.include.members(['ZeroSharedSecret', 'LowOrderPublic']);
    }
    const flagged = vectors.filter((t) => t.flags.includes('ZeroSharedSecret') || t.flags.includes('LowOrderPublic'));
    expect(flagged.map((t) => t.tcId)).to.deep.equal(refused.map((t) => t.tcId));
  });

  // One line per flag, so a change of policy for (say) non-canonical keys shows by name.
  for (const flag of Object.keys(file.notes).sort()) {
    const tests = vectors.filter((t) => t.flags.includes(flag));
    it(`${flag}: ${counts(tests)}; ${policyCounts(tests)}`, () => {
      expect(tests.length).to.be.greaterThan(0);
      for (const t of tests) expectPolicy(t);
    });
  }
});
