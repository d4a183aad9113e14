// A listener (ListenPort, its peer has no Endpoint) with KillSwitch = on:
// its replies go to wherever the peer is, an address no set of the kill
// switch names; they get out because the tunnel's sockets carry its mark
// (kill-switch.ts), over UDP, over TCP (an accepted connection has the
// listener's mark) and under auto.
import { expect } from 'chai';
import { withPair } from '../helpers/tunnel-pair.js';

describe('a listener with KillSwitch = on answers peers it knows no Endpoint of, by the socket mark', function () {
  this.timeout(60_000);
  for (const transport of ['udp', 'tcp', 'auto'] as const) {
    describe(transport, () => {
      withPair({ transport, extraB: 'KillSwitch = on' }, (get) => {
        it('connects and carries a transfer; the kill switch allows no endpoint, only the mark', async () => {
          const pair = get();
          const table = await pair.net.run(pair.net.b, ['nft', 'list', 'table', 'inet', `sealtun-${pair.nameB}`]);
          expect(table.stdout).to.match(/meta mark 0x0000ca6c accept/);
          expect(table.stdout, 'no endpoint in the sets').to.not.match(/elements/);
          const { sent, received } = await pair.moveFile(256 * 1024);
          expect(received).to.equal(sent);
        });
      });
    });
  }
});
