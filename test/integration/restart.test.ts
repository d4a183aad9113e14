// kill -9 of either end at the real (unscaled) timers: once it is started
// again, traffic flows within 10 s, without touching the other end.
import { expect } from 'chai';
import { eventually } from '../helpers/netns.js';
import { withPair } from '../helpers/tunnel-pair.js';

const RECOVERY_BOUND_MS = 10_000;

for (const transport of ['udp', 'tcp'] as const) {
  describe(`restart after kill -9 over ${transport} (real timers)`, function () {
    this.timeout(90_000);
    withPair({ transport }, (get) => {
      for (const side of ['listener', 'initiator'] as const) {
        it(`${side}: traffic again within ${RECOVERY_BOUND_MS / 1000} s of the restart`, async () => {
          const pair = get();
          const [ns, name, conf] = side === 'initiator' ? [pair.net.a, pair.nameA, pair.configA()] : [pair.net.b, pair.nameB, pair.configB()];
          await pair.kill9(ns, name);
          await pair.up(ns, conf);
          const restarted = Date.now();
          await eventually(async () => (await pair.net.run(pair.net.a, ['ping', '-c', '1', '-W', '1', pair.innerB])).code === 0, RECOVERY_BOUND_MS, 100);
          process.stderr.write(`      (${side} restart: traffic after ${((Date.now() - restarted) / 1000).toFixed(1)} s)\n`);
          expect(Date.now() - restarted).to.be.below(RECOVERY_BOUND_MS + 1000);
        });
      }
    });
  });
}
