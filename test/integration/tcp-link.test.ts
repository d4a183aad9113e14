// The TCP transport under a stalled peer, under idle connections that
// never authenticate, under a flood of connections and under connections
// whose initiations pass mac1 (their sender knows the public key) but
// nothing after it: none may freeze or lock out the tunnel.
import { join } from 'node:path';
import { expect } from 'chai';
import { TestNet } from '../helpers/netns.js';
import { REPO, TunnelPair } from '../helpers/tunnel-pair.js';

const TCP_GARBAGE = join(REPO, 'dist', 'test', 'helpers', 'tcp-garbage.js');

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

describe('TCP transport under hostile connections', function () {
  this.timeout(120_000);
  let pair: TunnelPair;

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') {
      for (const name of [pair.nameA, pair.nameB]) process.stderr.write(`--- ${name} log ---\n${pair.log(name)}\n`);
    }
    await pair?.destroy();
  });

  // 64 addresses on host A: of one /64 (one source to a limit that counts by
  // /64, 64 sources to one that counts by address), or one in each of 64 /64s
  // of one /56 (64 sources holding a slot each: ties, broken by network). The
  // real peer connects over IPv4.
  const floods = [
    { what: 'one IPv6 /64', address: (i: number) => `2001:db8::f:${(i + 1).toString(16)}` },
    { what: '64 /64s of one IPv6 /56', address: (i: number) => `2001:db8:0:${(i + 1).toString(16)}::1`, route: '2001:db8::/56' },
  ];
  for (const { what, address, route } of floods) {
    it(`a connection flood from ${what}: the real peer connects during it, keeps its connection, and traffic flows`, async () => {
      pair = new TunnelPair(TestNet.create({ ipv6: true }), { transport: 'tcp' });
      const { net } = pair;
      await pair.keygen();
      await pair.up(net.b, pair.configB());
      const sources = Array.from({ length: 64 }, (_, i) => address(i));
      const batch = sources.map((a) => `address add ${a}/64 dev ${net.vethA} nodad`).join('\n');
      expect((await net.run(net.a, ['ip', '-batch', '-'], { input: `${batch}\n` })).code).to.equal(0);
      // B reaches the other /64s on the link too.
      if (route) expect((await net.run(net.b, ['ip', '-6', 'route', 'add', route, 'dev', net.vethB])).code).to.equal(0);
      const flood = net.spawn(net.a, [process.execPath, TCP_GARBAGE, net.addr6B, String(pair.port), '20', ...sources]);
      let floodOut = '';
      flood.stdout!.on('data', (d: Buffer) => (floodOut += d.toString()));
      await new Promise((r) => setTimeout(r, 2000));
      const started = Date.now();
      await pair.up(net.a, pair.configA());
      await pair.waitConnected(20_000);
      const connectedMs = Date.now() - started;
      // Traffic while the flood goes on.
      const ping = await net.run(net.a, ['ping', '-c', '20', '-i', '0.5', '-W', '1', pair.innerB], { timeoutMs: 30_000 });
      const received = Number(/(\d+) received/.exec(ping.stdout)?.[1] ?? 0);
      await new Promise<void>((r) => (flood.exitCode !== null ? r() : flood.on('exit', () => r())));
      const counts = JSON.parse(floodOut.trim() || '{}') as { opened?: number; closedByPeer?: number };
      const logA = pair.log(pair.nameA);
      const connects = logA.split('\n').filter((l) => / connected to .* over TCP/.test(l)).length;
      const losses = logA.split('\n').filter((l) => /TCP connection lost/.test(l)).length;
      process.stdout.write(
        `      flood: ${counts.opened} connections from ${sources.length} addresses of ${what}, ${counts.closedByPeer} closed by the listener; ` +
          `real peer: connected in ${connectedMs} ms, ${connects} connection(s), ${losses} lost, ${received}/20 pings answered during the flood\n`,
      );
      expect(counts.opened, 'the flood ran').to.be.above(100);
      expect(connects, 'one connection, never evicted').to.equal(1);
      expect(losses).to.equal(0);
      expect(received).to.be.at.least(18);
    });
  }

  it('connections that pass mac1 and fail the handshake, 2 from each of 4 sources, re-sending every 4 s, do not keep the real peer out', async () => {
    pair = new TunnelPair(TestNet.create(), { transport: 'tcp' });
    const { net } = pair;
    await pair.keygen();
    await pair.up(net.b, pair.configB());
    // 4 sources x 2 connections: every pending slot (8), at the per-source cap (2).
    const sources = ['192.0.2.11', '192.0.2.12', '192.0.2.13', '192.0.2.14'];
    const batch = sources.map((a) => `address add ${a}/24 dev ${net.vethA}`).join('\n');
    expect((await net.run(net.a, ['ip', '-batch', '-'], { input: `${batch}\n` })).code).to.equal(0);
    const garbage = [process.execPath, TCP_GARBAGE, net.addrB, String(pair.port), '15', '--mac1', join(pair.dir, 'b.pub'), ...sources];
    const flood = net.spawn(net.a, garbage);
    let floodOut = '';
    flood.stdout!.on('data', (d: Buffer) => (floodOut += d.toString()));
    await new Promise((r) => setTimeout(r, 2000));
    const t0 = Date.now();
    await pair.up(net.a, pair.configA());
    const upMs = Date.now() - t0;
    await pair.waitConnected(20_000);
    const connectedMs = Date.now() - t0 - upMs;
    await new Promise<void>((r) => (flood.exitCode !== null ? r() : flood.on('exit', () => r())));
    const counts = JSON.parse(floodOut.trim() || '{}') as { opened?: number; closedByPeer?: number };
    process.stdout.write(
      `      forged-mac1 connections: ${counts.opened} opened from ${sources.length} sources, ${counts.closedByPeer} closed by the listener; ` +
        `real peer up in ${upMs} ms, connected ${connectedMs} ms later\n`,
    );
    expect(counts.opened, 'the flood ran').to.be.at.least(8);
    // The first attempt, or the one after the first backoff step (0.5 s); refused ones back off 1, 2, 4 s...
    expect(connectedMs).to.be.below(3000);
  });
});
