// A full tunnel (AllowedIPs = 0.0.0.0/0, ::/0) on a client whose default
// route goes through a router to an "internet" host, with the server behind
// the same router (test/helpers/full-tunnel-hosts.ts): the client's traffic
// to the internet goes through the tunnel and out of the server, never in
// cleartext on the client's underlay, while the tunnel's own packets still
// reach the server by the underlay (policy routing by mark, as wg-quick);
// `down` leaves the client's rules and routes exactly as they were.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FullTunnelHosts, type FullTunnelOptions, type RoutingSnapshot } from '../helpers/full-tunnel-hosts.js';
import { eventually } from '../helpers/netns.js';

/** Starts the hosts and the server's tunnel; prints the logs when a test fails; removes everything after. */
function withHosts(opts: FullTunnelOptions, body: (get: () => FullTunnelHosts) => void): void {
  let hosts: FullTunnelHosts;
  before(async () => {
    hosts = await FullTunnelHosts.create(opts);
    await hosts.upServer();
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') {
      process.stderr.write(`--- client log ---\n${hosts.log(hosts.client, hosts.name)}\n--- server log ---\n${hosts.log(hosts.server, hosts.serverName)}\n`);
    }
  });
  after(async () => {
    await hosts?.destroy();
  });
  body(() => hosts);
}

/** Waits until a ping from the client reaches the internet host (through whichever path is set up). */
async function reachesInternet(h: FullTunnelHosts, addr = h.internetAddr): Promise<void> {
  await eventually(async () => h.pings(addr), 15_000, 100);
}

function expectSameRouting(after: RoutingSnapshot, before: RoutingSnapshot): void {
  expect(after.rules4, 'ip -4 rule').to.equal(before.rules4);
  expect(after.rules6, 'ip -6 rule').to.equal(before.rules6);
  expect(after.routes4, 'ip -4 route show table all').to.equal(before.routes4);
  expect(after.routes6, 'ip -6 route show table all').to.equal(before.routes6);
  expect(after.nftTables, 'nft list tables').to.equal(before.nftTables);
  // Set by a full tunnel and kept on down, as wg-quick (policy-routing.ts): another may still need it.
  expect(after.srcValidMark, 'src_valid_mark').to.equal('1');
}

describe('full tunnel (AllowedIPs = 0.0.0.0/0, ::/0)', function () {
  this.timeout(120_000);

  for (const transport of ['udp', 'tcp'] as const) {
    describe(`over ${transport}`, () => {
      withHosts({ transport }, (get) => {
        it('carries the client\'s internet traffic through the tunnel, keeps the endpoint on the underlay, and down restores the routing exactly', async () => {
          const h = get();
          await reachesInternet(h); // directly, through the router
          const before = await h.snapshot();
          const up = await h.upClient();
          expect(up.code, up.stderr).to.equal(0);

          const onServerTun = await h.capture(h.server, h.serverName, ['host', h.internetAddr]);
          const onClientUnderlay = await h.capture(h.client, h.clientDev, []);
          await reachesInternet(h);
          await reachesInternet(h, h.internetAddr6);
          const tunnelSaw = await onServerTun.stop();
          const underlaySaw = await onClientUnderlay.stop();
          expect(tunnelSaw.some((l) => l.includes(`> ${h.internetAddr}: ICMP echo request`)), `server's TUN saw:\n${tunnelSaw.join('\n')}`).to.equal(true);
          const cleartext = underlaySaw.filter((l) => l.includes(h.internetAddr) || l.includes(h.internetAddr6));
          expect(cleartext, 'packets to the internet host in cleartext on the client underlay').to.deep.equal([]);
          const toEndpoint = underlaySaw.filter((l) => l.includes(`> ${h.serverAddr}.${h.port}:`));
          expect(toEndpoint.length, `sealed packets to the endpoint on the underlay:\n${underlaySaw.slice(0, 20).join('\n')}`).to.be.greaterThan(0);

          const rules = await h.snapshot();
          expect(rules.rules4).to.match(/not from all fwmark 0xca6c lookup 51820/);
          expect(rules.rules4).to.match(/from all lookup main suppress_prefixlength 0/);
          expect(rules.rules6).to.match(/not from all fwmark 0xca6c lookup 51820/);
          expect(rules.routes4).to.match(new RegExp(`default dev ${h.name} table 51820`));
          expect([before.srcValidMark, rules.srcValidMark]).to.deep.equal(['0', '1']);

          const down = await h.downClient();
          expect(down.code, down.stderr).to.equal(0);
          expectSameRouting(await h.snapshot(), before);
          await reachesInternet(h);
        });
      });
    });
  }

  describe('leftovers of a daemon killed with kill -9', () => {
    withHosts({ transport: 'udp' }, (get) => {
      it('down removes its rules (a second down too, harmlessly), and up after the crash starts cleanly', async () => {
        const h = get();
        const before = await h.snapshot();
        expect((await h.upClient()).code).to.equal(0);
        await reachesInternet(h);
        await h.kill9Client();
        const left = await h.snapshot();
        expect(left.rules4, 'the rules outlive the daemon').to.match(/fwmark 0xca6c/);

        // up after the crash: the dead daemon's rules go before new ones are added (no duplicates).
        const up = await h.upClient();
        expect(up.code, up.stderr).to.equal(0);
        await reachesInternet(h);
        const again = await h.snapshot();
        expect(again.rules4.match(/fwmark 0xca6c/g)?.length, again.rules4).to.equal(1);
        expect(again.rules6.match(/fwmark 0xca6c/g)?.length, again.rules6).to.equal(1);
        await h.kill9Client();

        const down = await h.downClient();
        expect(down.code, down.stderr).to.equal(0);
        expectSameRouting(await h.snapshot(), before);
        const second = await h.downClient();
        expect(second.code, 'a second down finds nothing to stop').to.equal(1);
        expect(second.stderr).to.match(/no sealtun tunnel of that name is running/);
        expectSameRouting(await h.snapshot(), before);
        await reachesInternet(h);
      });
    });
  });

  describe('a daemon that dropped root (--user nobody), with a kill switch', () => {
    withHosts({ transport: 'udp', extraClient: 'KillSwitch = on' }, (get) => {
      it('cannot undo its rules nor change its kill switch itself; set (as root) and down do', async () => {
        const h = get();
        const before = await h.snapshot();
        const up = await h.upClient('--user', 'nobody');
        expect(up.code, up.stderr).to.equal(0);
        await reachesInternet(h);
        const onServerTun = await h.capture(h.server, h.serverName, ['host', h.internetAddr]);
        await reachesInternet(h);
        expect((await onServerTun.stop()).length, 'through the tunnel').to.be.greaterThan(0);
        const serverKey = readFileSync(join(h.dir, 's.pub'), 'utf8').trim();
        const set = await h.cli(h.client, ['set', h.name, 'peer', serverKey, 'endpoint', `[${h.serverAddr6}]:${h.port}`]);
        expect(set.code, set.stderr).to.equal(0);
        const moved = await h.net.run(h.client, ['nft', 'list', 'set', 'inet', `sealtun-${h.name}`, 'endpoints6']);
        expect(moved.stdout).to.include(`${h.serverAddr6} . udp . ${h.port}`);
        await reachesInternet(h);
        const down = await h.downClient();
        expect(down.code, down.stderr).to.equal(0);
        expectSameRouting(await h.snapshot(), before);
      });
    });
  });

  describe('kill switch', () => {
    const LISTEN_PORT = 51999;

    /**
     * An unprivileged process (nobody) in the client's namespace sends to
     * the internet host from the tunnel's ListenPort (as `socat
     * sourceport=` would to get past a rule on the source port); returns
     * what tcpdump on the client's underlay saw going to the internet host.
     */
    async function sendFromListenPort(h: FullTunnelHosts, proto: 'udp' | 'tcp'): Promise<string[]> {
      const capture = await h.capture(h.client, h.clientDev, ['host', h.internetAddr]);
      const to = proto === 'udp' ? `UDP:${h.internetAddr}:9` : `TCP:${h.internetAddr}:9,connect-timeout=1`;
      await h.net.run(h.client, ['runuser', '-u', 'nobody', '--', 'socat', '-u', 'OPEN:/dev/zero,readbytes=3000', `${to},sourceport=${LISTEN_PORT},reuseaddr`], { timeoutMs: 5000 });
      return capture.stop();
    }

    /**
     * A transfer from the client to the internet host (a TCP stream and
     * pings) through the tunnel; the client daemon is killed with kill -9
     * in the middle of it. Returns what tcpdump on the client's underlay saw
     * going to the internet host from the crash on (cleartext: the tunnel's
     * own packets go to the server's address).
     */
    async function crashDuringTransfer(h: FullTunnelHosts, afterCrash: () => Promise<void> = async () => {}): Promise<string[]> {
      const sink = h.net.spawn(h.internet, ['socat', '-u', 'TCP-LISTEN:5001,reuseaddr', 'OPEN:/dev/null']);
      await eventually(async () => (await h.net.run(h.internet, ['ss', '-Hltn', 'sport = :5001'])).stdout.includes('5001'), 5000, 50);
      const stream = h.net.spawn(h.client, ['socat', '-u', 'OPEN:/dev/zero', `TCP:${h.internetAddr}:5001`]);
      const pings = h.net.spawn(h.client, ['ping', '-i', '0.1', '-c', '80', h.internetAddr]);
      await new Promise((r) => setTimeout(r, 1000));
      expect(stream.exitCode, 'the stream is flowing when the daemon dies').to.equal(null);
      const capture = await h.capture(h.client, h.clientDev, ['host', h.internetAddr, 'or', 'host', h.internetAddr6]);
      await h.kill9Client();
      await new Promise((r) => setTimeout(r, 2500));
      await afterCrash();
      const seen = await capture.stop();
      for (const c of [stream, pings, sink]) c.kill('SIGKILL');
      return seen;
    }

    describe('off: the test itself sees a leak', () => {
      withHosts({ transport: 'udp' }, (get) => {
        it('without KillSwitch, the same crash sends the transfer in cleartext on the underlay', async () => {
          const h = get();
          expect((await h.upClient()).code).to.equal(0);
          await reachesInternet(h);
          const seen = await crashDuringTransfer(h);
          console.log(`      without KillSwitch: ${seen.length} cleartext packets to the internet host in the 2.5 s after kill -9`);
          expect(seen.length, 'cleartext packets to the internet host after the crash').to.be.greaterThan(0);
          expect((await h.downClient()).code).to.equal(0);
        });
      });
    });

    describe('on', () => {
      withHosts({ transport: 'udp', extraClient: 'KillSwitch = on' }, (get) => {
        it('holds through kill -9 and the next up (nothing in cleartext), follows the endpoint on set and reload, and only down lifts it', async () => {
          const h = get();
          const before = await h.snapshot();
          const up = await h.upClient();
          expect(up.code, up.stderr).to.equal(0);
          await reachesInternet(h);
          expect(await h.pings(h.lanRouter), 'the LAN is outside the tunnel: blocked without KillSwitchAllowLan').to.equal(false);
          let afterCrash = '';
          const seen = await crashDuringTransfer(h, async () => {
            afterCrash = (await h.snapshot()).nftTables;
            // A restart replaces it in one transaction: the handshake gets through the old one, and traffic flows again.
            const again = await h.upClient();
            expect(again.code, again.stderr).to.equal(0);
            await reachesInternet(h);
          });
          expect(seen, 'cleartext packets to the internet host from the crash through the restart').to.deep.equal([]);
          expect(afterCrash, 'the kill switch outlives the daemon').to.include(`table inet sealtun-${h.name}`);
          const tables = (await h.snapshot()).nftTables;
          expect(tables.match(/sealtun-/g)?.length, tables).to.equal(1);

          // The endpoint moves (set), then back (reload): the allowed set follows, and the tunnel keeps working through it.
          const serverKey = readFileSync(join(h.dir, 's.pub'), 'utf8').trim();
          const set = await h.cli(h.client, ['set', h.name, 'peer', serverKey, 'endpoint', `[${h.serverAddr6}]:${h.port}`]);
          expect(set.code, set.stderr).to.equal(0);
          const moved = await h.net.run(h.client, ['nft', 'list', 'table', 'inet', `sealtun-${h.name}`]);
          expect(moved.stdout).to.include(`${h.serverAddr6} . udp . ${h.port}`).and.not.include(`${h.serverAddr} . udp`);
          await reachesInternet(h);
          const reload = await h.cli(h.client, ['reload', h.clientConfig]);
          expect(reload.code, reload.stderr).to.equal(0);
          const back = await h.net.run(h.client, ['nft', 'list', 'table', 'inet', `sealtun-${h.name}`]);
          expect(back.stdout).to.include(`${h.serverAddr} . udp . ${h.port}`).and.not.include(h.serverAddr6);
          await reachesInternet(h);

          await h.kill9Client();
          expect(await h.pings(h.internetAddr, 1), 'nothing gets out while the daemon is dead').to.equal(false);
          const down = await h.downClient();
          expect(down.code, down.stderr).to.equal(0);
          expectSameRouting(await h.snapshot(), before);
          await reachesInternet(h);
        });
      });
    });

    describe('on, with a ListenPort', () => {
      withHosts({ transport: 'udp', extraClient: `KillSwitch = on\nListenPort = ${LISTEN_PORT}` }, (get) => {
        it('lets nothing out from the ListenPort but the tunnel\'s own (marked) packets, while up and after kill -9', async () => {
          const h = get();
          expect((await h.upClient()).code).to.equal(0);
          await reachesInternet(h);
          const table = await h.net.run(h.client, ['nft', 'list', 'table', 'inet', `sealtun-${h.name}`]);
          const whileUp = await sendFromListenPort(h, 'tcp');
          await h.kill9Client();
          const afterCrash = [...(await sendFromListenPort(h, 'udp')), ...(await sendFromListenPort(h, 'tcp'))];
          console.log(`      from port ${LISTEN_PORT} as nobody: ${whileUp.length} cleartext packets while up, ${afterCrash.length} after kill -9`);
          expect(whileUp, 'cleartext from the ListenPort while up').to.deep.equal([]);
          expect(afterCrash, 'cleartext from the ListenPort after kill -9').to.deep.equal([]);
          expect(table.stdout, 'the tunnel\'s own packets go out by their mark').to.match(/meta mark 0x0000ca6c accept/).and.not.match(/sport/);
          expect((await h.downClient()).code).to.equal(0);
        });
      });
    });

    describe('on, with KillSwitchAllowLan', () => {
      withHosts({ transport: 'udp', extraClient: 'KillSwitch = on\nKillSwitchAllowLan = on' }, (get) => {
        it('lets the private LAN through, while the tunnel runs and after kill -9, but nothing else', async () => {
          const h = get();
          expect((await h.upClient()).code).to.equal(0);
          await reachesInternet(h);
          expect(await h.pings(h.lanRouter), 'LAN while up').to.equal(true);
          await h.kill9Client();
          expect(await h.pings(h.lanRouter), 'LAN after the crash').to.equal(true);
          expect(await h.pings(h.internetAddr), 'the internet after the crash').to.equal(false);
          expect((await h.downClient()).code).to.equal(0);
        });
      });
    });
  });
});
