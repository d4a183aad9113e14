// Resilience and hostile input, end to end between two namespaces: loss on
// the underlay, kill -9 and restart of either end, roaming, rekeys under
// load, a cut TCP underlay, replayed captures, garbage and handshake floods,
// cookies under load, and dropping root. Timers are scaled down
// (SEALTUN_TIME_SCALE) where a test would otherwise wait for minutes.
import { expect } from 'chai';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, TestNet } from '../helpers/netns.js';
import { readPcap, records, tcpStream } from '../helpers/pcap.js';
import { REPO, rssKb, TunnelPair, withPair } from '../helpers/tunnel-pair.js';
import { threadCredentials } from '../../src/daemon/privileges.js';

const HELPERS = join(REPO, 'dist', 'test', 'helpers');
const FLOOD = join(REPO, 'dist', 'bench', 'flood.js');
const NODE = process.execPath;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Status {
  peers: { endpoint: string | null; handshakes: number; latestHandshakeAt: number | null }[];
  dropped: Record<string, number>;
  pid: number;
}

async function status(pair: TunnelPair, side: 'a' | 'b'): Promise<Status> {
  return (await pair.status(side === 'a' ? pair.net.a : pair.net.b, side === 'a' ? pair.nameA : pair.nameB)) as unknown as Status;
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((r) => {
    if (child.exitCode !== null) r(child.exitCode);
    else child.on('exit', (code) => r(code));
  });
}

/**
 * Sends `bytes` random bytes from A to B over one TCP connection inside the
 * tunnel, paced at `rate` bytes/s (or as fast as possible), running `during`
 * once `duringAt` of it has arrived; checks SHA-256 at both ends.
 */
async function transfer(
  pair: TunnelPair,
  bytes: number,
  opts: { rate?: number; port?: number; duringAt?: number; during?: () => Promise<void>; timeoutMs?: number } = {},
): Promise<void> {
  const port = opts.port ?? 5001;
  const data = randomBytes(bytes);
  const src = join(pair.dir, `send-${port}.bin`);
  const dst = join(pair.dir, `recv-${port}.bin`);
  writeFileSync(src, data);
  writeFileSync(dst, '');
  const sink = pair.net.spawn(pair.net.b, ['socat', '-u', `TCP-LISTEN:${port},bind=${pair.innerB},reuseaddr`, `OPEN:${dst},creat,trunc`]);
  const sinkDone = exited(sink);
  await eventually(async () => (await pair.net.run(pair.net.b, ['ss', '-Hltn', `sport = :${port}`])).stdout.includes(`${port}`), 5000, 50);
  const sender = opts.rate
    ? pair.net.spawn(pair.net.a, [NODE, join(HELPERS, 'paced-send.js'), pair.innerB, String(port), src, String(opts.rate)])
    : pair.net.spawn(pair.net.a, ['socat', '-u', `OPEN:${src}`, `TCP:${pair.innerB}:${port}`]);
  let senderErr = '';
  sender.stderr!.on('data', (d: Buffer) => (senderErr += d.toString()));
  const senderDone = exited(sender);
  if (opts.during) {
    const at = (opts.duringAt ?? 0.25) * bytes;
    await eventually(async () => statSync(dst).size >= at, opts.timeoutMs ?? 60_000, 20);
    await opts.during();
  }
  const timeout = sleep(opts.timeoutMs ?? 120_000).then(() => 'timeout' as const);
  const code = await Promise.race([senderDone, timeout]);
  expect(code, `sender: ${senderErr}`).to.equal(0);
  expect(await Promise.race([sinkDone, sleep(30_000).then(() => 'timeout')])).to.equal(0);
  expect(sha256(readFileSync(dst)), 'SHA-256 of what arrived').to.equal(sha256(data));
}

async function ifindex(pair: TunnelPair, ns: string, name: string): Promise<string> {
  return (await pair.net.run(ns, ['cat', `/sys/class/net/${name}/ifindex`])).stdout.trim();
}

function hasNetem(pair: TunnelPair): boolean {
  try {
    execFileSync('ip', ['netns', 'exec', pair.net.a, 'tc', 'qdisc', 'add', 'dev', pair.net.vethA, 'root', 'netem', 'delay', '1ms'], { stdio: 'pipe' });
    execFileSync('ip', ['netns', 'exec', pair.net.a, 'tc', 'qdisc', 'del', 'dev', pair.net.vethA, 'root'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

for (const transport of ['udp', 'tcp'] as const) {
  describe(`resilience over ${transport}`, function () {
    this.timeout(180_000);

    describe('loss and reordering on the underlay', () => {
      withPair({ transport }, (get) => {
        it('32 MB through the tunnel matches SHA-256 with 2% of underlay packets dropped each way (iptables statistic)', async () => {
          const pair = get();
          for (const [ns, dev] of [
            [pair.net.a, pair.net.vethA],
            [pair.net.b, pair.net.vethB],
          ] as const) {
            for (const [chain, dir] of [
              ['INPUT', '-i'],
              ['OUTPUT', '-o'],
            ] as const) {
              const r = await pair.net.run(ns, ['iptables', '-A', chain, dir, dev, '-m', 'statistic', '--mode', 'random', '--probability', '0.01', '-j', 'DROP']);
              expect(r.code, r.stderr).to.equal(0);
            }
          }
          await transfer(pair, 32 << 20);
          const counters = await pair.net.run(pair.net.a, ['iptables', '-L', 'OUTPUT', '-v', '-n', '-x']);
          expect(counters.stdout).to.match(/^\s*[1-9]\d*\s+\d+\s+DROP/m);
          for (const ns of [pair.net.a, pair.net.b]) await pair.net.run(ns, ['iptables', '-F']);
        });

        it('reordering on the underlay (netem): 32 MB matches SHA-256 — skipped when this kernel has no netem', async function () {
          const pair = get();
          if (!hasNetem(pair)) this.skip();
          await pair.net.run(pair.net.a, ['tc', 'qdisc', 'add', 'dev', pair.net.vethA, 'root', 'netem', 'delay', '2ms', 'reorder', '75%', '50%']);
          try {
            await transfer(pair, 32 << 20);
          } finally {
            await pair.net.run(pair.net.a, ['tc', 'qdisc', 'del', 'dev', pair.net.vethA, 'root']);
          }
        });
      });
    });

    describe('kill -9 and restart of either end (timers × 0.2)', () => {
      withPair({ transport, extraEnv: { SEALTUN_TIME_SCALE: '0.2' } }, (get) => {
        for (const side of ['b', 'a'] as const) {
          it(`${side === 'a' ? 'initiator' : 'listener'} killed mid-transfer and started again: the transfer completes with matching SHA-256`, async () => {
            const pair = get();
            const [ns, name, conf] = side === 'a' ? [pair.net.a, pair.nameA, pair.configA()] : [pair.net.b, pair.nameB, pair.configB()];
            const before = pair.pidOf(name);
            let restartedAt = 0;
            await transfer(pair, 12 << 20, {
              rate: 3 << 20,
              port: side === 'a' ? 5011 : 5012,
              during: async () => {
                await pair.kill9(ns, name);
                await pair.up(ns, conf);
                restartedAt = Date.now();
              },
            });
            expect(pair.pidOf(name)).to.not.equal(before);
            process.stderr.write(`      (transfer finished ${((Date.now() - restartedAt) / 1000).toFixed(1)} s after the restart)\n`);
            await pair.waitConnected();
          });
        }
      });
    });

    describe('rekeys under load (timers × 0.05, message-count rekey lowered)', () => {
      withPair(
        { transport, extraEnv: { SEALTUN_TIME_SCALE: '0.05', SEALTUN_REKEY_AFTER_MESSAGES: transport === 'udp' ? '4000' : '150' } },
        (get) => {
          it('32 MB across several rekeys (by time and by message count, from either side): SHA-256 matches, no packet waits for a key', async () => {
            const pair = get();
            const [a0, b0] = [await status(pair, 'a'), await status(pair, 'b')];
            await transfer(pair, 32 << 20, { rate: 4 << 20 });
            const [a1, b1] = [await status(pair, 'a'), await status(pair, 'b')];
            expect(a1.peers[0].handshakes - a0.peers[0].handshakes, 'handshakes during the transfer').to.be.at.least(2);
            expect(a1.dropped['no-session'] ?? 0).to.equal(a0.dropped['no-session'] ?? 0);
            expect(b1.dropped['no-session'] ?? 0).to.equal(b0.dropped['no-session'] ?? 0);
          });
        },
      );
    });

    describe('replayed capture', () => {
      withPair({ transport }, (get) => {
        it('numbered datagrams arrive exactly once after the whole underlay capture is re-injected', async () => {
          const pair = get();
          const pcap = join(pair.dir, 'replay.pcap');
          const dump = pair.net.spawn(pair.net.b, ['tcpdump', '-Z', 'root', '--immediate-mode', '-B', '16384', '-i', pair.net.vethB, '-U', '-n', '-w', pcap, 'port', String(pair.port)]);
          let dumpErr = '';
          dump.stderr!.on('data', (d: Buffer) => (dumpErr += d.toString()));
          await eventually(async () => dumpErr.includes('listening on'), 5000, 50);
          const recv = pair.net.spawn(pair.net.b, [NODE, join(HELPERS, 'udp-numbers.js'), 'recv', pair.innerB, '5003']);
          let got = '';
          let recvErr = '';
          recv.stdout!.on('data', (d: Buffer) => (got += d.toString()));
          recv.stderr!.on('data', (d: Buffer) => (recvErr += d.toString()));
          await eventually(async () => recvErr.includes('listening'), 5000, 50);
          // A fresh handshake is in the capture too: its initiation gets replayed as well.
          expect((await pair.down(pair.net.a, pair.nameA)).code).to.equal(0);
          await pair.up(pair.net.a, pair.configA());
          await pair.waitConnected();
          const COUNT = 300;
          const send = await pair.net.run(pair.net.a, [NODE, join(HELPERS, 'udp-numbers.js'), 'send', pair.innerB, '5003', String(COUNT), '2']);
          expect(send.code, send.stderr).to.equal(0);
          await sleep(500);
          dump.kill('SIGINT');
          await exited(dump);
          const endpointBefore = (await status(pair, 'b')).peers[0].endpoint;
          const dropsBefore = (await status(pair, 'b')).dropped;

          const segs = readPcap(readFileSync(pcap)).filter((s) => s.dst === pair.net.addrB && s.dport === pair.port);
          const file = join(pair.dir, 'replay.bin');
          if (transport === 'udp') {
            writeFileSync(file, records(segs.map((s) => s.payload)));
            // tcpdump may miss a few under load; what it caught is what the attacker replays.
            expect(segs.length).to.be.at.least(COUNT / 2);
          } else {
            // The connection A opened after its restart, from its first byte: initiation, then data.
            const sports = [...new Set(segs.map((s) => s.sport))];
            const streams = sports.map((p) => tcpStream(segs, p, pair.port)).sort((x, y) => y.length - x.length);
            const stream = streams[0]!;
            writeFileSync(file, stream);
            expect(stream.length).to.be.at.least(COUNT * 32);
          }
          const inj = await pair.net.run(pair.net.a, [NODE, join(HELPERS, 'inject.js'), transport, pair.net.addrB, String(pair.port), file]);
          expect(inj.code, inj.stderr).to.equal(0);
          await sleep(1000);
          recv.kill('SIGTERM');
          await exited(recv);

          const lines = got.split('\n').filter(Boolean);
          const counts = new Map<string, number>();
          for (const l of lines) counts.set(l, (counts.get(l) ?? 0) + 1);
          for (let i = 0; i < COUNT; i++) expect(counts.get(`n-${i}`) ?? 0, `datagram n-${i}`).to.equal(1);
          expect(lines.length).to.equal(COUNT);
          const after = await status(pair, 'b');
          expect(after.dropped['replay'] ?? 0).to.be.greaterThan(dropsBefore['replay'] ?? 0);
          expect(after.dropped['handshake-replayed-timestamp'] ?? 0).to.be.greaterThan(dropsBefore['handshake-replayed-timestamp'] ?? 0);
          // Replayed packets, even from a new source port, never move the endpoint.
          expect(after.peers[0].endpoint).to.equal(endpointBefore);
          await pair.waitConnected();
        });
      });
    });

    describe('hostile traffic at the listening port', () => {
      withPair({ transport }, (get) => {
        it(`a ${transport === 'udp' ? 'garbage datagram flood' : 'flood of bad connections (garbage, oversized frames, forged handshakes, idle)'} during a transfer: the transfer completes, RSS stays bounded, drops are counted by reason`, async () => {
          const pair = get();
          const pid = pair.pidOf(pair.nameB)!;
          const rss0 = rssKb(pid);
          let rssMax = rss0;
          const sampler = setInterval(() => (rssMax = Math.max(rssMax, rssKb(pid))), 100);
          await pair.net.run(pair.net.a, ['ip', 'address', 'add', '192.0.2.3/24', 'dev', pair.net.vethA]);
          const flood =
            transport === 'udp'
              ? pair.net.spawn(pair.net.a, [NODE, FLOOD, 'garbage', '--to', `${pair.net.addrB}:${pair.port}`, '--bind', '192.0.2.3', '--seconds', '8'])
              : pair.net.spawn(pair.net.a, [NODE, join(HELPERS, 'tcp-garbage.js'), pair.net.addrB, String(pair.port), '8']);
          let out = '';
          flood.stdout!.on('data', (d: Buffer) => (out += d.toString()));
          try {
            await sleep(500);
            await transfer(pair, 8 << 20);
            expect(await exited(flood)).to.equal(0);
          } finally {
            clearInterval(sampler);
          }
          process.stderr.write(`      (flood: ${out.trim()}; daemon RSS ${rss0 >> 10} MB before, ${rssMax >> 10} MB at most)\n`);
          expect(rssMax - rss0, 'RSS growth (kB)').to.be.below(150 << 10);
          const s = await status(pair, 'b');
          if (transport === 'udp') {
            for (const reason of ['short', 'unknown-type', 'unknown-index', 'handshake-bad-mac1']) expect(s.dropped[reason] ?? 0, reason).to.be.greaterThan(0);
          } else {
            const r = JSON.parse(out) as { opened: number; closedByPeer: number };
            expect(r.closedByPeer, 'connections the daemon closed (bad frames, no handshake in time, over the cap)').to.be.greaterThan(0);
            expect(s.dropped['bad-frame'] ?? 0).to.be.greaterThan(0);
          }
          await pair.waitConnected();
        });
      });
    });

    describe('cookies: a responder always under load (SEALTUN_UNDER_LOAD_BACKLOG=0)', () => {
      let pair: TunnelPair;
      after(async () => {
        await pair?.destroy();
      });
      it('answers the first initiation with a cookie reply; the retransmission carries mac2 and the tunnel comes up', async () => {
        pair = new TunnelPair(TestNet.create(), { transport, extraEnv: { SEALTUN_TIME_SCALE: '0.2', SEALTUN_UNDER_LOAD_BACKLOG: '0' } });
        try {
          await pair.start();
          await pair.waitConnected(30_000);
          const s = await status(pair, 'b');
          expect(s.dropped['handshake-cookie-sent'] ?? 0).to.be.at.least(1);
          expect(s.peers[0].handshakes).to.be.at.least(1);
        } catch (err) {
          for (const name of [pair.nameA, pair.nameB]) process.stderr.write(`--- ${name} log ---\n${pair.log(name)}\n`);
          throw err;
        }
      });
    });

    describe('dropping root (User / --user)', () => {
      withPair({ transport, upArgs: ['--user', 'nobody'], extraEnv: { SEALTUN_TIME_SCALE: '0.2' } }, (get) => {
        it('every thread of both daemons runs as nobody with no capabilities, and traffic, reconnects and `down` still work', async () => {
          const pair = get();
          for (const name of [pair.nameA, pair.nameB]) {
            const threads = threadCredentials(pair.pidOf(name)!);
            expect(threads.length, 'main thread, two data-path workers and more').to.be.at.least(3);
            for (const t of threads) {
              expect(t.uids, `thread ${t.tid}`).to.deep.equal([65534, 65534, 65534, 65534]);
              expect(t.gids, `thread ${t.tid}`).to.deep.equal([65534, 65534, 65534, 65534]);
              expect([t.capEff, t.capPrm, t.capInh, t.capAmb], `thread ${t.tid}: CapEff, CapPrm, CapInh, CapAmb`).to.deep.equal([0n, 0n, 0n, 0n]);
            }
            expect(pair.log(name)).to.match(/privileges dropped: running as uid 65534/);
          }
          await transfer(pair, 4 << 20);
          // The unprivileged initiator reconnects and re-handshakes: restart the listener.
          await pair.kill9(pair.net.b, pair.nameB);
          await pair.up(pair.net.b, pair.configB());
          await pair.waitConnected(30_000);
          for (const [ns, name] of pair.ends) {
            const r = await pair.down(ns, name);
            expect(r.code, r.stderr).to.equal(0);
            expect((await pair.net.run(ns, ['ip', 'link', 'show', 'dev', name])).code).to.not.equal(0);
            expect(existsSync(pair.runFile(name, 'pid')), 'pid file removed by `down`').to.equal(false);
          }
        });
      });
    });
  });
}

describe('UDP roaming', function () {
  this.timeout(120_000);
  withPair({ transport: 'udp' }, (get) => {
    it("the initiator's address changes mid-transfer: replies follow it, the transfer matches; unauthenticated packets never move it", async () => {
      const pair = get();
      const port = (await status(pair, 'b')).peers[0].endpoint!.split(':')[1];
      await transfer(pair, 16 << 20, {
        rate: 4 << 20,
        during: async () => {
          // Deleting first: a secondary address would go with the primary (promote_secondaries is off).
          await pair.net.run(pair.net.a, ['ip', 'address', 'del', `${pair.net.addrA}/24`, 'dev', pair.net.vethA]);
          await pair.net.run(pair.net.a, ['ip', 'address', 'add', '192.0.2.11/24', 'dev', pair.net.vethA]);
        },
      });
      expect((await status(pair, 'b')).peers[0].endpoint).to.equal(`192.0.2.11:${port}`);
      // Forged data and handshake messages from yet another address: dropped, endpoint unchanged.
      await pair.net.run(pair.net.a, ['ip', 'address', 'add', '192.0.2.12/24', 'dev', pair.net.vethA]);
      const f = await pair.net.run(pair.net.a, [NODE, FLOOD, 'garbage', '--to', `${pair.net.addrB}:${pair.port}`, '--bind', '192.0.2.12', '--seconds', '1', '--rate', '5000']);
      expect(f.code, f.stderr).to.equal(0);
      await pair.net.run(pair.net.a, ['ping', '-c', '2', '-W', '1', pair.innerB]);
      expect((await status(pair, 'b')).peers[0].endpoint).to.equal(`192.0.2.11:${port}`);
    });
  });
});

describe('TCP underlay cut and re-established (persist-tun, timers × 0.2)', function () {
  this.timeout(120_000);
  withPair({ transport: 'tcp', extraEnv: { SEALTUN_TIME_SCALE: '0.2' } }, (get) => {
    it('an open TCP connection inside the tunnel survives: same interfaces, reconnect with backoff, transfer matches', async () => {
      const pair = get();
      const idx = [await ifindex(pair, pair.net.a, pair.nameA), await ifindex(pair, pair.net.b, pair.nameB)];
      await transfer(pair, 12 << 20, {
        rate: 3 << 20,
        during: async () => {
          // Every segment to the listener is answered with a reset for a second: the connection dies, reconnects fail, then succeed.
          const rule = ['INPUT', '-p', 'tcp', '--dport', String(pair.port), '-j', 'REJECT', '--reject-with', 'tcp-reset'];
          expect((await pair.net.run(pair.net.b, ['iptables', '-I', ...rule])).code).to.equal(0);
          await sleep(1000);
          expect((await pair.net.run(pair.net.b, ['iptables', '-D', ...rule])).code).to.equal(0);
        },
      });
      expect(pair.log(pair.nameA)).to.match(/TCP connection lost/);
      expect((pair.log(pair.nameA).match(/connected to .* over TCP/g) ?? []).length).to.be.at.least(2);
      expect([await ifindex(pair, pair.net.a, pair.nameA), await ifindex(pair, pair.net.b, pair.nameB)]).to.deep.equal(idx);
    });
  });
});

describe('handshake initiation flood (forged, valid mac1) against an established UDP tunnel', function () {
  this.timeout(120_000);
  withPair({ transport: 'udp', extraEnv: { SEALTUN_TIME_SCALE: '0.2' } }, (get) => {
    it('the tunnel keeps passing traffic, cookie replies go out, and a new handshake still completes during the flood', async () => {
      const pair = get();
      await pair.net.run(pair.net.a, ['ip', 'address', 'add', '192.0.2.3/24', 'dev', pair.net.vethA]);
      const flood = pair.net.spawn(pair.net.a, [
        NODE,
        FLOOD,
        'initiations',
        '--to',
        `${pair.net.addrB}:${pair.port}`,
        '--bind',
        '192.0.2.3',
        '--pub',
        join(pair.dir, 'b.pub'),
        '--seconds',
        '10',
        '--rate',
        '50000',
      ]);
      let out = '';
      flood.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      await sleep(1000);
      const ping = await pair.net.run(pair.net.a, ['ping', '-c', '10', '-i', '0.2', '-W', '1', pair.innerB]);
      const received = Number(ping.stdout.match(/(\d+) received/)?.[1] ?? 0);
      expect(received, ping.stdout).to.be.at.least(5);
      // The initiator restarts under the flood: its handshake must get through (cookie, then mac2).
      expect((await pair.down(pair.net.a, pair.nameA)).code).to.equal(0);
      await pair.up(pair.net.a, pair.configA());
      await pair.waitConnected(30_000);
      expect(await exited(flood)).to.equal(0);
      const s = await status(pair, 'b');
      process.stderr.write(`      (flood: ${out.trim()}; ping during it: ${received}/10; B dropped: ${JSON.stringify(s.dropped)})\n`);
      expect(s.dropped['handshake-cookie-sent'] ?? 0).to.be.greaterThan(0);
    });
  });
});
