// The responder counts a handshake only once the initiator has used its keys
// (the first authenticated data or keepalive), as WireGuard does: an
// initiator with another PresharedKey gets a response it cannot open, so no
// traffic can flow, and `status` on the responder must not claim a handshake.
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, TestNet } from '../helpers/netns.js';
import { TunnelPair } from '../helpers/tunnel-pair.js';

interface HandshakeStatus {
  peers: { latestHandshakeAt: number | null; handshakes: number }[];
  dropped: Record<string, number>;
}

describe('a handshake is reported once confirmed by data (PresharedKey)', function () {
  this.timeout(90_000);
  let pair: TunnelPair;
  before(async () => {
    pair = new TunnelPair(TestNet.create(), { transport: 'udp', psk: true });
    await pair.keygen();
    await pair.up(pair.net.b, pair.configB());
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') {
      for (const name of [pair.nameA, pair.nameB]) process.stderr.write(`--- ${name} log ---\n${pair.log(name)}\n`);
    }
  });
  after(async () => pair?.destroy());

  const status = async (side: 'a' | 'b') =>
    (await pair.status(side === 'a' ? pair.net.a : pair.net.b, side === 'a' ? pair.nameA : pair.nameB)) as unknown as HandshakeStatus;

  it('wrong PSK on the initiator: the responder shows no handshake (never, 0)', async () => {
    const gen = await pair.cli(pair.net.a, ['genpsk']);
    writeFileSync(join(pair.dir, 'other.psk'), gen.stdout, { mode: 0o600 });
    const config = pair.configA();
    writeFileSync(config, readFileSync(config, 'utf8').replace('PresharedKey = ab.psk', 'PresharedKey = other.psk'));
    await pair.up(pair.net.a, config);
    const ping = await pair.net.run(pair.net.a, ['ping', '-c', '3', '-i', '0.5', '-W', '1', pair.innerB]);
    expect(ping.stdout).to.match(/ 0 received/);
    // The responder answered: the initiator could not open the response.
    const a = await eventually(async () => {
      const s = await status('a');
      return (s.dropped['handshake-decrypt-failed'] ?? 0) > 0 && s;
    }, 15_000);
    const b = await status('b');
    console.log(`      initiator: ${a.dropped['handshake-decrypt-failed']} response(s) it could not open; responder: latest handshake at ${b.peers[0].latestHandshakeAt}, handshakes ${b.peers[0].handshakes}`);
    expect(b.peers[0].latestHandshakeAt).to.equal(null);
    expect(b.peers[0].handshakes).to.equal(0);
    expect(a.peers[0].handshakes).to.equal(0);
    const human = await pair.cli(pair.net.b, ['status', pair.nameB]);
    expect(human.stdout).to.include('latest handshake: never');
    expect(pair.log(pair.nameB)).to.not.include('handshake completed');
  });

  it('the right PSK: the responder shows the handshake once data flows', async () => {
    expect((await pair.down(pair.net.a, pair.nameA)).code).to.equal(0);
    await pair.up(pair.net.a, pair.configA());
    await pair.waitConnected();
    const b = await eventually(async () => {
      const s = await status('b');
      return s.peers[0].handshakes > 0 && s;
    }, 5000);
    const a = await status('a');
    console.log(`      initiator: ${a.peers[0].handshakes} handshake(s) completed; responder: ${b.peers[0].handshakes} confirmed`);
    // One handshake each, or more when a slow host made the initiator retry:
    // the responder counts exactly those the initiator completed, never the
    // earlier one with the wrong PresharedKey.
    expect(a.peers[0].handshakes).to.be.at.least(1);
    expect(b.peers[0].handshakes).to.equal(a.peers[0].handshakes);
    expect(b.peers[0].latestHandshakeAt).to.be.a('number');
    expect(Math.floor(Date.now() / 1000) - b.peers[0].latestHandshakeAt!, 'seconds since the handshake').to.be.at.most(15);
  });
});
