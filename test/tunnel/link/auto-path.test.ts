import { expect } from 'chai';
import { AutoPath } from '../../../src/tunnel/link/auto-path.js';

const FALLBACK = 5000;
const ANSWER = 2000;
const PROBE = 30_000;
const fresh = () => new AutoPath({ fallbackMs: FALLBACK, answerMs: ANSWER, probeMs: PROBE });

/** An AutoPath that has just fallen back to TCP at time `at`. */
function onTcp(at = 10_000): AutoPath {
  const p = fresh();
  p.initiationSent(at - FALLBACK - ANSWER);
  p.initiationSent(at - ANSWER);
  expect(p.tick(at)).to.equal('fall-back');
  return p;
}

describe('Transport = auto: path decisions', () => {
  it('starts on UDP and stays there while nothing has been sent', () => {
    const p = fresh();
    expect(p.path).to.equal('udp');
    expect(p.tick(0)).to.equal(null);
    expect(p.tick(1e9)).to.equal(null);
    expect(p.path).to.equal('udp');
  });

  it('falls back only once an initiation and its retransmission went unanswered, each with time to be answered', () => {
    const p = fresh();
    expect(p.initiationSent(100)).to.equal('udp');
    // One lost initiation is not a blocked UDP, however long ago it went.
    expect(p.tick(100 + 10 * FALLBACK)).to.equal(null);
    const retry = 100 + FALLBACK + 300;
    expect(p.initiationSent(retry)).to.equal('udp'); // a retransmission does not restart the wait
    expect(p.tick(retry + ANSWER - 1)).to.equal(null); // its answer may still come
    expect(p.tick(retry + ANSWER)).to.equal('fall-back');
    expect(p.path).to.equal('tcp');
    expect(p.tick(retry + ANSWER + 1)).to.equal(null); // once
  });

  it('does not fall back before fallbackMs since the first initiation, however fast the retries', () => {
    const p = fresh();
    p.initiationSent(0);
    p.initiationSent(100);
    expect(p.tick(FALLBACK - 1)).to.equal(null);
    expect(p.tick(FALLBACK)).to.equal('fall-back');
  });

  it('anything authenticated heard over UDP (a cookie reply, data) starts the wait over', () => {
    const p = fresh();
    p.initiationSent(0);
    p.initiationSent(FALLBACK);
    p.heardOverUdp();
    expect(p.tick(FALLBACK + ANSWER)).to.equal(null);
    p.initiationSent(20_000);
    expect(p.tick(20_000 + FALLBACK + ANSWER)).to.equal(null); // one attempt since
    expect(p.path).to.equal('udp');
  });

  it('stays on UDP when a response comes back over UDP in time, and waits afresh for the next initiation', () => {
    const p = fresh();
    p.initiationSent(0);
    expect(p.responseOver('udp')).to.equal(false); // already on UDP: no move
    expect(p.tick(FALLBACK * 3)).to.equal(null);
    p.initiationSent(FALLBACK * 3); // a rekey, say
    p.initiationSent(FALLBACK * 4); // and its retransmission
    expect(p.tick(FALLBACK * 4 + ANSWER - 1)).to.equal(null);
    expect(p.tick(FALLBACK * 4 + ANSWER)).to.equal('fall-back');
  });

  it('on TCP, initiations go over TCP until a probe is due, then one goes over UDP', () => {
    const p = onTcp(1000);
    expect(p.initiationSent(1001)).to.equal('tcp');
    expect(p.probeDue(1000 + PROBE - 1)).to.equal(false);
    expect(p.tick(1000 + PROBE - 1)).to.equal(null);
    expect(p.tick(1000 + PROBE)).to.equal('probe');
    expect(p.probeDue(1000 + PROBE)).to.equal(true);
    // Asked again every tick until an initiation is actually sent.
    expect(p.tick(1000 + PROBE + 250)).to.equal('probe');
    expect(p.initiationSent(1000 + PROBE + 250)).to.equal('udp');
    expect(p.tick(1000 + PROBE + 500)).to.equal(null);
    // The retransmission of an unanswered probe goes over TCP; the next probe a whole interval later.
    expect(p.initiationSent(1000 + PROBE + 5250)).to.equal('tcp');
    expect(p.tick(1000 + 2 * PROBE + 249)).to.equal(null);
    expect(p.tick(1000 + 2 * PROBE + 250)).to.equal('probe');
    expect(p.path).to.equal('tcp');
  });

  it('moves back to UDP on a response over UDP, only then, and not on one over TCP', () => {
    const p = onTcp(1000);
    expect(p.responseOver('tcp')).to.equal(false);
    expect(p.path).to.equal('tcp');
    p.initiationSent(1000 + PROBE);
    expect(p.responseOver('udp')).to.equal(true);
    expect(p.path).to.equal('udp');
    expect(p.responseOver('udp')).to.equal(false);
    expect(p.tick(1000 + 10 * PROBE)).to.equal(null); // nothing waiting: no fallback, no probe
  });

  it('back on UDP, a UDP that fails again falls back again', () => {
    const p = onTcp(1000);
    p.initiationSent(1000 + PROBE);
    p.responseOver('udp');
    p.initiationSent(100_000);
    p.initiationSent(100_000 + FALLBACK);
    expect(p.tick(100_000 + FALLBACK + ANSWER)).to.equal('fall-back');
    expect(p.initiationSent(100_001)).to.equal('tcp');
  });

  it('reset() starts over on UDP, forgetting a wait', () => {
    const p = onTcp(1000);
    p.reset();
    expect(p.path).to.equal('udp');
    expect(p.initiationSent(20_000)).to.equal('udp');
    p.initiationSent(20_000 + FALLBACK);
    expect(p.tick(20_000 + FALLBACK + ANSWER)).to.equal('fall-back');
    const q = fresh();
    q.initiationSent(0);
    q.initiationSent(FALLBACK);
    q.reset();
    expect(q.tick(FALLBACK + ANSWER)).to.equal(null);
  });
});
