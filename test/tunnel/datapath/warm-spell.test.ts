// The keep-warm state of the data-path loops: when they tick, when they
// block, and that its throwaway packet never disturbs anything.
import { expect } from 'chai';
import { loadAead } from '../../../src/crypto/aead/select.js';
import type { Aead } from '../../../src/crypto/aead/aead.js';
import { createStats, RX, TX } from '../../../src/tunnel/stats.js';
import { runKeptWarm, TICK_MS, WarmSpell, WarmUpSteps, type SteppedLoop } from '../../../src/tunnel/datapath/warm-spell.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('warm spell (KeepWarm)', () => {
  let aead: Aead;
  before(async () => {
    aead = await loadAead();
  });

  it('blocks until the first traffic, ticks while it is recent, blocks again after the linger time', async () => {
    const stats = createStats().f64;
    const warm = new WarmSpell(aead, 30, stats);
    expect(warm.timeout()).to.equal(-1);
    stats[RX.packets]!++;
    warm.renew();
    expect(warm.timeout()).to.equal(TICK_MS);
    await sleep(60);
    expect(warm.timeout()).to.equal(-1);
    stats[TX.packets]!++;
    warm.renew();
    expect(warm.timeout()).to.equal(TICK_MS);
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
    stats[RX.packets]!++;
    warm.renew();
    expect(warm.timeout()).to.equal(-1);
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
        if (timeouts.length === 2) stats.f64[RX.packets]!++; // traffic in the second turn
        return timeouts.length < 4;
      },
    };
    runKeptWarm(aead, { keepWarmMs: 10_000, stats: stats.sab }, loop);
    expect(timeouts).to.deep.equal([-1, -1, TICK_MS, TICK_MS]);
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
