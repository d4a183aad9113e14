// SIGHUP: a changed Endpoint or AllowedIPs applies without dropping the
// tunnel or its session, a new [Peer] is added (over udp); settings that
// need a restart are named in the log and the tunnel runs on unchanged.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { eventually } from '../helpers/netns.js';
import { withPair } from '../helpers/tunnel-pair.js';
import { pingEvery } from '../helpers/ping-every.js';

type Status = { peers: { allowedIPs: string[]; handshakes: number }[]; dropped: Record<string, number> };

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
        expect(pair.log(pair.nameA)).to.match(/peer \S+: endpoint now 192\.0\.2\.3/);
      });

      it('applies changed AllowedIPs live: routes and source checks follow, the session and every ping stay', async () => {
        const pair = get();
        const { a, b } = pair.net;
        // A second inner address on A's side, outside what B allows from A so far,
        // and outside the interfaces' Address subnet, so that B needs a route for it.
        const extra = '10.78.0.11';
        const added = await pair.net.run(a, ['ip', 'address', 'add', `${extra}/32`, 'dev', pair.nameA]);
        expect(added.code, added.stderr).to.equal(0);
        const statusB = async () => (await pair.status(b, pair.nameB)) as unknown as Status;
        const handshakes = async () => [((await pair.status(a, pair.nameA)) as unknown as Status).peers[0].handshakes, (await statusB()).peers[0].handshakes];
        const fromExtra = () => pair.net.run(a, ['ping', '-c', '3', '-i', '0.2', '-W', '1', '-I', extra, pair.innerB]);
        const dropped = async () => (await statusB()).dropped['source-not-allowed'] ?? 0;
        const before = await handshakes();
        const pings = pingEvery(pair.net, pair.net.a, pair.innerB);
        const config = `${pair.dir}/b.conf`;
        const original = readFileSync(config, 'utf8');
        const reloaded = (n: number) => eventually(async () => (pair.log(pair.nameB).match(/peer \S+: allowed IPs now/g) ?? []).length >= n, 10_000);

        writeFileSync(config, original.replace(`AllowedIPs = ${pair.innerA}/32`, `AllowedIPs = ${pair.innerA}/32, ${extra}/32`));
        process.kill(pair.pidOf(pair.nameB)!, 'SIGHUP');
        await reloaded(1);
        expect((await statusB()).peers[0].allowedIPs).to.deep.equal([`${pair.innerA}/32`, `${extra}/32`]);
        const routes = await pair.net.run(b, ['ip', 'route', 'show', 'dev', pair.nameB]);
        expect(routes.stdout).to.match(new RegExp(`^${extra.replaceAll('.', '\\.')} `, 'm'));
        const droppedBefore = await dropped();
        const passed = await fromExtra();
        expect(passed.code, `ping from ${extra} once allowed: ${passed.stdout}`).to.equal(0);
        expect(await dropped()).to.equal(droppedBefore);

        writeFileSync(config, original);
        process.kill(pair.pidOf(pair.nameB)!, 'SIGHUP');
        await reloaded(2);
        expect((await statusB()).peers[0].allowedIPs).to.deep.equal([`${pair.innerA}/32`]);
        const gone = await pair.net.run(b, ['ip', 'route', 'show', 'dev', pair.nameB]);
        expect(gone.stdout).not.to.match(new RegExp(`^${extra.replaceAll('.', '\\.')} `, 'm'));
        const refused = await fromExtra();
        expect(refused.code, `ping from ${extra} once no longer allowed`).not.to.equal(0);
        expect(await dropped()).to.be.at.least(droppedBefore + 3);

        const { sent, lost } = await pings.stop();
        const after = await handshakes();
        console.log(`      ${transport}: ${sent} pings every 50 ms, ${lost} lost; handshakes A/B ${before.join('/')} before, ${after.join('/')} after`);
        expect(lost).to.equal(0);
        expect(after).to.deep.equal(before);
        await pair.net.run(a, ['ip', 'address', 'del', `${extra}/32`, 'dev', pair.nameA]);
      });

      it('names an AllowedIPs route it cannot add, and applies the rest', async () => {
        const pair = get();
        const { b } = pair.net;
        // The operator's own route for a prefix the new config adds: not ours to replace.
        const theirs = await pair.net.run(b, ['ip', 'route', 'add', '10.99.0.0/24', 'dev', pair.net.vethB]);
        expect(theirs.code, theirs.stderr).to.equal(0);
        const config = `${pair.dir}/b.conf`;
        const original = readFileSync(config, 'utf8');
        writeFileSync(config, original.replace(`AllowedIPs = ${pair.innerA}/32`, `AllowedIPs = ${pair.innerA}/32, 10.99.0.0/24, 10.98.0.0/24`));
        const r = await pair.cli(b, ['reload', config]);
        expect(r.code, r.stderr).to.equal(0);
        expect(r.stdout).to.include('AllowedIPs 10.99.0.0/24: a route for it already exists');
        const s = (await pair.status(b, pair.nameB)) as unknown as Status;
        expect(s.peers[0].allowedIPs).to.deep.equal([`${pair.innerA}/32`, '10.99.0.0/24', '10.98.0.0/24']);
        const routes = await pair.net.run(b, ['ip', 'route']);
        expect(routes.stdout).to.match(new RegExp(`^10\\.98\\.0\\.0/24 dev ${pair.nameB}`, 'm'));
        expect(routes.stdout).to.match(new RegExp(`^10\\.99\\.0\\.0/24 dev ${pair.net.vethB}`, 'm'));
        writeFileSync(config, original);
        // Removing the prefix leaves the operator's route alone, and that is not a failure.
        const back = await pair.cli(b, ['reload', config]);
        expect(back.code, back.stderr).to.equal(0);
        expect(back.stdout).to.include(`allowed IPs now ${pair.innerA}/32`).and.not.include('route');
        expect((await pair.net.run(b, ['ip', 'route', 'show', 'exact', '10.99.0.0/24'])).stdout).to.include(pair.net.vethB);
        await pair.net.run(b, ['ip', 'route', 'del', '10.99.0.0/24', 'dev', pair.net.vethB]);
        await pair.waitConnected();
      });

      it('names a change that needs a restart, and keeps running', async () => {

        const pair = get();
        const [pidA] = pair.daemonPids();
        const config = `${pair.dir}/a.conf`;
        const original = readFileSync(config, 'utf8');
        writeFileSync(config, original.replace(`Address = ${pair.innerA}/24`, `Address = ${pair.innerA}/25`));
        process.kill(pidA!, 'SIGHUP');
        await eventually(async () => /reload: Address changed; that takes a restart/.test(pair.log(pair.nameA)), 10_000);
        await pair.waitConnected();
        expect(((await pair.status(pair.net.a, pair.nameA)) as { pid: number }).pid).to.equal(pidA);
        writeFileSync(config, original);
      });

      it('adds a second [Peer] live and keeps running', async () => {
        const pair = get();
        const [pidA] = pair.daemonPids();
        const config = `${pair.dir}/a.conf`;
        const text = readFileSync(config, 'utf8').replace(/\n*$/, '\n');
        const other = randomBytes(32).toString('base64');
        writeFileSync(config, `${text}[Peer]\nPublicKey = ${other}\nEndpoint = 192.0.2.99:51820\nAllowedIPs = 10.99.0.3/32\n`);
        process.kill(pidA!, 'SIGHUP');
        await eventually(async () => pair.log(pair.nameA).includes(`peer ${other}: added`), 10_000);
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
