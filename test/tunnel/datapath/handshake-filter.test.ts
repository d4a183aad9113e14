// The receive worker's filter on handshake messages (handshake-filter.ts),
// with the keyed hash of every AEAD backend that loads here: it must pass
// exactly what the main thread's checks (handshake.ts) would pass on size
// and mac1, so it never drops a real message and never queues a keyless one.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { availableAeads } from '../../../src/crypto/aead/select.js';
import { keyedHashFor } from '../../../src/crypto/keyed-hash.js';
import { generatePrivateKey, publicKeyOf } from '../../../src/crypto/keys.js';
import { initSodium } from '../../../src/crypto/sodium.js';
import { Handshake } from '../../../src/tunnel/peer/handshake.js';
import { HandshakeFilter } from '../../../src/tunnel/datapath/handshake-filter.js';
import {
  COOKIE_REPLY,
  INITIATION,
  MESSAGE_COOKIE_REPLY,
  MESSAGE_COOKIE_REPLY_BYTES,
  MESSAGE_INITIATION,
  MESSAGE_RESPONSE,
  MESSAGE_RESPONSE_BYTES,
  RESPONSE,
  mac1Key,
} from '../../../src/tunnel/messages.js';

await initSodium();
const aeads = await availableAeads();

describe('handshake filter (receive worker)', () => {
  const a = generatePrivateKey();
  const b = generatePrivateKey();
  const toB = new HandshakeFilter(mac1Key(publicKeyOf(b)), keyedHashFor(aeads[0]!));

  for (const aead of aeads) {
    describe(`keyed hash from ${aead.name}`, () => {
      const filterB = new HandshakeFilter(mac1Key(publicKeyOf(b)), keyedHashFor(aead));
      const filterA = new HandshakeFilter(mac1Key(publicKeyOf(a)), keyedHashFor(aead));

      it('passes a real initiation and response, in a batch slot larger than the message', () => {
        const ia = new Handshake({ staticPrivate: a, peerPublic: publicKeyOf(b) });
        const rb = new Handshake({ staticPrivate: b, peerPublic: publicKeyOf(a) });
        const init = ia.createInitiation(7);
        const slot = Buffer.alloc(1500);
        slot.set(init);
        expect(filterB.check(slot, init.length)).to.equal('ok');
        expect(rb.consumeInitiation(init).ok).to.equal(true);
        const { message } = rb.createResponse(9);
        expect(filterA.check(message, message.length)).to.equal('ok');
        // Addressed to the other side: its mac1 is keyed to another public key.
        expect(filterB.check(message, message.length)).to.equal('bad-mac1');
        expect(filterA.check(init, init.length)).to.equal('bad-mac1');
      });

      it('refuses any change to the bytes mac1 covers, and to mac1 itself', () => {
        const init = new Handshake({ staticPrivate: a, peerPublic: publicKeyOf(b) }).createInitiation(1);
        for (const at of [0 + 1, INITIATION.senderIndex.offset, INITIATION.mac1.offset - 1, INITIATION.mac1.offset, INITIATION.mac1.offset + 15]) {
          const m = Uint8Array.from(init);
          m[at]! ^= 0x40;
          expect(filterB.check(m, m.length), `byte ${at} flipped`).to.equal('bad-mac1');
        }
        // mac2 is not the filter's business (the main thread checks cookies under load).
        const m = Uint8Array.from(init);
        m[INITIATION.mac2.offset]! ^= 1;
        expect(filterB.check(m, m.length)).to.equal('ok');
      });
    });
  }

  it('refuses random initiations and responses (no key) as bad-mac1, wrong sizes as bad-size', () => {
    for (let i = 0; i < 200; i++) {
      const init = randomBytes(INITIATION.mac2.offset + 16);
      init[0] = MESSAGE_INITIATION;
      expect(toB.check(init, init.length)).to.equal('bad-mac1');
      const resp = randomBytes(MESSAGE_RESPONSE_BYTES);
      resp[0] = MESSAGE_RESPONSE;
      expect(toB.check(resp, resp.length)).to.equal('bad-mac1');
    }
    const big = Buffer.alloc(1500);
    for (const [type, good] of [
      [MESSAGE_INITIATION, INITIATION.mac2.offset + 16],
      [MESSAGE_RESPONSE, RESPONSE.mac2.offset + 16],
      [MESSAGE_COOKIE_REPLY, MESSAGE_COOKIE_REPLY_BYTES],
    ] as const) {
      big[0] = type;
      for (const len of [4, good - 1, good + 1, 1500]) expect(toB.check(big, len), `type ${type} length ${len}`).to.equal('bad-size');
    }
  });

  it('passes one cookie reply to the latest handshake message sent (its receiver index), and no other', () => {
    const filter = new HandshakeFilter(mac1Key(publicKeyOf(b)), keyedHashFor(aeads[0]!));
    const reply = (receiverIndex: number) => {
      const m = randomBytes(MESSAGE_COOKIE_REPLY_BYTES);
      m[0] = MESSAGE_COOKIE_REPLY;
      m[1] = m[2] = m[3] = 0;
      m.writeUInt32LE(receiverIndex, COOKIE_REPLY.receiverIndex.offset);
      return m;
    };
    // Nothing sent yet: no reply is expected, whatever its index.
    expect(filter.check(reply(0), MESSAGE_COOKIE_REPLY_BYTES)).to.equal('cookie-unexpected');
    let refused = 0;
    for (let i = 0; i < 1000; i++) if (filter.check(reply(randomBytes(4).readUInt32LE(0)), MESSAGE_COOKIE_REPLY_BYTES) !== 'ok') refused++;
    expect(refused).to.equal(1000);
    filter.expectCookieReply(0, 0xfedcba98);
    filter.expectCookieReply(0, 0x89abcdef);
    // Only the latest message's index (the main thread's CookieJar keeps only that one's mac1).
    expect(filter.check(reply(0xfedcba98), MESSAGE_COOKIE_REPLY_BYTES)).to.equal('cookie-unexpected');
    expect(filter.check(reply(0x89abcdef), MESSAGE_COOKIE_REPLY_BYTES)).to.equal('ok');
    // One reply per message: a second (a replay, or a flood that saw the index) waits for the next message.
    expect(filter.check(reply(0x89abcdef), MESSAGE_COOKIE_REPLY_BYTES)).to.equal('cookie-unexpected');
    filter.expectCookieReply(0, 0x89abcdef);
    expect(filter.check(reply(0x89abcdef), MESSAGE_COOKIE_REPLY_BYTES)).to.equal('ok');
  });
});
