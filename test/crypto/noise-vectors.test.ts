// Noise_IK and Noise_IKpsk2 (25519, ChaChaPoly, BLAKE2b) against the cacophony
// vectors: every handshake and transport message byte for byte, and the handshake hash.
import { expect } from 'chai';
import { initSodium } from '../../src/crypto/sodium.js';
import type { CipherState } from '../../src/crypto/noise/cipher-state.js';
import { HandshakeState, protocolName } from '../../src/crypto/noise/handshake-state.js';
import { IK, IKpsk2, withPsk, type HandshakePattern } from '../../src/crypto/noise/patterns.js';
import { NoiseError, keypairFromPrivate } from '../../src/crypto/noise/primitives.js';
import { fromHex, loadVectors, toHex } from './vectors.js';

interface NoiseVector {
  protocol_name: string;
  init_prologue: string;
  init_psks?: string[];
  init_static: string;
  init_ephemeral: string;
  init_remote_static: string;
  resp_prologue: string;
  resp_psks?: string[];
  resp_static: string;
  resp_ephemeral: string;
  handshake_hash: string;
  messages: { payload: string; ciphertext: string }[];
}

const PATTERNS: Record<string, HandshakePattern> = { IK, IKpsk2 };

function patternFor(name: string): HandshakePattern {
  const patternName = name.split('_')[1]!;
  const pattern = PATTERNS[patternName];
  if (!pattern) throw new Error(`no pattern ${patternName}`);
  return pattern;
}

function psk(list: string[] | undefined): Uint8Array | undefined {
  if (list === undefined) return undefined;
  expect(list).to.have.length(1);
  return fromHex(list[0]!);
}

function startPair(v: NoiseVector): { initiator: HandshakeState; responder: HandshakeState } {
  const pattern = patternFor(v.protocol_name);
  const initPsk = psk(v.init_psks);
  const respPsk = psk(v.resp_psks);
  const initiator = HandshakeState.initialize({
    pattern,
    initiator: true,
    prologue: fromHex(v.init_prologue),
    s: keypairFromPrivate(fromHex(v.init_static)),
    rs: fromHex(v.init_remote_static),
    fixedEphemeral: keypairFromPrivate(fromHex(v.init_ephemeral)),
    ...(initPsk ? { psk: initPsk } : {}),
  });
  const responder = HandshakeState.initialize({
    pattern,
    initiator: false,
    prologue: fromHex(v.resp_prologue),
    s: keypairFromPrivate(fromHex(v.resp_static)),
    fixedEphemeral: keypairFromPrivate(fromHex(v.resp_ephemeral)),
    ...(respPsk ? { psk: respPsk } : {}),
  });
  return { initiator, responder };
}

for (const file of ['noise-IK.json', 'noise-IKpsk2.json']) {
  describe(`Noise vectors: ${file}`, () => {
    const { vectors } = loadVectors<{ vectors: NoiseVector[] }>(file);

    before(async () => {
      await initSodium();
    });

    it('has vectors', () => {
      expect(vectors.length).to.be.greaterThan(0);
    });

    vectors.forEach((v, n) => {
      describe(`${v.protocol_name} #${n}`, () => {
        // Filled in message by message: each `it` continues where the previous one stopped.
        let initiator: HandshakeState;
        let responder: HandshakeState;
        let initSplit: [CipherState, CipherState] | null = null;
        let respSplit: [CipherState, CipherState] | null = null;

        before(() => {
          ({ initiator, responder } = startPair(v));
        });

        it('protocol name matches the pattern', () => {
          expect(protocolName(patternFor(v.protocol_name))).to.equal(v.protocol_name);
        });

        v.messages.forEach((m, i) => {
          const fromInitiator = i % 2 === 0;
          const handshake = i < 2;
          it(`message ${i} (${handshake ? 'handshake' : 'transport'}, ${fromInitiator ? 'initiator→responder' : 'responder→initiator'})`, () => {
            const payload = fromHex(m.payload);
            if (handshake) {
              const [writer, reader] = fromInitiator ? [initiator, responder] : [responder, initiator];
              const written = writer.writeMessage(payload);
              expect(toHex(written.value)).to.equal(m.ciphertext);
              const read = reader.readMessage(fromHex(m.ciphertext));
              expect(toHex(read.value)).to.equal(m.payload);
              if (i === 1) {
                [initSplit, respSplit] = fromInitiator ? [written.split, read.split] : [read.split, written.split];
                expect(initSplit).to.not.equal(null);
                expect(respSplit).to.not.equal(null);
              } else {
                expect(written.split).to.equal(null);
                expect(read.split).to.equal(null);
              }
            } else {
              // Transport: c1 carries initiator→responder, c2 responder→initiator (§5.2 Split).
              const dir = fromInitiator ? 0 : 1;
              const sender = (fromInitiator ? initSplit : respSplit)![dir];
              const receiver = (fromInitiator ? respSplit : initSplit)![dir];
              const ct = sender.encryptWithAd(new Uint8Array(0), payload);
              expect(toHex(ct)).to.equal(m.ciphertext);
              expect(toHex(receiver.decryptWithAd(new Uint8Array(0), fromHex(m.ciphertext)))).to.equal(m.payload);
            }
          });
        });

        it('handshake hash matches on both sides', () => {
          expect(toHex(initiator.getHandshakeHash())).to.equal(v.handshake_hash);
          expect(toHex(responder.getHandshakeHash())).to.equal(v.handshake_hash);
        });

        it('a flipped bit in message 0 fails with decrypt-failed, and a clone survives it', () => {
          const fresh = startPair(v);
          const msg = fresh.initiator.writeMessage(fromHex(v.messages[0]!.payload)).value;
          const forged = msg.slice();
          forged[forged.length - 1]! ^= 1;
          const trial = fresh.responder.clone();
          expect(() => trial.readMessage(forged))
            .to.throw(NoiseError)
            .with.property('reason', 'decrypt-failed');
          expect(toHex(fresh.responder.readMessage(msg).value)).to.equal(v.messages[0]!.payload);
        });
      });
    });
  });
}

describe('Noise patterns', () => {
  it('IKpsk2 is IK with psk at the end of the second message (§9.2)', () => {
    expect(IKpsk2.name).to.equal('IKpsk2');
    expect(IKpsk2.messages).to.deep.equal([
      ['e', 'es', 's', 'ss'],
      ['e', 'ee', 'se', 'psk'],
    ]);
    expect(IKpsk2.responderPreMessage).to.deep.equal(['s']);
    expect(IKpsk2.hasPskModifier).to.equal(true);
    expect(IK.hasPskModifier).to.equal(false);
  });

  it('psk0 goes first in the first message', () => {
    expect(withPsk(IK, 0).messages[0]).to.deep.equal(['psk', 'e', 'es', 's', 'ss']);
  });

  it('a message written out of turn is refused', async () => {
    await initSodium();
    const { vectors } = loadVectors<{ vectors: NoiseVector[] }>('noise-IK.json');
    const { responder } = startPair(vectors[0]!);
    expect(() => responder.writeMessage(new Uint8Array(0)))
      .to.throw(NoiseError)
      .with.property('reason', 'wrong-turn');
  });
});
