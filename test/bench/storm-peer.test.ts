// A storm peer (bench/storm-peer.ts) against a responder made of the
// project's own responder-side code on loopback: one that is "under load"
// (answers the first initiation with a cookie reply and takes only an
// initiation whose mac2 carries that cookie), then answers the echo request
// under the new session. Proves the generator's cookie path, which a real
// storm only takes when the server is busy, and its data messages.
import { expect } from 'chai';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { loadAead } from '../../src/crypto/aead/select.js';
import { TAG_BYTES } from '../../src/crypto/aead/aead.js';
import { DATA_HEADER_BYTES, DataOpener, DataSealer } from '../../src/crypto/data-packet.js';
import { decodeKey } from '../../src/crypto/keys.js';
import { initSodium } from '../../src/crypto/sodium.js';
import { AF_INET } from '../../src/sys/libc.js';
import { CookieChecker, sourceBytes } from '../../src/tunnel/peer/cookie.js';
import { Handshake } from '../../src/tunnel/peer/handshake.js';
import { INITIATION, MESSAGE_DATA, MESSAGE_INITIATION } from '../../src/tunnel/messages.js';
import { keyPair } from '../../bench/peers-config.js';
import { newCounters, StormPeer, type PeerTiming } from '../../bench/storm-peer.js';

function bound(): Promise<Socket> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.bind(0, '127.0.0.1', () => resolve(s));
  });
}

/** The raw sockaddr_in a responder's cookie is bound to. */
function sockaddr(from: RemoteInfo): Uint8Array {
  const sa = new Uint8Array(16);
  sa[0] = AF_INET;
  sa[2] = from.port >>> 8;
  sa[3] = from.port & 0xff;
  sa.set(from.address.split('.').map(Number), 4);
  return sa;
}

describe('bench-peers: a storm peer against an under-load responder', () => {
  it('takes the cookie reply, initiates again with mac2, completes the handshake and gets its echo answered', async () => {
    await initSodium();
    const aead = await loadAead();
    const server = await keyPair();
    const peer = await keyPair();
    const responder = new Handshake({ staticPrivate: decodeKey(server.privateKey, 't', 'private key'), peerPublic: decodeKey(peer.publicKey, 't', 'public key') });
    const cookies = new CookieChecker(decodeKey(server.publicKey, 't', 'public key'));
    const srv = await bound();
    const cli = await bound();
    let session: { sealer: DataSealer; opener: DataOpener } | null = null;
    const seen = { initiations: 0, withCookie: 0, keepalives: 0 };
    srv.on('message', (msg, from) => {
      const reply = (m: Uint8Array): void => void srv.send(m, from.port, from.address);
      if (msg[0] === MESSAGE_INITIATION) {
        seen.initiations++;
        const source = sourceBytes(sockaddr(from))!;
        if (cookies.validate(msg, INITIATION, source, true) !== 'valid-mac-with-cookie') {
          return reply(cookies.createReply(msg, INITIATION, msg.readUInt32LE(INITIATION.senderIndex.offset), source));
        }
        seen.withCookie++;
        expect(responder.consumeInitiation(msg).ok).to.equal(true);
        const { message, result } = responder.createResponse(7);
        session = { sealer: new DataSealer(aead, result.sendKey, result.remoteIndex), opener: new DataOpener(aead, result.recvKey) };
        return reply(message);
      }
      if (msg[0] !== MESSAGE_DATA || !session) return;
      const n = session.opener.open(msg, msg.length);
      if (n === 0) seen.keepalives++;
      if (n <= 0) return;
      // The echo request back as a reply: type 0 (the peer checks type and identifier).
      const packet = Uint8Array.from(msg.subarray(DATA_HEADER_BYTES, DATA_HEADER_BYTES + n));
      packet[20] = 0;
      const buf = new Uint8Array(DATA_HEADER_BYTES + n + TAG_BYTES);
      buf.set(packet, DATA_HEADER_BYTES);
      reply(buf.subarray(0, session.sealer.seal(buf, n)));
    });
    const counters = newCounters();
    let settled = 0;
    const srvPort = srv.address().port;
    try {
      const timing = await new Promise<PeerTiming>((resolve) => {
        const server_ = { host: '127.0.0.1', port: srvPort, publicKey: server.publicKey, inner: '10.80.0.1' };
        const events = { handshakeSettled: () => settled++, done: resolve };
        new StormPeer(peer.privateKey, '10.80.0.2', server_, cli, aead, counters, { attemptMs: 5000, attempts: 3 }, events).start();
      });
      expect(timing.outcome).to.equal('echoed');
      expect(settled, 'handshake settled once').to.equal(1);
      expect(seen).to.deep.equal({ initiations: 2, withCookie: 1, keepalives: 1 });
      expect(counters).to.include({ initiations: 2, cookieReplies: 1, retries: 0, handshakes: 1, keepalives: 1, echoReplies: 1 });
      expect(counters.rejected).to.deep.equal({});
    } finally {
      srv.close();
      cli.close();
    }
  });
});
