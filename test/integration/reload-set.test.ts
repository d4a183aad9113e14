// `sealtun set` and `sealtun reload` against a real daemon with more than
// one peer (issue 15's Commands): set adds, changes and removes a peer
// without touching the config file and says clearly what it refuses; a
// reload adds and removes peers, moves a prefix from one peer to another in
// one go, starts a new session only for the peer whose PresharedKey
// changed, and is refused whole (exit 1, nothing applied) when an
// [Interface] setting changed. The peer that carries traffic (A) keeps its
// session throughout. B is the server (ListenPort); X is a peer that is
// configured but never comes up.
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually } from '../helpers/netns.js';
import { withPair, type TunnelPair } from '../helpers/tunnel-pair.js';

interface Peer {
  publicKey: string;
  allowedIPs: string[];
  handshakes: number;
  latestHandshakeAt: number | null;
  persistentKeepalive: number;
  endpoint: string | null;
}
type Status = { publicKey: string; peers: Peer[]; dropped: Record<string, number> };

/** The sealtun CLI in B's namespace: exit code, output lines, stderr. */
async function onB(pair: TunnelPair, args: string[]): Promise<{ code: number | null; lines: string[]; stderr: string }> {
  const r = await pair.cli(pair.net.b, args);
  return { code: r.code, lines: r.stdout.split('\n').filter(Boolean).map((l) => l.trim()), stderr: r.stderr.trim() };
}

const statusB = async (pair: TunnelPair) => (await pair.status(pair.net.b, pair.nameB)) as unknown as Status;
const key = (pair: TunnelPair, name: string) => readFileSync(join(pair.dir, `${name}.pub`), 'utf8').trim();
const peerOf = async (pair: TunnelPair, publicKey: string) => (await statusB(pair)).peers.find((p) => p.publicKey === publicKey);

describe('sealtun set and reload on a daemon with several peers (udp)', function () {
  this.timeout(120_000);
  withPair({ transport: 'udp' }, (get) => {
    let a: string;
    let x: string;
    let aHandshakes: number;
    before(async () => {
      const pair = get();
      const r = await pair.cli(pair.net.b, ['keygen', join(pair.dir, 'x')]);
      expect(r.code, r.stderr).to.equal(0);
      a = key(pair, 'a');
      x = key(pair, 'x');
      aHandshakes = (await peerOf(pair, a))!.handshakes;
    });

    it('set adds a peer, changes it and removes it, never writing the config; refusals say why and exit 1', async () => {
      const pair = get();
      const config = join(pair.dir, 'b.conf');
      const file = readFileSync(config, 'utf8');

      const add = await onB(pair, ['set', pair.nameB, 'peer', x, 'allowed-ips', '10.77.0.9/32']);
      expect(add.code, add.stderr).to.equal(0);
      expect(add.lines).to.deep.equal([`peer ${x}: added`]);
      expect((await statusB(pair)).peers.map((p) => p.publicKey)).to.deep.equal([a, x]);

      const change = await onB(pair, ['set', pair.nameB, 'peer', x, 'persistent-keepalive', '25', 'endpoint', '192.0.2.99:51820']);
      expect(change.code, change.stderr).to.equal(0);
      expect(change.lines).to.include.members([`peer ${x}: endpoint now 192.0.2.99:51820`, `peer ${x}: persistent keepalive 25 s`]);
      expect(await peerOf(pair, x)).to.deep.include({ persistentKeepalive: 25, endpoint: '192.0.2.99:51820', allowedIPs: ['10.77.0.9/32'] });

      const taken = await onB(pair, ['set', pair.nameB, 'peer', x, 'allowed-ips', `${pair.innerA}/32`]);
      expect(taken.code).to.equal(1);
      expect(taken.stderr).to.equal(`sealtun: ${pair.nameB}: set: peer ${x}: AllowedIPs: ${pair.innerA}/32 is already peer ${a}; keeping the running configuration`);
      expect((await peerOf(pair, x))!.allowedIPs, 'a refused set changes nothing').to.deep.equal(['10.77.0.9/32']);
      const own = await onB(pair, ['set', pair.nameB, 'peer', key(pair, 'b'), 'allowed-ips', '10.77.0.8/32']);
      expect(own.code).to.equal(1);
      expect(own.stderr).to.include("is this interface's own public key");
      const bad = await onB(pair, ['set', pair.nameB, 'peer', x, 'persistent-keepalive', 'soon']);
      expect(bad.code).to.equal(1);
      expect(bad.stderr).to.equal('sealtun: set: PersistentKeepalive: "soon" is not a number of seconds or "off"; expected a whole number 0-65535');

      expect(readFileSync(config, 'utf8'), 'set never writes the config').to.equal(file);
      // A reload makes the interface match the file again: X, added by set only, goes.
      const reload = await onB(pair, ['reload', config]);
      expect(reload.code, reload.stderr).to.equal(0);
      expect(reload.lines).to.deep.equal([`${pair.nameB} reloaded`, `peer ${x}: removed`]);
      const gone = await onB(pair, ['set', pair.nameB, 'peer', x, 'remove']);
      expect(gone.code).to.equal(1);
      expect(gone.stderr).to.equal(`sealtun: ${pair.nameB}: set: peer ${x} is not a peer of this interface; nothing to remove; keeping the running configuration`);

      await pair.waitConnected();
      expect((await peerOf(pair, a))!.handshakes, 'A kept its session').to.equal(aHandshakes);
    });

    it('reload adds a peer and moves a prefix from one peer to another in one go; the old owner’s packets from it are dropped', async () => {
      const pair = get();
      const { a: nsA } = pair.net;
      const config = join(pair.dir, 'b.conf');
      const original = readFileSync(config, 'utf8');
      const withX = (aAllowed: string, xAllowed: string) =>
        writeFileSync(config, `${original.replace(`AllowedIPs = ${pair.innerA}/32`, `AllowedIPs = ${aAllowed}`)}\n[Peer]\nPublicKey = x.pub\nAllowedIPs = ${xAllowed}\n`);
      await pair.net.run(nsA, ['ip', 'address', 'add', '10.89.5.1/32', 'dev', pair.nameA]);
      const fromPrefix = () => pair.net.run(nsA, ['ping', '-c', '2', '-i', '0.2', '-W', '1', '-I', '10.89.5.1', pair.innerB]);

      withX(`${pair.innerA}/32, 10.89.5.0/24`, '10.77.0.9/32');
      const first = await onB(pair, ['reload', config]);
      expect(first.code, first.stderr).to.equal(0);
      expect(first.lines).to.deep.equal([`${pair.nameB} reloaded`, `peer ${a}: allowed IPs now ${pair.innerA}/32, 10.89.5.0/24`, `peer ${x}: added`]);
      expect((await fromPrefix()).code, 'A may send from the prefix while it owns it').to.equal(0);

      withX(`${pair.innerA}/32`, '10.77.0.9/32, 10.89.5.0/24');
      const moved = await onB(pair, ['reload', config]);
      expect(moved.code, moved.stderr).to.equal(0);
      expect(moved.lines).to.deep.equal([`${pair.nameB} reloaded`, `peer ${a}: allowed IPs now ${pair.innerA}/32`, `peer ${x}: allowed IPs now 10.77.0.9/32, 10.89.5.0/24`]);
      expect((await peerOf(pair, x))!.allowedIPs).to.deep.equal(['10.77.0.9/32', '10.89.5.0/24']);
      const dropped = (await statusB(pair)).dropped['source-not-allowed'] ?? 0;
      expect((await fromPrefix()).code, 'the prefix is X’s now').to.not.equal(0);
      expect((await statusB(pair)).dropped['source-not-allowed'] ?? 0).to.be.above(dropped);
      await pair.net.run(nsA, ['ip', 'address', 'del', '10.89.5.1/32', 'dev', pair.nameA]);

      // SIGHUP, with the original file: X goes, A's AllowedIPs stay as they are now.
      writeFileSync(config, original);
      process.kill(pair.pidOf(pair.nameB)!, 'SIGHUP');
      await eventually(async () => (await statusB(pair)).peers.length === 1, 10_000);
      expect(pair.log(pair.nameB)).to.include(`peer ${x}: removed`);
      await pair.waitConnected();
      expect((await peerOf(pair, a))!.handshakes, 'A kept its session').to.equal(aHandshakes);
    });

    it('an [Interface] change refuses the whole reload: exit 1, the reason, no peer added', async () => {
      const pair = get();
      const config = join(pair.dir, 'b.conf');
      const original = readFileSync(config, 'utf8');
      writeFileSync(config, `${original.replace(`Address = ${pair.innerB}/24`, `Address = ${pair.innerB}/25`)}\n[Peer]\nPublicKey = x.pub\nAllowedIPs = 10.77.0.9/32\n`);
      const r = await onB(pair, ['reload', config]);
      writeFileSync(config, original);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.equal(`sealtun: ${pair.nameB}: reload: Address changed; that takes a restart (sealtun down, then up); keeping the running configuration`);
      expect((await statusB(pair)).peers.map((p) => p.publicKey)).to.deep.equal([a]);
    });

    it('a changed PresharedKey starts a new session for that peer (one line), once both ends have it', async () => {
      const pair = get();
      const psk = await pair.cli(pair.net.b, ['genpsk']);
      writeFileSync(join(pair.dir, 'new.psk'), psk.stdout, { mode: 0o600 });
      const since = Math.floor(Date.now() / 1000);
      const addPsk = (file: string, peerKey: string) =>
        writeFileSync(file, readFileSync(file, 'utf8').replace(`PublicKey = ${peerKey}\n`, `PublicKey = ${peerKey}\nPresharedKey = new.psk\n`));
      addPsk(join(pair.dir, 'b.conf'), 'a.pub');
      addPsk(join(pair.dir, 'a.conf'), 'b.pub');
      const rb = await onB(pair, ['reload', join(pair.dir, 'b.conf')]);
      expect(rb.code, rb.stderr).to.equal(0);
      expect(rb.lines).to.deep.equal([`${pair.nameB} reloaded`, `peer ${a}: pre-shared key changed; its session starts over`]);
      const ra = await pair.cli(pair.net.a, ['reload', join(pair.dir, 'a.conf')]);
      expect(ra.code, ra.stderr).to.equal(0);
      await pair.waitConnected();
      const after = (await peerOf(pair, a))!;
      console.log(`      A's handshakes on B: ${aHandshakes} before, ${after.handshakes} since its new pre-shared key`);
      expect(after.latestHandshakeAt, 'a handshake under the new key').to.be.at.least(since);
    });
  });
});

describe('sealtun set over tcp: peers come, change and go while the first keeps its session', function () {
  this.timeout(90_000);
  withPair({ transport: 'tcp' }, (get) => {
    it('adds a peer, changes the first, removes the added one; the first never re-handshakes', async () => {
      const pair = get();
      const a = key(pair, 'a');
      const before = (await peerOf(pair, a))!.handshakes;
      const other = key(pair, 'wrong');
      const add = await onB(pair, ['set', pair.nameB, 'peer', other, 'allowed-ips', '10.77.0.9/32']);
      expect(add.code, add.stderr).to.equal(0);
      expect(add.lines).to.deep.equal([`peer ${other}: added`]);
      const change = await onB(pair, ['set', pair.nameB, 'peer', a, 'persistent-keepalive', '25']);
      expect(change.code, change.stderr).to.equal(0);
      expect(change.lines).to.deep.equal([`peer ${a}: persistent keepalive 25 s`]);
      const gone = await onB(pair, ['set', pair.nameB, 'peer', other, 'remove']);
      expect(gone.code, gone.stderr).to.equal(0);
      expect(gone.lines).to.deep.equal([`peer ${other}: removed`]);
      await pair.waitConnected();
      expect((await peerOf(pair, a))!.handshakes).to.equal(before);
    });
  });
});
