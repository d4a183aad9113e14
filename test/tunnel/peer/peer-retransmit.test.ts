// The initiator's retransmissions (peer.ts) against a link whose Endpoint
// keeps "moving" (round-robin DNS as it was once treated, or an address
// learned and then left): the attempt still ends after Rekey-Attempt-Time.
// Driven tick by tick on a stand-in clock, with stand-ins for the link,
// the workers and the Noise handshake.
import { expect } from 'chai';
import { initSodium } from '../../../src/crypto/sodium.js';
import { generatePrivateKey, publicKeyOf } from '../../../src/crypto/keys.js';
import type { Datapath } from '../../../src/tunnel/datapath/datapath.js';
import type { Handshake } from '../../../src/tunnel/peer/handshake.js';
import type { Link } from '../../../src/tunnel/link/link.js';
import type { Logger } from '../../../src/log.js';
import { MESSAGE_INITIATION_BYTES } from '../../../src/tunnel/messages.js';
import { Peer } from '../../../src/tunnel/peer/peer.js';
import { createPeerStats, peerCounters } from '../../../src/tunnel/stats.js';
import { TIMERS } from '../../../src/tunnel/timers.js';

describe('handshake retransmission (peer.ts)', () => {
  const realNow = Date.now;
  before(async () => {
    await initSodium();
  });
  after(() => {
    Date.now = realNow;
  });

  it('gives up after Rekey-Attempt-Time even when every re-resolution moves the endpoint', async () => {
    let now = realNow();
    Date.now = () => now;
    let sent = 0;
    let moves = 0;
    const link = {
      on() {
        return link;
      },
      canSend: () => true,
      send: () => void sent++,
      reresolve: async () => {
        moves++;
        return true; // somewhere else each time
      },
    } as unknown as Link;
    const handshake = {
      localPublic: publicKeyOf(generatePrivateKey()),
      createInitiation: () => new Uint8Array(MESSAGE_INITIATION_BYTES),
      abandon() {},
      destroy() {},
    } as unknown as Handshake;
    const datapath = { toRx() {}, toTx() {} } as unknown as Datapath;
    const warnings: string[] = [];
    const log: Logger = { error() {}, warn: (m) => warnings.push(m), info() {}, debug() {} };
    const host = { newIndex: () => 1, dropIndex() {}, dropHandshake() {} };
    const peer = new Peer(0, handshake, link, datapath, peerCounters(createPeerStats()), host, { initiates: true, peerPublic: publicKeyOf(generatePrivateKey()), persistentKeepalive: 0 }, log);
    const tick = () => peer.onTick(now);
    const t0 = now;
    peer.needHandshake();
    let gaveUpAt: number | null = null;
    while (now - t0 < 3 * TIMERS.rekeyAttemptMs && gaveUpAt === null) {
      now += TIMERS.tickMs;
      tick();
      await new Promise((r) => setImmediate(r)); // the re-resolution's answer, and the handshake it starts
      if (warnings.some((w) => w.includes('giving up'))) gaveUpAt = now - t0;
    }
    process.stderr.write(`      (${sent} initiations, ${moves} endpoint moves; ${gaveUpAt === null ? `no give-up in ${now - t0} ms` : `gave up after ${gaveUpAt} ms`} of stand-in time, Rekey-Attempt-Time ${TIMERS.rekeyAttemptMs} ms)\n`);
    expect(gaveUpAt, 'gave up').to.not.equal(null);
    expect(gaveUpAt!).to.be.at.most(TIMERS.rekeyAttemptMs + TIMERS.rekeyTimeoutMs + TIMERS.rekeyJitterMs);
    peer.stop();
  });
});
