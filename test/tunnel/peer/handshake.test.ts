// The sealtun handshake between two configured peers.
import { expect } from 'chai';
import fc from 'fast-check';
import { availableAeads } from '../../../src/crypto/aead/select.js';
import { DATA_OVERHEAD, DataOpener, DataSealer } from '../../../src/crypto/data-packet.js';
import { generatePresharedKey, generatePrivateKey, publicKeyOf } from '../../../src/crypto/keys.js';
import { initSodium } from '../../../src/crypto/sodium.js';
import {
  Handshake,
  HandshakeUsageError,
  PROLOGUE,
  PROTOCOL_NAME,
  type HandshakeResult,
  type Rejection,
} from '../../../src/tunnel/peer/handshake.js';
import {
  COOKIE_REPLY,
  FEATURE_VNET_HDR,
  INITIATION,
  MESSAGE_COOKIE_REPLY_BYTES,
  MESSAGE_INITIATION,
  MESSAGE_INITIATION_BYTES,
  MESSAGE_RESPONSE,
  MESSAGE_RESPONSE_BYTES,
  RESPONSE,
  compareTai64n,
  mac1Key,
  tai64n,
  writeMac1,
  type Field,
} from '../../../src/tunnel/messages.js';

interface Party {
  priv: Uint8Array;
  pub: Uint8Array;
}

function party(): Party {
  const priv = generatePrivateKey();
  return { priv, pub: publicKeyOf(priv) };
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

function expectRejected(r: { ok: boolean }, reason: Rejection['reason']): void {
  expect(r.ok, `expected rejection ${reason}`).to.equal(false);
  expect((r as Rejection).reason).to.equal(reason);
}

/** Runs initiator → responder to completion; returns both results. */
function run(initiator: Handshake, responder: Handshake, iIndex = 0x1111, rIndex = 0x2222) {
  const init = initiator.createInitiation(iIndex);
  const consumed = responder.consumeInitiation(init);
  if (!consumed.ok) throw new Error(`initiation rejected: ${consumed.reason}`);
  expect(consumed.senderIndex).to.equal(iIndex);
  const { message, result: responderResult } = responder.createResponse(rIndex);
  const r = initiator.consumeResponse(message);
  if (!r.ok) throw new Error(`response rejected: ${r.reason}`);
  return { initiatorResult: r.result, responderResult, init, response: message };
}

function expectMatchingKeys(i: HandshakeResult, r: HandshakeResult, iIndex: number, rIndex: number): void {
  expect(hex(i.sendKey)).to.equal(hex(r.recvKey));
  expect(hex(i.recvKey)).to.equal(hex(r.sendKey));
  expect(hex(i.sendKey)).to.not.equal(hex(i.recvKey));
  expect(i.sendKey).to.have.length(32);
  expect(i.recvKey).to.have.length(32);
  expect(hex(i.handshakeHash)).to.equal(hex(r.handshakeHash));
  expect(i.handshakeHash).to.have.length(64);
  expect(i.isInitiator).to.equal(true);
  expect(r.isInitiator).to.equal(false);
  expect([i.localIndex, i.remoteIndex, r.localIndex, r.remoteIndex]).to.deep.equal([iIndex, rIndex, rIndex, iIndex]);
}

/** Recomputes mac1 after a test has altered a message, so the check behind it is reached. */
function remac(msg: Uint8Array, field: Field, receiverPublic: Uint8Array): Uint8Array {
  writeMac1(msg, field, mac1Key(receiverPublic));
  return msg;
}

describe('handshake', () => {
  let alice: Party;
  let bob: Party;
  let carol: Party;

  before(async () => {
    await initSodium();
    alice = party();
    bob = party();
    carol = party();
  });

  const pairOf = (psk: Uint8Array | null, pskB: Uint8Array | null = psk): [Handshake, Handshake] => [
    new Handshake({ staticPrivate: alice.priv, peerPublic: bob.pub, psk }),
    new Handshake({ staticPrivate: bob.priv, peerPublic: alice.pub, psk: pskB }),
  ];

  it('speaks Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b with prologue "sealtun v1"', () => {
    expect(PROTOCOL_NAME).to.equal('Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b');
    expect(Buffer.from(PROLOGUE).toString('ascii')).to.equal('sealtun v1');
  });

  it('message layouts are contiguous and of the documented sizes', () => {
    for (const [fields, size] of [
      [INITIATION, MESSAGE_INITIATION_BYTES],
      [RESPONSE, MESSAGE_RESPONSE_BYTES],
      [COOKIE_REPLY, MESSAGE_COOKIE_REPLY_BYTES],
    ] as const) {
      let at = 0;
      for (const f of Object.values(fields) as Field[]) {
        expect(f.offset).to.equal(at);
        at += f.length;
      }
      expect(at).to.equal(size);
    }
    expect([MESSAGE_INITIATION_BYTES, MESSAGE_RESPONSE_BYTES, MESSAGE_COOKIE_REPLY_BYTES]).to.deep.equal([152, 96, 64]);
    expect(INITIATION.mac1.offset).to.equal(120);
    expect(RESPONSE.mac1.offset).to.equal(64);
  });

  it('TAI64N: 2^62 + seconds, big-endian, then nanoseconds; byte order is time order', () => {
    const t = tai64n(1_700_000_000_123_456_789n);
    expect(hex(t)).to.equal('400000006553f100' + (123456789).toString(16).padStart(8, '0'));
    expect(compareTai64n(tai64n(1n), tai64n(2n))).to.be.lessThan(0);
    expect(compareTai64n(tai64n(1_000_000_000n), tai64n(999_999_999n))).to.be.greaterThan(0);
  });

  for (const withPsk of [false, true]) {
    describe(withPsk ? 'with a PSK' : 'without a PSK (32 zero bytes)', () => {
      let psk: Uint8Array | null;
      before(() => {
        psk = withPsk ? generatePresharedKey() : null;
      });

      it('alice initiates: both sides get matching keys', () => {
        const [a, b] = pairOf(psk);
        const { initiatorResult, responderResult, init, response } = run(a, b, 7, 9);
        expect(init).to.have.length(152);
        expect(response).to.have.length(96);
        expect(init[0]).to.equal(MESSAGE_INITIATION);
        expect(response[0]).to.equal(MESSAGE_RESPONSE);
        expect(hex(init.subarray(INITIATION.mac2.offset))).to.equal('00'.repeat(16));
        expect(hex(response.subarray(RESPONSE.mac2.offset))).to.equal('00'.repeat(16));
        expectMatchingKeys(initiatorResult, responderResult, 7, 9);
      });

      it('bob initiates: both sides get matching keys', () => {
        const [a, b] = pairOf(psk);
        const { initiatorResult, responderResult } = run(b, a, 0xffffffff, 0);
        expectMatchingKeys(initiatorResult, responderResult, 0xffffffff, 0);
      });

      it('the keys carry data packets both ways', async () => {
        const [a, b] = pairOf(psk);
        const { initiatorResult: i, responderResult: r } = run(a, b);
        const aead = (await availableAeads())[0]!;
        for (const [from, to] of [
          [i, r],
          [r, i],
        ] as const) {
          const sealer = new DataSealer(aead, from.sendKey, from.remoteIndex);
          const opener = new DataOpener(aead, to.recvKey);
          const buf = new Uint8Array(100 + DATA_OVERHEAD);
          buf.fill(0x42, 16, 116);
          expect(opener.open(buf, sealer.seal(buf, 100))).to.equal(100);
          expect(buf[50]).to.equal(0x42);
        }
      });

      it('every handshake gives fresh keys', () => {
        const [a, b] = pairOf(psk);
        const first = run(a, b);
        const second = run(a, b);
        expect(hex(first.initiatorResult.sendKey)).to.not.equal(hex(second.initiatorResult.sendKey));
        expect(hex(first.initiatorResult.handshakeHash)).to.not.equal(hex(second.initiatorResult.handshakeHash));
      });
    });
  }

  it('PSK on one side only, or two different PSKs: the response fails to decrypt', () => {
    for (const [pskA, pskB] of [
      [generatePresharedKey(), null],
      [null, generatePresharedKey()],
      [generatePresharedKey(), generatePresharedKey()],
    ] as const) {
      const [a, b] = pairOf(pskA, pskB);
      const init = a.createInitiation(1);
      expect(b.consumeInitiation(init).ok, 'psk2: the initiation does not depend on the PSK').to.equal(true);
      const { message } = b.createResponse(2);
      expectRejected(a.consumeResponse(message), 'decrypt-failed');
    }
  });

  it('each side learns the features the other announced, inside the authenticated payloads', () => {
    const a = new Handshake({ staticPrivate: alice.priv, peerPublic: bob.pub, features: FEATURE_VNET_HDR });
    const b = new Handshake({ staticPrivate: bob.priv, peerPublic: alice.pub, features: 0 });
    const accepted = b.consumeInitiation(a.createInitiation(1));
    expect(accepted.ok && accepted.peerFeatures).to.equal(FEATURE_VNET_HDR);
    const { message, result: bResult } = b.createResponse(2);
    expect(bResult.peerFeatures).to.equal(FEATURE_VNET_HDR);
    const r = a.consumeResponse(message);
    expect(r.ok && r.result.peerFeatures).to.equal(0);
  });

  it('initiator configured with the wrong responder public key: rejected at mac1', () => {
    const a = new Handshake({ staticPrivate: alice.priv, peerPublic: carol.pub });
    const [, b] = pairOf(null);
    expectRejected(b.consumeInitiation(a.createInitiation(1)), 'bad-mac1');
  });

  it('initiator with a static key the responder is not configured for: rejected as bad-static', () => {
    const c = new Handshake({ staticPrivate: carol.priv, peerPublic: bob.pub });
    const [, b] = pairOf(null);
    expectRejected(b.consumeInitiation(c.createInitiation(1)), 'bad-static');
    expect(() => b.createResponse(2), 'no state change').to.throw(HandshakeUsageError);
  });

  it('a replayed initiation is rejected, with no state change', () => {
    const [a, b] = pairOf(null);
    const init = a.createInitiation(1);
    expect(b.consumeInitiation(init).ok).to.equal(true);
    expectRejected(b.consumeInitiation(init), 'replayed-timestamp');
    // The pending response from the first, genuine consumption is untouched.
    const { message, result } = b.createResponse(2);
    const r = a.consumeResponse(message);
    expect(r.ok).to.equal(true);
    if (r.ok) expectMatchingKeys(r.result, result, 1, 2);
    expectRejected(b.consumeInitiation(init), 'replayed-timestamp');
  });

  it('a peer added again (a new PresharedKey) keeps refusing initiations its earlier self accepted', () => {
    const [a, b] = pairOf(null);
    const init = a.createInitiation(1);
    expect(b.consumeInitiation(init).ok).to.equal(true);
    // The tunnel removes the peer and adds it with another key, carrying the timestamp over (tunnel.ts formerTimestamps).
    const again = new Handshake({ staticPrivate: bob.priv, peerPublic: alice.pub, psk: new Uint8Array(32).fill(9), greatestTimestamp: b.newestTimestamp });
    expectRejected(again.consumeInitiation(init), 'replayed-timestamp');
    // Without it, the recorded initiation would open (IKpsk2 mixes the key in only at the response).
    const forgetful = new Handshake({ staticPrivate: bob.priv, peerPublic: alice.pub, psk: new Uint8Array(32).fill(9) });
    expect(forgetful.consumeInitiation(init).ok).to.equal(true);
    expect(again.consumeInitiation(a.createInitiation(2)).ok).to.equal(true);
  });

  it('an initiation older than the newest accepted is rejected; newer ones pass', () => {
    const [a, b] = pairOf(null);
    const a2 = new Handshake({ staticPrivate: alice.priv, peerPublic: bob.pub });
    const t = 1_700_000_000_000;
    const older = a2.createInitiation(1, t - 1000);
    expect(b.consumeInitiation(a.createInitiation(2, t)).ok).to.equal(true);
    expectRejected(b.consumeInitiation(older), 'replayed-timestamp');
    expect(b.consumeInitiation(a.createInitiation(3, t + 1)).ok).to.equal(true);
  });

  it('two initiations in the same clock tick still have increasing timestamps', () => {
    const [a, b] = pairOf(null);
    const t = 1_700_000_000_000;
    const first = a.createInitiation(1, t);
    const second = a.createInitiation(2, t);
    expect(b.consumeInitiation(first).ok).to.equal(true);
    expect(b.consumeInitiation(second).ok).to.equal(true);
  });

  it('a response with another receiver index, or with no initiation pending: unexpected-index', () => {
    const [a, b] = pairOf(null);
    b.consumeInitiation(a.createInitiation(5));
    const { message } = b.createResponse(6);
    const other = message.slice();
    new DataView(other.buffer).setUint32(RESPONSE.receiverIndex.offset, 6, true);
    expectRejected(a.consumeResponse(remac(other, RESPONSE.mac1, alice.pub)), 'unexpected-index');
    const [fresh] = pairOf(null);
    expectRejected(fresh.consumeResponse(message), 'unexpected-index');
    expect(a.consumeResponse(message).ok, 'the genuine one still completes').to.equal(true);
    expectRejected(a.consumeResponse(message), 'unexpected-index');
  });

  it('a forged response does not cancel the pending initiation', () => {
    const [a, b] = pairOf(generatePresharedKey());
    b.consumeInitiation(a.createInitiation(5));
    const { message } = b.createResponse(6);
    const forged = message.slice();
    forged[RESPONSE.encryptedFeatures.offset]! ^= 1;
    expectRejected(a.consumeResponse(remac(forged, RESPONSE.mac1, alice.pub)), 'decrypt-failed');
    expect(a.consumeResponse(message).ok).to.equal(true);
  });

  it('truncated, padded, mistyped and corrupted messages get typed rejections', () => {
    const [a, b] = pairOf(null);
    const init = a.createInitiation(1);
    for (const len of [0, 1, 4, 147, 149, 200]) {
      const m = new Uint8Array(len);
      m.set(init.subarray(0, Math.min(len, init.length)));
      expectRejected(b.consumeInitiation(m), 'bad-size');
      expectRejected(a.consumeResponse(m), 'bad-size');
    }
    const wrongType = init.slice();
    wrongType[0] = MESSAGE_RESPONSE;
    expectRejected(b.consumeInitiation(wrongType), 'bad-type');
    const reserved = init.slice();
    reserved[2] = 1;
    expectRejected(b.consumeInitiation(reserved), 'bad-type');
    const badMac = init.slice();
    badMac[INITIATION.mac1.offset + 3]! ^= 0x10;
    expectRejected(b.consumeInitiation(badMac), 'bad-mac1');
    const bodyFlip = init.slice();
    bodyFlip[INITIATION.encryptedStatic.offset]! ^= 1;
    expectRejected(b.consumeInitiation(bodyFlip), 'bad-mac1');
    expectRejected(b.consumeInitiation(remac(bodyFlip, INITIATION.mac1, bob.pub)), 'decrypt-failed');
    const timestampFlip = init.slice();
    timestampFlip[INITIATION.encryptedPayload.offset + 5]! ^= 1;
    expectRejected(b.consumeInitiation(remac(timestampFlip, INITIATION.mac1, bob.pub)), 'decrypt-failed');
    // A low-order ephemeral (all zeros): the DH result is zero and is refused.
    const lowOrder = init.slice();
    lowOrder.fill(0, INITIATION.unencryptedEphemeral.offset, INITIATION.unencryptedEphemeral.offset + 32);
    expectRejected(b.consumeInitiation(remac(lowOrder, INITIATION.mac1, bob.pub)), 'bad-dh');
    // After all that, the genuine initiation is still fresh.
    expect(b.consumeInitiation(init).ok).to.equal(true);
  });

  it('createResponse without a consumed initiation, or with a bad index, is a usage error', () => {
    const [a, b] = pairOf(null);
    expect(() => b.createResponse(1)).to.throw(HandshakeUsageError);
    expect(() => a.createInitiation(-1)).to.throw(HandshakeUsageError);
    expect(() => a.createInitiation(2 ** 32)).to.throw(HandshakeUsageError);
    expect(() => new Handshake({ staticPrivate: alice.priv, peerPublic: new Uint8Array(31) })).to.throw(HandshakeUsageError);
    expect(
      () => new Handshake({ staticPrivate: alice.priv, peerPublic: bob.pub, psk: new Uint8Array(16) }),
    ).to.throw(HandshakeUsageError);
  });

  it('a response can be created only once per initiation', () => {
    const [a, b] = pairOf(null);
    b.consumeInitiation(a.createInitiation(1));
    b.createResponse(2);
    expect(() => b.createResponse(3)).to.throw(HandshakeUsageError);
  });

  describe('property: random input never throws', () => {
    let a: Handshake;
    let b: Handshake;
    before(() => {
      [a, b] = pairOf(generatePresharedKey());
      // Give alice a pending initiation so consumeResponse gets past the index check.
      b.consumeInitiation(a.createInitiation(0x01020304));
    });

    it('arbitrary bytes to consumeInitiation and consumeResponse', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
          expect(b.consumeInitiation(bytes).ok).to.equal(false);
          expect(a.consumeResponse(bytes).ok).to.equal(false);
        }),
        { numRuns: 500 },
      );
    });

    it('right size and type, valid mac1, random body: rejected past mac1, never thrown', () => {
      fc.assert(
        fc.property(
          fc.uint8Array({ minLength: MESSAGE_INITIATION_BYTES, maxLength: MESSAGE_INITIATION_BYTES }),
          fc.uint8Array({ minLength: MESSAGE_RESPONSE_BYTES, maxLength: MESSAGE_RESPONSE_BYTES }),
          fc.boolean(),
          (init, resp, lowOrder) => {
            init.set([MESSAGE_INITIATION, 0, 0, 0]);
            resp.set([MESSAGE_RESPONSE, 0, 0, 0]);
            new DataView(resp.buffer).setUint32(RESPONSE.receiverIndex.offset, 0x01020304, true);
            if (lowOrder) {
              init.fill(0, 8, 40);
              resp.fill(0, 12, 44);
            }
            const ri = b.consumeInitiation(remac(init, INITIATION.mac1, bob.pub));
            expect(ri.ok).to.equal(false);
            expect(['decrypt-failed', 'bad-dh']).to.include((ri as Rejection).reason);
            const rr = a.consumeResponse(remac(resp, RESPONSE.mac1, alice.pub));
            expect(rr.ok).to.equal(false);
            expect(['decrypt-failed', 'bad-dh']).to.include((rr as Rejection).reason);
          },
        ),
        { numRuns: 200 },
      );
    });

    it('the pending handshake survives all of it', () => {
      const { message } = b.createResponse(0x0a0b0c0d);
      expect(a.consumeResponse(message).ok).to.equal(true);
    });
  });
});
