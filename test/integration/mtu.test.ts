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
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, TestNet } from '../helpers/netns.js';
import { TunnelPair } from '../helpers/tunnel-pair.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const UNDERLAY_MTU = 1280;

for (const transport of ['udp', 'tcp'] as const) {
  describe(`tunnel over ${transport} on a ${UNDERLAY_MTU}-byte underlay, default tunnel MTU`, function () {
    this.timeout(120_000);
    let pair: TunnelPair;

    before(async () => {
      pair = new TunnelPair(TestNet.create({ underlayMtu: UNDERLAY_MTU }), { transport });
      await pair.start();
      await pair.waitConnected();
    });

    afterEach(function () {
      if (this.currentTest?.state === 'failed') {
        for (const name of [pair.nameA, pair.nameB]) process.stderr.write(`--- ${name} log ---\n${pair.log(name)}\n`);
      }
    });

    after(async () => {
      await pair?.destroy();
    });

    it('moves 32 MB over a TCP connection with matching SHA-256 at both ends', async () => {
      const data = randomBytes(32 << 20);
      const src = join(pair.dir, 'payload.bin');
      const dst = join(pair.dir, 'received.bin');
      writeFileSync(src, data);
      const sink = pair.net.spawn(pair.net.b, ['socat', '-u', `TCP-LISTEN:5001,bind=${pair.innerB},reuseaddr`, `OPEN:${dst},creat,trunc`]);
      const sinkDone = new Promise<number | null>((r) => sink.on('exit', r));
      await eventually(async () => (await pair.net.run(pair.net.b, ['ss', '-Hltn', 'sport = :5001'])).stdout.includes('5001'), 5000, 50);
      const send = await pair.net.run(pair.net.a, ['socat', '-u', `OPEN:${src}`, `TCP:${pair.innerB}:5001`], { timeoutMs: 90_000 });
      expect(send.code, send.stderr).to.equal(0);
      expect(await sinkDone).to.equal(0);
      expect(sha256(readFileSync(dst))).to.equal(sha256(data));
    });
  });
}
