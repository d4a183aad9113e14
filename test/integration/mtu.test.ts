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
import { expect } from 'chai';
import { withPair } from '../helpers/tunnel-pair.js';

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
