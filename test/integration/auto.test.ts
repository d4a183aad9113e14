// Transport = auto between two namespaces, with UDP blocked and unblocked on
// the underlay by iptables: UDP first, TCP when UDP does not get through
// (from the start, or in the middle of a session), UDP again once it works.
// Timers are scaled (SEALTUN_TIME_SCALE = 0.2): the fallback comes once an
// initiation and its retransmission went unanswered (~1.5 s), a UDP probe
// every 6 s.
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually } from '../helpers/netns.js';
import { withPair, type TunnelPair } from '../helpers/tunnel-pair.js';

const SCALE = 0.2;
/** Rekey-Timeout and its jitter until the retransmission, then the time it gets to be answered. */
const FALLBACK_MS = (5000 + 333 + 2000) * SCALE;
const PROBE_MS = 30_000 * SCALE;
const NEW_HANDSHAKE_MS = 15_000 * SCALE;

interface Status {
  transport: string;
  path: string;
  listen: string | null;
}

async function paths(pair: TunnelPair): Promise<[string, string]> {
  const a = (await pair.status(pair.net.a, pair.nameA)) as unknown as Status;
  const b = (await pair.status(pair.net.b, pair.nameB)) as unknown as Status;
  return [a.path, b.path];
}

/** Drops (or stops dropping) every UDP datagram arriving in both namespaces. */
async function blockUdp(pair: TunnelPair, on: boolean): Promise<void> {
  for (const ns of [pair.net.a, pair.net.b]) {
    const r = await pair.net.run(ns, ['iptables', on ? '-I' : '-D', 'INPUT', '-p', 'udp', '-j', 'DROP']);
    expect(r.code, r.stderr).to.equal(0);
  }
}

/** Counts what arrives at B's ListenPort over each transport (rules without a target only count). */
async function countAtB(pair: TunnelPair): Promise<void> {
  for (const proto of ['udp', 'tcp']) {
    const r = await pair.net.run(pair.net.b, ['iptables', '-A', 'INPUT', '-p', proto, '--dport', String(pair.port)]);
    expect(r.code, r.stderr).to.equal(0);
  }
}

/**
 * Bytes counted by countAtB's rules since the last zeroing, then zeroes them.
 * (Bytes, not packets: a veth hands UDP GSO super-datagrams over whole.)
 */
async function arrivedAtB(pair: TunnelPair): Promise<{ udp: number; tcp: number }> {
  const r = await pair.net.run(pair.net.b, ['iptables', '-L', 'INPUT', '-v', '-x', '-n', '-Z']);
  const count = (proto: string) => {
    const line = r.stdout.split('\n').find((l) => l.includes(`${proto} dpt:${pair.port}`));
    return line ? Number(line.trim().split(/\s+/)[1]) : 0;
  };
  return { udp: count('udp'), tcp: count('tcp') };
}

/** Milliseconds between the first lines of `name`'s log that match `from` and `to` (the log's own timestamps). */
function logSpan(pair: TunnelPair, name: string, from: RegExp, to: RegExp): number {
  const lines = pair.log(name).split('\n');
  const at = (re: RegExp) => Date.parse(lines.find((l) => re.test(l))?.split(' ')[0] ?? '');
  return at(to) - at(from);
}

/** Pings B from A once a second until one gets through; returns how long that took. */
async function untilPingWorks(pair: TunnelPair, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  await eventually(async () => (await pair.net.run(pair.net.a, ['ping', '-c', '1', '-W', '1', pair.innerB])).code === 0, timeoutMs, 100);
  return Date.now() - t0;
}

async function pingBothWays(pair: TunnelPair): Promise<void> {
  const ab = await pair.net.run(pair.net.a, ['ping', '-c', '3', '-i', '0.2', '-W', '2', pair.innerB]);
  expect(ab.code, ab.stdout).to.equal(0);
  const ba = await pair.net.run(pair.net.b, ['ping', '-c', '3', '-i', '0.2', '-W', '2', pair.innerA]);
  expect(ba.code, ba.stdout).to.equal(0);
}

/** Waits until both ends report `path`; returns how long that took. */
async function untilPath(pair: TunnelPair, path: string, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  await eventually(async () => (await paths(pair)).every((p) => p === path), timeoutMs, 100);
  return Date.now() - t0;
}

describe('Transport = auto', function () {
  this.timeout(60_000);
  const extraEnv = { SEALTUN_TIME_SCALE: String(SCALE) };

  describe('with UDP open, then blocked mid-session, then open again', () => {
    withPair({ transport: 'auto', extraEnv, beforeStart: countAtB }, (get) => {
      it('handshakes over UDP and carries traffic both ways; status shows path udp', async () => {
        const pair = get();
        await pingBothWays(pair);
        expect(await paths(pair)).to.deep.equal(['udp', 'udp']);
        const b = (await pair.status(pair.net.b, pair.nameB)) as unknown as Status;
        expect(b.transport).to.equal('auto');
        expect(b.listen).to.equal(`*:${pair.port} (udp and tcp)`);
        const text = await pair.cli(pair.net.a, ['status', pair.nameA]);
        expect(text.stdout).to.match(/transport: auto \(udp now\), mtu 1406/);
        expect((await arrivedAtB(pair)).tcp, 'no TCP while UDP works').to.equal(0);
      });

      it('falls back to TCP when UDP is blocked in the middle of a session, and traffic recovers', async () => {
        const pair = get();
        await blockUdp(pair, true);
        // Data sent without an answer for New-Handshake-Time starts a handshake; unanswered, it falls back.
        const took = await untilPingWorks(pair, NEW_HANDSHAKE_MS + FALLBACK_MS + 10_000);
        process.stdout.write(`      (traffic back over TCP ${took} ms after UDP was blocked)\n`);
        await untilPath(pair, 'tcp', 5000);
        await pingBothWays(pair);
        expect(pair.log(pair.nameA)).to.match(/no handshake answer over UDP; falling back to TCP 192\.0\.2\.2:51820/);
      });

      it('moves back to UDP once UDP works again, and data goes over UDP', async () => {
        const pair = get();
        await blockUdp(pair, false);
        const took = await untilPath(pair, 'udp', PROBE_MS + 10_000);
        process.stdout.write(`      (both ends back on UDP ${took} ms after UDP was unblocked)\n`);
        expect(pair.log(pair.nameA)).to.match(/UDP works again; moving back from TCP/);
        // The TCP connection goes once what was in flight on it has arrived.
        await eventually(async () => !(await pair.net.run(pair.net.a, ['ss', '-Htn', 'state', 'established', `dport = :${pair.port}`])).stdout.trim(), 5000, 100);
        await arrivedAtB(pair);
        await pingBothWays(pair);
        const moved = await pair.moveFile(1 << 20);
        expect(moved.received).to.equal(moved.sent);
        const counted = await arrivedAtB(pair);
        expect(counted.tcp, 'TCP bytes at B').to.equal(0);
        expect(counted.udp, 'UDP bytes at B').to.be.greaterThan(1 << 20);
      });
    });
  });

  describe('with UDP blocked from the start', () => {
    withPair(
      {
        transport: 'auto',
        extraEnv,
        beforeStart: async (pair) => {
          await blockUdp(pair, true);
          await countAtB(pair);
        },
      },
      (get) => {
        it('comes up over TCP and carries a 32 MB transfer intact; status shows path tcp', async () => {
          const pair = get();
          const took = logSpan(pair, pair.nameA, / up: auto/, /handshake completed/);
          process.stdout.write(`      (first handshake, over TCP, ${took} ms after A came up)\n`);
          expect(took).to.be.lessThan(FALLBACK_MS + 2000);
          await untilPath(pair, 'tcp', 5000);
          await pingBothWays(pair);
          const moved = await pair.moveFile(32 << 20);
          expect(moved.received).to.equal(moved.sent);
          const text = await pair.cli(pair.net.b, ['status', pair.nameB]);
          expect(text.stdout).to.match(/transport: auto \(tcp now\)/);
          expect(pair.log(pair.nameA)).to.match(/falling back to TCP/);
        });

        it('takes a reloaded Endpoint: starts over on UDP there, and falls back to TCP again', async () => {
          const pair = get();
          // B is renumbered (the old address goes first: deleting a primary address takes the secondaries along).
          for (const args of [['del', `${pair.net.addrB}/24`], ['add', '192.0.2.3/24']]) {
            const r = await pair.net.run(pair.net.b, ['ip', 'address', ...args, 'dev', pair.net.vethB]);
            expect(r.code, r.stderr).to.equal(0);
          }
          const config = join(pair.dir, 'a.conf');
          writeFileSync(config, readFileSync(config, 'utf8').replace(`Endpoint = ${pair.net.addrB}:`, 'Endpoint = 192.0.2.3:'));
          process.kill(pair.pidOf(pair.nameA)!, 'SIGHUP');
          await eventually(async () => /falling back to TCP 192\.0\.2\.3:51820/.test(pair.log(pair.nameA)), FALLBACK_MS + 10_000, 100);
          await untilPingWorks(pair, 10_000);
          await untilPath(pair, 'tcp', 5000);
          const a = (await pair.status(pair.net.a, pair.nameA)) as unknown as { peers: { endpoint: string }[] };
          expect(a.peers[0].endpoint).to.equal('192.0.2.3:51820');
        });

        it('moves back to UDP once UDP is unblocked', async () => {
          const pair = get();
          await blockUdp(pair, false);
          const took = await untilPath(pair, 'udp', PROBE_MS + 10_000);
          process.stdout.write(`      (both ends back on UDP ${took} ms after UDP was unblocked)\n`);
          await eventually(async () => !(await pair.net.run(pair.net.a, ['ss', '-Htn', 'state', 'established', `dport = :${pair.port}`])).stdout.trim(), 5000, 100);
          await arrivedAtB(pair);
          await pingBothWays(pair);
          const counted = await arrivedAtB(pair);
          expect(counted).to.deep.include({ tcp: 0 });
          expect(counted.udp).to.be.greaterThan(6 * 84);
        });
      },
    );
  });
});
