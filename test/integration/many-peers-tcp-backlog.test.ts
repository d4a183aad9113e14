// Over TCP, one client whose connection stops taking data (its daemon
// frozen: a client that stopped reading) must not hold up the server's
// sending to the others: what that connection does not take is kept for it
// alone (tx-loop.ts backlog), its further packets are dropped and counted as
// peer-backlog, and the other client's pings every 50 ms all come back.
import { expect } from 'chai';
import { withHub } from '../helpers/hub.js';
import { pingEvery } from '../helpers/ping-every.js';
import { eventually } from '../helpers/netns.js';

describe('many peers over tcp: one client that stops reading holds up no other', function () {
  this.timeout(120_000);
  withHub({ transport: 'tcp', clients: 2 }, (get) => {
    it('the other client loses no ping while the server floods the frozen one; the frozen one recovers once it reads again', async () => {
      const hub = get();
      const [frozen, other] = hub.clients as [(typeof hub.clients)[0], (typeof hub.clients)[0]];
      const pid = hub.pidOf(frozen.ns)!;
      process.kill(pid, 'SIGSTOP');
      // Far more than a TCP connection's buffers hold, toward the frozen client,
      // for a few seconds; then the frozen client's connection stays full.
      const flood = hub.net.spawn(hub.server, ['socat', '-u', '/dev/zero', `UDP:${frozen.inner}:9`]);
      try {
        await eventually(async () => ((await hub.status()).dropped['peer-backlog'] ?? 0) > 0, 15_000, 100);
        await new Promise((r) => setTimeout(r, 1000));
        flood.kill('SIGKILL');
        await new Promise((r) => setTimeout(r, 500));
        const pings = pingEvery(hub.net, hub.server, other.inner);
        await new Promise((r) => setTimeout(r, 3000));
        const { sent, lost } = await pings.stop();
        const dropped = (await hub.status()).dropped;
        console.log(`      ${sent} pings to the other client every 50 ms while the frozen one's connection is full, ${lost} lost; peer-backlog ${dropped['peer-backlog']}`);
        expect(sent).to.be.greaterThan(30);
        expect(lost).to.equal(0);
      } finally {
        flood.kill('SIGKILL');
        process.kill(pid, 'SIGCONT');
      }
      // The frozen client's backlog drains once it reads again, and its traffic flows.
      await eventually(async () => (await hub.ping(hub.server, frozen.inner, { count: 1 })).received === 1, 30_000, 500);
    });
  });
});
