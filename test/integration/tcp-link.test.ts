// The TCP transport under a stalled peer and under idle connections that
// never authenticate: neither may freeze or lock out the tunnel.
import { expect } from 'chai';
import { TestNet } from '../helpers/netns.js';
import { TunnelPair } from '../helpers/tunnel-pair.js';

describe('TCP transport robustness', function () {
  this.timeout(120_000);
  let pair: TunnelPair;

  beforeEach(async () => {
    pair = new TunnelPair(TestNet.create(), { transport: 'tcp' });
    await pair.start();
    await pair.waitConnected();
  });

  afterEach(async () => {
    for (const pid of pair.daemonPids()) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        /* gone */
      }
    }
    await pair?.destroy();
  });

  it('`down` completes while the peer has stopped reading and the socket buffer is full', async () => {
    const [pidA, pidB] = pair.daemonPids();
    process.kill(pidB!, 'SIGSTOP');
    // Fill the path: UDP through the tunnel, far more than the socket buffers hold.
    await pair.net.run(pair.net.a, ['sh', '-c', `head -c 50000000 /dev/zero | socat -u -b 1400 STDIN UDP-SENDTO:${pair.innerB}:9`], {
      timeoutMs: 20_000,
    });
    const started = Date.now();
    const down = await pair.down(pair.net.a, pair.nameA);
    expect(down.code, down.stderr).to.equal(0);
    expect(Date.now() - started).to.be.below(10_000);
    expect(() => process.kill(pidA!, 0)).to.throw();
  });

  it('idle unauthenticated connections do not lock the real peer out', async () => {
    const idle = [];
    for (let i = 0; i < 12; i++) idle.push(pair.net.spawn(pair.net.a, ['socat', '-u', `TCP:${pair.net.addrB}:${pair.port}`, '-']));
    await new Promise((r) => setTimeout(r, 500));
    expect((await pair.down(pair.net.a, pair.nameA)).code).to.equal(0);
    await pair.up(pair.net.a, pair.configA());
    await pair.waitConnected(15_000);
    for (const c of idle) c.kill('SIGKILL');
  });
});
