// SIGHUP: a changed Endpoint applies without dropping the tunnel; settings
// that need a restart are named in the log and the tunnel runs on.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { eventually } from '../helpers/netns.js';
import { withPair } from '../helpers/tunnel-pair.js';

for (const transport of ['udp', 'tcp', 'auto'] as const) {
  describe(`config reload (SIGHUP) over ${transport}`, function () {
    this.timeout(90_000);
    withPair({ transport }, (get) => {
      it('moves to a new Endpoint without a restart', async () => {

        const pair = get();
        // The peer is renumbered: its old address goes away, the operator edits the config and reloads.
        // (Deleting a primary address also deletes the secondaries of its subnet, hence this order.)
        const del = await pair.net.run(pair.net.b, ['ip', 'address', 'del', `${pair.net.addrB}/24`, 'dev', pair.net.vethB]);
        expect(del.code, del.stderr).to.equal(0);
        const add = await pair.net.run(pair.net.b, ['ip', 'address', 'add', '192.0.2.3/24', 'dev', pair.net.vethB]);
        expect(add.code, add.stderr).to.equal(0);
        const [pidA] = pair.daemonPids();
        const config = `${pair.dir}/a.conf`;
        writeFileSync(config, readFileSync(config, 'utf8').replace(`Endpoint = ${pair.net.addrB}:`, 'Endpoint = 192.0.2.3:'));
        process.kill(pidA!, 'SIGHUP');
        await eventually(async () => {
          const s = (await pair.status(pair.net.a, pair.nameA)) as { peers: { endpoint: string | null }[] };
          return s.peers[0].endpoint === `192.0.2.3:${pair.port}`;
        }, 15_000);
        await pair.waitConnected();
        const s = (await pair.status(pair.net.a, pair.nameA)) as { pid: number };
        expect(s.pid).to.equal(pidA);
        expect(pair.log(pair.nameA)).to.match(/reload: peer endpoint now 192\.0\.2\.3/);
      });

      it('names a change that needs a restart, and keeps running', async () => {

        const pair = get();
        const [pidA] = pair.daemonPids();
        const config = `${pair.dir}/a.conf`;
        writeFileSync(config, readFileSync(config, 'utf8').replace(`Address = ${pair.innerA}/24`, `Address = ${pair.innerA}/25`));
        process.kill(pidA!, 'SIGHUP');
        await eventually(async () => /reload: Address changed; that takes a restart/.test(pair.log(pair.nameA)), 10_000);
        await pair.waitConnected();
        expect(((await pair.status(pair.net.a, pair.nameA)) as { pid: number }).pid).to.equal(pidA);
      });

      it('refuses a config with a second [Peer], at its line, and keeps the running one', async () => {
        const pair = get();
        const [pidA] = pair.daemonPids();
        const config = `${pair.dir}/a.conf`;
        const text = readFileSync(config, 'utf8').replace(/\n*$/, '\n');
        const line = text.split('\n').length; // the appended [Peer] header
        const other = randomBytes(32).toString('base64');
        writeFileSync(config, `${text}[Peer]\nPublicKey = ${other}\nEndpoint = 192.0.2.99:51820\nAllowedIPs = 10.99.0.3/32\n`);
        process.kill(pidA!, 'SIGHUP');
        const want = `reload: ${config}:${line}: [Peer]: this sealtun carries one peer per interface; many peers on one interface are coming; keeping the running configuration`;
        await eventually(async () => pair.log(pair.nameA).includes(want), 10_000);
        await pair.waitConnected();
        expect(((await pair.status(pair.net.a, pair.nameA)) as { pid: number }).pid).to.equal(pidA);
      });

      it('keeps running on a config that no longer parses', async () => {

        const pair = get();
        const [pidA] = pair.daemonPids();
        writeFileSync(`${pair.dir}/a.conf`, '[Interface]\nName = sta0\nBogus = 1\n');
        process.kill(pidA!, 'SIGHUP');
        await eventually(async () => /reload: .*Bogus.*keeping the running configuration/.test(pair.log(pair.nameA)), 10_000);
        await pair.waitConnected();
      });
    });
  });
}
