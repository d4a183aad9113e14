// Table = NUMBER puts the AllowedIPs routes into that table (none in main);
// Table = off installs none; the tunnel still carries what the operator
// routes into it.
import { expect } from 'chai';
import { withPair } from '../helpers/tunnel-pair.js';

describe('Table', function () {
  this.timeout(60_000);

  describe('= 1000', () => {
    withPair({ transport: 'udp', extraA: 'Table = 1000' }, (get) => {
      it('routes AllowedIPs in table 1000 and not in main; a rule of the operator\'s makes it carry traffic', async () => {
        const pair = get();
        const { a } = pair.net;
        const table = await pair.net.run(a, ['ip', 'route', 'show', 'table', '1000']);
        expect(table.stdout).to.include(`${pair.innerB} dev ${pair.nameA}`);
        const main = await pair.net.run(a, ['ip', 'route', 'show', 'table', 'main']);
        expect(main.stdout).to.not.include(`${pair.innerB} dev`);
        await pair.net.run(a, ['ip', 'rule', 'add', 'to', pair.innerB, 'table', '1000']);
        expect((await pair.net.run(a, ['ping', '-c', '1', '-W', '2', pair.innerB])).code).to.equal(0);
      });
    });
  });

  describe('= off', () => {
    withPair({ transport: 'udp', extraA: 'Table = off' }, (get) => {
      it('adds no route for AllowedIPs', async () => {
        const pair = get();
        const all = await pair.net.run(pair.net.a, ['ip', 'route', 'show', 'table', 'all']);
        expect(all.stdout).to.not.include(`${pair.innerB} dev`);
        // The interface's own subnet (10.77.0.0/24, from Address) still reaches the peer.
        expect((await pair.net.run(pair.net.a, ['ping', '-c', '1', '-W', '2', pair.innerB])).code).to.equal(0);
      });
    });
  });
});
