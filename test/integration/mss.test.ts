// MSS clamping end to end: a SYN announcing more than the tunnel carries
// arrives at the other side with the option lowered (as OpenVPN's mssfix).
import { expect } from 'chai';
import { eventually } from '../helpers/netns.js';
import { withPair } from '../helpers/tunnel-pair.js';

for (const transport of ['udp', 'tcp'] as const) {
  describe(`MSS clamping over ${transport}`, function () {
    this.timeout(60_000);
    withPair({ transport }, (get) => {
      it('lowers the MSS of a SYN larger than the tunnel MTU allows', async () => {

        const pair = get();
        // Make A's kernel announce MSS 1460, as a host behind a router would.
        const route = await pair.net.run(pair.net.a, ['ip', 'route', 'change', `${pair.innerB}/32`, 'dev', pair.nameA, 'advmss', '1460']);
        expect(route.code, route.stderr).to.equal(0);
        const dump = pair.net.spawn(pair.net.b, ['tcpdump', '-Z', 'root', '--immediate-mode', '-l', '-n', '-v', '-c', '1', '-i', pair.nameB, 'tcp[tcpflags] & tcp-syn != 0 and dst port 5003']);
        let seen = '';
        dump.stdout!.on('data', (d: Buffer) => (seen += d.toString()));
        dump.stderr!.on('data', (d: Buffer) => (seen += d.toString()));
        await eventually(async () => seen.includes('listening on'), 5000, 50);
        const sink = pair.net.spawn(pair.net.b, ['socat', '-u', `TCP-LISTEN:5003,bind=${pair.innerB},reuseaddr`, 'STDOUT']);
        await eventually(async () => (await pair.net.run(pair.net.b, ['ss', '-Hltn', 'sport = :5003'])).stdout.includes('5003'), 5000, 50);
        await pair.net.run(pair.net.a, ['socat', '-u', 'STDIN', `TCP:${pair.innerB}:5003`], { input: 'hello' });
        await eventually(async () => /mss \d+/.test(seen), 5000, 50);
        sink.kill('SIGTERM');
        const mss = Number(/mss (\d+)/.exec(seen)![1]);
        const mtu = transport === 'udp' ? 1420 : 1406;
        expect(mss).to.equal(mtu - 40);
      });
    });
  });
}
