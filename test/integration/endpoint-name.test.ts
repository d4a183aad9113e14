// A host-name Endpoint over each transport, with real timers: the client namespace
// resolves `server.test` through its own /etc/hosts (/etc/netns/NS/hosts, and
// nsswitch "hosts: files" so nothing asks a DNS server). The server moves to
// another underlay address and the hosts file follows, as DNS would.
import { expect } from 'chai';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, TestNet } from '../helpers/netns.js';
import { TunnelPair, withPair } from '../helpers/tunnel-pair.js';

const NAME = 'server.test';
/** Item 13 of issue 14: traffic back within this long of the server's move. */
const RECOVERY_BOUND_MS = 45_000;

/** The client namespace resolves `name` (if given) to `address`, through files only. */
function resolveIn(net: TestNet, ns: string, name: string | null, address: string): void {
  net.setEtc(ns, 'nsswitch.conf', 'hosts: files\n');
  net.setEtc(ns, 'hosts', `127.0.0.1 localhost\n${name ? `${address} ${name}\n` : ''}`);
}

/** The server's underlay address changes from `from` to `to`, and the client's name for it follows. */
async function moveServer(pair: TunnelPair, from: string, to: string): Promise<void> {
  const { net } = pair;
  for (const args of [
    ['address', 'del', `${from}/24`, 'dev', net.vethB],
    ['address', 'add', `${to}/24`, 'dev', net.vethB],
  ]) {
    const r = await net.run(net.b, ['ip', ...args]);
    expect(r.code, r.stderr).to.equal(0);
  }
  resolveIn(net, net.a, NAME, to);
}

interface PeerStatus {
  peers: { endpoint: string | null; endpointName: string | null; endpointResolved: string | null }[];
}

for (const transport of ['udp', 'tcp', 'auto'] as const) {
  describe(`a host-name Endpoint over ${transport} (real timers)`, function () {
    this.timeout(180_000);
    withPair(
      { transport, endpointHost: NAME, beforeStart: async (pair) => resolveIn(pair.net, pair.net.a, NAME, pair.net.addrB) },
      (get) => {
        it('status shows the name and the address it resolved to', async () => {
          const pair = get();
          const s = (await pair.status(pair.net.a, pair.nameA)) as unknown as PeerStatus;
          expect(s.peers[0].endpointName).to.equal(`${NAME}:${pair.port}`);
          expect(s.peers[0].endpointResolved).to.equal(`${pair.net.addrB}:${pair.port}`);
          expect(s.peers[0].endpoint).to.equal(`${pair.net.addrB}:${pair.port}`);
          const human = await pair.cli(pair.net.a, ['status', pair.nameA]);
          expect(human.stdout).to.include(`endpoint: ${pair.net.addrB}:${pair.port} (${NAME}:${pair.port} last resolved to ${pair.net.addrB}:${pair.port})`);
        });

        it(`the server moves to another address: pings pass again within ${RECOVERY_BOUND_MS / 1000} s, the name resolved again`, async () => {
          const pair = get();
          // Nothing in flight: no late reply from the new address may move the endpoint (roaming) instead of the name.
          await new Promise((r) => setTimeout(r, 1000));
          await moveServer(pair, pair.net.addrB, '192.0.2.3');
          const moved = Date.now();
          await eventually(async () => (await pair.net.run(pair.net.a, ['ping', '-c', '1', '-W', '1', pair.innerB])).code === 0, RECOVERY_BOUND_MS, 0);
          const seconds = (Date.now() - moved) / 1000;
          console.log(`      traffic back ${seconds.toFixed(1)} s after the server moved (bound ${RECOVERY_BOUND_MS / 1000} s)`);
          expect(seconds * 1000).to.be.below(RECOVERY_BOUND_MS);
          const s = (await pair.status(pair.net.a, pair.nameA)) as unknown as PeerStatus;
          expect(s.peers[0].endpoint).to.equal(`192.0.2.3:${pair.port}`);
          expect(s.peers[0].endpointResolved).to.equal(`192.0.2.3:${pair.port}`);
          expect(pair.log(pair.nameA)).to.include(`Endpoint ${NAME} now resolves to 192.0.2.3:${pair.port}`);
        });

        it('a reload with the Endpoint text unchanged resolves the name again, at once', async () => {
          const pair = get();
          await new Promise((r) => setTimeout(r, 1000));
          await moveServer(pair, '192.0.2.3', '192.0.2.4');
          const moved = Date.now();
          process.kill(pair.pidOf(pair.nameA)!, 'SIGHUP');
          // Well inside the 15 s of unanswered data after which the timers would re-resolve it anyway.
          await pair.waitConnected(10_000);
          console.log(`      traffic back ${((Date.now() - moved) / 1000).toFixed(1)} s after the move and the reload`);
          expect(pair.log(pair.nameA)).to.include(`Endpoint ${NAME} now resolves to 192.0.2.4:${pair.port}`);
          const s = (await pair.status(pair.net.a, pair.nameA)) as unknown as PeerStatus;
          expect(s.peers[0].endpointResolved).to.equal(`192.0.2.4:${pair.port}`);
        });

        it('a reload while the name does not resolve: FILE:LINE: Endpoint: the answer, and the tunnel runs on', async () => {
          const pair = get();
          resolveIn(pair.net, pair.net.a, null, '');
          const config = join(pair.dir, 'a.conf');
          const line = readFileSync(config, 'utf8').split('\n').findIndex((l) => l.startsWith('Endpoint =')) + 1;
          process.kill(pair.pidOf(pair.nameA)!, 'SIGHUP');
          const expected = `reload: ${config}:${line}: Endpoint: "${NAME}" does not resolve: no such host (ENOTFOUND); keeping the running configuration`;
          await eventually(async () => pair.log(pair.nameA).includes(expected), 10_000);
          await pair.waitConnected();
          resolveIn(pair.net, pair.net.a, NAME, '192.0.2.4');
        });
      },
    );
  });
}

describe('`up` with an Endpoint that does not resolve', function () {
  this.timeout(60_000);
  let net: TestNet;
  before(() => {
    net = TestNet.create();
    resolveIn(net, net.a, null, '');
  });
  after(async () => net?.destroy());

  for (const transport of ['udp', 'tcp', 'auto'] as const) {
    it(`${transport}: fails with FILE:LINE: Endpoint: the resolver's answer, and sets nothing up`, async () => {
      const pair = new TunnelPair(net, { transport, endpointHost: 'nosuch.test' });
      try {
        await pair.keygen();
        const config = pair.configA();
        const line = readFileSync(config, 'utf8').split('\n').findIndex((l) => l.startsWith('Endpoint =')) + 1;
        const r = await pair.cli(net.a, ['up', '--daemon', config]);
        expect(r.code, r.stdout).to.equal(1);
        expect(r.stderr).to.include(`${config}:${line}: Endpoint: "nosuch.test" does not resolve: no such host (ENOTFOUND)`);
        const link = await net.run(net.a, ['ip', 'link', 'show', 'dev', pair.nameA]);
        expect(link.code, 'no interface is left behind').to.not.equal(0);
      } finally {
        await net.run(net.a, ['ip', 'link', 'del', pair.nameA]);
        for (const pid of pair.daemonPids()) process.kill(pid, 'SIGKILL');
        rmSync(pair.dir, { recursive: true, force: true });
      }
    });
  }
});
