// The keep-warm state of the data-path loops: when they tick, when they
// block, and that its throwaway packet never disturbs anything.
import { expect } from 'chai';
import { loadAead } from '../../../src/crypto/aead/select.js';
import type { Aead } from '../../../src/crypto/aead/aead.js';
import { createStats, RX, TX } from '../../../src/tunnel/stats.js';
import { QUIET_MS, runKeptWarm, TICK_MS, WarmSpell, WarmUpSteps, type SteppedLoop } from '../../../src/tunnel/datapath/warm-spell.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('warm spell (KeepWarm)', () => {
  let aead: Aead;
  before(async () => {
    aead = await loadAead();
  });

  it('ticks once traffic comes back within the linger time, while it keeps coming, and blocks after the linger time', () => {
    const stats = createStats().f64;
    const warm = new WarmSpell(aead, 30, stats);
    expect(warm.timeout()).to.equal(-1);
    stats[RX.packets]!++;
    warm.renew(1000);
    expect(warm.timeout(1000), 'a first packet: nothing says more will come soon').to.equal(-1);
    stats[RX.packets]!++;
    warm.renew(1010);
    expect(warm.timeout(1010), 'back after 10 ms, within 30').to.equal(TICK_MS);
    stats[RX.packets]!++;
    warm.renew(1011);
    expect(warm.timeout(1040), 'a packet within the spell extends it').to.equal(TICK_MS);
    expect(warm.timeout(1042)).to.equal(-1);
    stats[TX.packets]!++;
    warm.renew(1100);
    expect(warm.timeout(1100), 'out after a pause longer than the linger time').to.equal(-1);
    warm.destroy();
  });

  it('starts no spell for traffic sparser than the linger time (a keystroke every 200 ms), however long it goes on', () => {
    const stats = createStats().f64;
    const warm = new WarmSpell(aead, 50, stats);
    let ticking = 0;
    for (let t = 1000; t < 21_000; t += 200) {
      // One exchange: our packet out, the reply in 0.3 ms later.
      stats[TX.packets]!++;
      warm.renew(t);
      if (warm.timeout(t + 0.1) !== -1) ticking++;
      stats[RX.packets]!++;
      warm.renew(t + 0.3);
      if (warm.timeout(t + 1) !== -1) ticking++;
    }
    expect(ticking).to.equal(0);
    warm.destroy();
  });

  it('bridges the pauses of a stream that comes back within the linger time (a ping every 20 ms) from its second burst on', () => {
    const stats = createStats().f64;
    const warm = new WarmSpell(aead, 50, stats);
    const warmAtArrival: boolean[] = [];
    for (let t = 1000; t < 2000; t += 20) {
      warmAtArrival.push(warm.timeout(t - 0.01) === TICK_MS);
      stats[TX.packets]!++;
      warm.renew(t);
      stats[RX.packets]!++;
      warm.renew(t + 0.3);
    }
    expect(warmAtArrival.slice(0, 2)).to.deep.equal([false, false]);
    expect(warmAtArrival.slice(2).every(Boolean)).to.equal(true);
    expect(warm.timeout(1980 + 0.3 + 49)).to.equal(TICK_MS);
    expect(warm.timeout(1980 + 0.3 + 51), 'the linger time after the last packet').to.equal(-1);
    warm.destroy();
  });

  it('takes packets closer than QUIET_MS for one burst, not for traffic coming back', () => {
    const stats = createStats().f64;
    const warm = new WarmSpell(aead, 50, stats);
    for (let i = 0; i < 10; i++) {
      stats[RX.packets]!++;
      warm.renew(1000 + i * (QUIET_MS / 3));
    }
    expect(warm.timeout(1000 + 10 * (QUIET_MS / 3))).to.equal(-1);
    warm.destroy();
  });

  it('does not count wake-ups without traffic (garbage, handshakes, control messages)', async () => {
    const stats = createStats().f64;
    const warm = new WarmSpell(aead, 30, stats);
    stats[RX.dropForged]! += 5;
    warm.renew();
    expect(warm.timeout(), 'nothing authenticated yet').to.equal(-1);
    stats[RX.packets]!++;
    warm.renew();
    await sleep(10);
    stats[RX.dropForged]! += 5;
    warm.renew();
    expect(warm.timeout(), 'garbage 10 ms after a packet is not traffic coming back').to.equal(-1);
    stats[RX.packets]!++;
    warm.renew();
    await sleep(60);
    // Wake-ups that moved no packet do not extend the spell.
    stats[RX.dropUnknownType]!++;
    warm.renew();
    expect(warm.timeout()).to.equal(-1);
    warm.destroy();
  });

  it('never ticks when KeepWarm is off', () => {
    const stats = createStats().f64;
    const warm = new WarmSpell(aead, 0, stats);
    for (let t = 1000; t < 1100; t += 5) {
      stats[RX.packets]!++;
      warm.renew(t);
      expect(warm.timeout(t)).to.equal(-1);
    }
    warm.destroy();
  });

  it('seals and opens its throwaway packet again and again with fresh counters', () => {
    const warm = new WarmSpell(aead, 1000, createStats().f64);
    let opened = 0;
    for (let i = 0; i < 2000; i++) if (warm.exercise()) opened++;
    expect(opened).to.equal(2000);
    // The spell warmed itself up with 3000 before.
    const sealer = (warm as unknown as { sealer: { counter: number } }).sealer;
    expect(sealer.counter).to.equal(5000);
    warm.destroy();
    expect(() => warm.exercise()).to.throw(/destroy/);
  });

  it('runKeptWarm steps a loop with a tick only while traffic is recent, until a step says stop', () => {
    const stats = createStats();
    const timeouts: number[] = [];
    const loop: SteppedLoop = {
      step(timeoutMs, warm) {
        timeouts.push(timeoutMs);
        expect(warm).to.be.instanceOf(WarmSpell);
        // Traffic in the second turn, and back QUIET_MS later in the third.
        if (timeouts.length === 2) stats.f64[RX.packets]!++;
        if (timeouts.length === 3) {
          const until = performance.now() + QUIET_MS + 1;
          while (performance.now() < until);
          stats.f64[RX.packets]!++;
        }
        return timeouts.length < 4;
      },
    };
    runKeptWarm(aead, { keepWarmMs: 10_000, stats: stats.sab }, loop);
    expect(timeouts).to.deep.equal([-1, -1, -1, TICK_MS]);
  });

  it('warm-up steps never wait, renew their own spell and tick on request', () => {
    const stats = createStats();
    const timeouts: number[] = [];
    let spell: WarmSpell | undefined;
    const loop: SteppedLoop = {
      step(timeoutMs, warm) {
        timeouts.push(timeoutMs);
        spell = warm;
        stats.f64[TX.packets]!++;
        return true;
      },
    };
    const steps = new WarmUpSteps(loop, aead, { keepWarmMs: 1000, stats: stats.sab });
    expect(steps.step()).to.equal(true);
    steps.ticks(3);
    expect(timeouts).to.deep.equal([0, 0, 0, 0]);
    expect(spell!.timeout(), 'its spell saw the traffic').to.equal(TICK_MS);
    steps.destroy();
    expect(() => spell!.exercise()).to.throw(/destroy/);
    // With KeepWarm off the real loop never ticks, so neither does its warm-up.
    const off = new WarmUpSteps(loop, aead, { keepWarmMs: 0, stats: stats.sab });
    off.ticks(3);
    expect(timeouts).to.have.length(4);
    off.destroy();
  });
});
