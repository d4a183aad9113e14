// The tunnel end to end: two namespaces, real TUN devices, real sockets,
// real ping and socat, over both transports.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually } from '../helpers/netns.js';
import { withPair } from '../helpers/tunnel-pair.js';

/**
 * `status --json` has the per-peer shape of issue 15: `peers` (one element
 * today, its counters the interface's) with these fields and types, and no
 * single `peer` object any more.
 */
function expectPeersShape(s: Record<string, unknown>, publicKey: string, allowed: string): void {
  expect(s, 'the single peer object is gone').to.not.have.property('peer');
  expect(s.peers).to.be.an('array').with.lengthOf(1);
  const p = (s.peers as Record<string, unknown>[])[0]!;
  expect(p.publicKey).to.equal(publicKey);
  expect(p.endpoint).to.be.a('string').and.match(/^\S+:\d+$/);
  expect(p.allowedIPs).to.deep.equal([allowed]);
  const now = Math.floor(Date.now() / 1000);
  expect(p.latestHandshakeAt, 'unix seconds, an integer').to.be.a('number').and.satisfy(Number.isInteger).and.within(now - 120, now);
  expect(p.handshakes).to.be.a('number').and.at.least(1);
  for (const dir of ['rx', 'tx'] as const) {
    expect(p[dir], dir).to.have.all.keys('bytes', 'packets');
    expect((p[dir] as Record<string, unknown>).bytes).to.be.a('number');
    expect((p[dir] as Record<string, unknown>).packets).to.be.a('number');
    expect(p[dir], `${dir}: the one peer's counters are the interface's`).to.deep.equal(s[dir]);
  }
  expect(p.persistentKeepalive).to.equal(0);
  expect(p, 'path only under Transport = auto').to.not.have.property('path');
  expect(p, 'endpointName only for a host-name Endpoint').to.not.have.property('endpointName');
}

for (const transport of ['udp', 'tcp'] as const) {
  describe(`tunnel over ${transport} between two namespaces`, function () {
    this.timeout(120_000);
    withPair({ transport, psk: transport === 'tcp' }, (get) => {
      it('carries ICMP echo both ways', async () => {
        const pair = get();
        const ab = await pair.net.run(pair.net.a, ['ping', '-c', '5', '-i', '0.2', '-W', '2', pair.innerB]);
        expect(ab.code, ab.stdout).to.equal(0);
        expect(ab.stdout).to.match(/5 received/);
        const ba = await pair.net.run(pair.net.b, ['ping', '-c', '5', '-i', '0.2', '-W', '2', pair.innerA]);
        expect(ba.code, ba.stdout).to.equal(0);
        expect(ba.stdout).to.match(/5 received/);
      });

      it('moves 32 MB over a TCP connection with matching SHA-256 at both ends', async () => {
        const pair = get();
        const { sent, received } = await pair.moveFile(32 << 20);
        expect(received).to.equal(sent);
      });

      it('never shows inner traffic in cleartext on the underlay', async () => {
        const pair = get();
        const pcap = join(pair.dir, 'underlay.pcap');
        const marker = `sealtun-marker-${randomBytes(8).toString('hex')}`;
        // -Z root: keep writing into the test's private (0700) directory.
        const dump = pair.net.spawn(pair.net.a, ['tcpdump', '-Z', 'root', '--immediate-mode', '-i', pair.net.vethA, '-U', '-n', '-w', pcap]);
        const dumpExit = new Promise((r) => dump.on('exit', r));
        let dumpErr = '';
        dump.stderr!.on('data', (d: Buffer) => (dumpErr += d.toString()));
        await eventually(async () => dumpErr.includes('listening on'), 5000, 50);
        const recv = pair.net.spawn(pair.net.b, ['socat', '-u', `UDP-RECV:5002,bind=${pair.innerB}`, 'STDOUT']);
        let got = '';
        recv.stdout!.on('data', (d: Buffer) => (got += d.toString()));
        await new Promise((r) => setTimeout(r, 300));
        for (let i = 0; i < 5 && !got.includes(marker); i++) {
          await pair.net.run(pair.net.a, ['socat', '-u', 'STDIN', `UDP-SENDTO:${pair.innerB}:5002`], { input: marker.repeat(4) });
          await new Promise((r) => setTimeout(r, 200));
        }
        await new Promise((r) => setTimeout(r, 300));
        dump.kill('SIGINT');
        recv.kill('SIGTERM');
        await dumpExit;
        expect(got, 'the marker crossed the tunnel').to.include(marker);
        const captured = readFileSync(pcap);
        expect(captured.length, `the capture saw the tunnel traffic (${dumpErr})`).to.be.greaterThan(24 + 4 * marker.length);
        expect(captured.includes(Buffer.from(marker)), 'marker visible on the underlay').to.equal(false);
      });

      it('reports the session in status', async () => {
        const pair = get();
        await pair.net.run(pair.net.a, ['ping', '-c', '3', '-i', '0.1', pair.innerB]);
        const s = (await pair.status(pair.net.a, pair.nameA)) as {
          transport: string;
          peers: { endpoint: string; latestHandshakeAt: number | null }[];
          rx: { packets: number };
          tx: { packets: number; bytes: number };
        };
        expect(s.transport).to.equal(transport);
        expect(s.peers[0].endpoint).to.equal(`${pair.net.addrB}:${pair.port}`);
        expect(s.peers[0].latestHandshakeAt).to.be.a('number');
        expect(s.rx.packets).to.be.at.least(3);
        expect(s.tx.packets).to.be.at.least(3);
        expect(s.tx.bytes).to.be.at.least(3 * 84);
        expectPeersShape(s as unknown as Record<string, unknown>, readFileSync(join(pair.dir, 'b.pub'), 'utf8').trim(), `${pair.innerB}/32`);
        const human = await pair.cli(pair.net.b, ['status']);
        expect(human.code).to.equal(0);
        expect(human.stdout).to.include(`interface: ${pair.nameB}`);
      });

      it('gives a peer with the wrong public key no traffic, and the listener keeps running', async () => {
        const pair = get();
        const down = await pair.down(pair.net.a, pair.nameA);
        expect(down.code, down.stderr).to.equal(0);
        await pair.up(pair.net.a, pair.configA('wrong.pub'));
        const ping = await pair.net.run(pair.net.a, ['ping', '-c', '4', '-i', '0.5', '-W', '1', pair.innerB]);
        expect(ping.code).to.not.equal(0);
        expect(ping.stdout).to.match(/ 0 received/);
        const s = (await pair.status(pair.net.b, pair.nameB)) as { pid: number };
        expect(s.pid).to.be.a('number');
        // The real peer still gets through to the same, still running, listener.
        expect((await pair.down(pair.net.a, pair.nameA)).code).to.equal(0);
        await pair.up(pair.net.a, pair.configA());
        await pair.waitConnected();
        expect(((await pair.status(pair.net.b, pair.nameB)) as { pid: number }).pid).to.equal(s.pid);
      });

      it('`down` removes the interface and ends the process', async () => {
        const pair = get();
        const pids = pair.daemonPids();
        for (const [ns, name] of pair.ends) {
          const r = await pair.down(ns, name);
          expect(r.code, r.stderr).to.equal(0);
          const link = await pair.net.run(ns, ['ip', 'link', 'show', 'dev', name]);
          expect(link.code).to.not.equal(0);
        }
        for (const pid of pids) expect(() => process.kill(pid, 0)).to.throw();
        const again = await pair.down(pair.net.a, pair.nameA);
        expect(again.code).to.equal(1);
        expect(again.stderr).to.match(/no sealtun tunnel/);
      });
    });
  });
}
