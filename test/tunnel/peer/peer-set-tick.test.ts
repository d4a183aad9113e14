// The interface's tick that drives every peer's timers (peer-set.ts): every
// TIMERS.idleTickMs while no handshake is outstanding, every TIMERS.tickMs
// while one is (its retransmission is due within a fraction of a second).
// Each tick wakes the main thread; 4 a second were a third of what light
// traffic cost both daemons (docs/performance.md).
import { expect } from 'chai';
import { Writable } from 'node:stream';
import { initSodium } from '../../../src/crypto/sodium.js';
import { createLogger } from '../../../src/log.js';
import { localIdentity } from '../../../src/tunnel/peer/handshake.js';
import { PeerSet } from '../../../src/tunnel/peer/peer-set.js';
import type { Peer } from '../../../src/tunnel/peer/peer.js';
import { createStats } from '../../../src/tunnel/stats.js';
import { TIMERS } from '../../../src/tunnel/timers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('peer timers: the interface tick (peer-set.ts)', () => {
  it('ticks every idleTickMs with no handshake outstanding, every tickMs while one is', async function () {
    this.timeout(20_000);
    await initSodium();
    expect(TIMERS.idleTickMs).to.be.greaterThan(TIMERS.tickMs);
    const ticks: number[] = [];
    const stub = { awaitingHandshake: false, slot: 0, onTick: () => ticks.push(performance.now()), stop: () => undefined };
    const quiet = new Writable({ write: (_c, _e, cb) => cb() });
    const set = new PeerSet(localIdentity(new Uint8Array(32).fill(7)), { sourceOf: () => null, reply: () => undefined }, createStats(), createLogger('test', 'error', quiet));
    set.add('stub', stub as unknown as Peer);
    try {
      // The first tick was scheduled before the peer came: idle length.
      await sleep(TIMERS.idleTickMs * 2.5);
      const idle = ticks.length;
      expect(idle, `ticks in ${TIMERS.idleTickMs * 2.5} ms idle`).to.be.within(1, 2);
      stub.awaitingHandshake = true;
      // The tick already scheduled keeps its idle length; the ones after it are short.
      await sleep(TIMERS.idleTickMs + TIMERS.tickMs * 6.5);
      const gaps = ticks.slice(idle + 1).map((t, i) => t - ticks[idle + i]!);
      expect(gaps.length, `gaps ${gaps.map((g) => g.toFixed(0)).join(', ')}`).to.be.at.least(3);
      for (const g of gaps) expect(g).to.be.below(TIMERS.tickMs * 2);
    } finally {
      set.stop();
    }
    const after = ticks.length;
    await sleep(TIMERS.tickMs * 3);
    expect(ticks.length, 'no tick after stop').to.equal(after);
  });
});
