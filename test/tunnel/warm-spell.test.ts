// The keep-warm state of the data-path loops: when they tick, when they
// block, and that its throwaway packet never disturbs anything.
import { expect } from 'chai';
import { loadAead } from '../../src/crypto/aead/select.js';
import type { Aead } from '../../src/crypto/aead/aead.js';
import { createStats, RX, TX } from '../../src/tunnel/stats.js';
import { TICK_MS, WarmSpell } from '../../src/tunnel/warm-spell.js';

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
});
