// A smaller underlay: the veth pair has MTU 1280 (the IPv6 minimum, common
// behind PPPoE, mobile and other tunnels), the tunnel keeps its default MTU
// (derived for a 1500-byte underlay). A bulk TCP transfer must still arrive
// whole.
//
// Over UDP the sealed datagrams (up to 1420 + 32 + 8 + 20 = 1480 bytes over
// IPv4) exceed the underlay MTU, so the sending kernel fragments them (the
// socket does not set IP_PMTUDISC_DO) and the receiving kernel reassembles:
// slower, but no black hole. Over TCP the outer connection's own MSS adapts
// to the underlay.
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { TestNet } from '../helpers/netns.js';
import { TunnelPair, withPair } from '../helpers/tunnel-pair.js';

const UNDERLAY_MTU = 1280;

for (const transport of ['udp', 'tcp'] as const) {
  describe(`tunnel over ${transport} on a ${UNDERLAY_MTU}-byte underlay, default tunnel MTU`, function () {
    this.timeout(120_000);
    withPair({ transport, underlayMtu: UNDERLAY_MTU }, (get) => {
      it('moves 32 MB over a TCP connection with matching SHA-256 at both ends', async () => {
        const { sent, received } = await get().moveFile(32 << 20);
        expect(received).to.equal(sent);
      });
    });
  });
}

describe('an MTU beyond what the transport carries', function () {
  this.timeout(60_000);
  let pair: TunnelPair;

  afterEach(async () => {
    await pair?.destroy();
  });

  // Before, `up` took it, and the receive worker died on the first TCP
  // connection anyone made to the port (an unauthenticated remote kill).
  it('is refused by `up` with FILE:LINE, the key and the limit; no daemon starts', async () => {
    pair = new TunnelPair(TestNet.create(), { transport: 'auto', extraB: 'MTU = 65535' });
    await pair.keygen();
    const config = pair.configB();
    const r = await pair.cli(pair.net.b, ['up', '--daemon', config]);
    const line = readFileSync(config, 'utf8').split('\n').indexOf('MTU = 65535') + 1;
    expect(r.code, r.stdout).to.not.equal(0);
    expect(r.stderr).to.include(`${config}:${line}: MTU: is 65535, but Transport = auto carries at most 65475`);
    expect(pair.daemonPids()).to.deep.equal([]);
  });
});
