// The peer's UDP endpoint against an attacker on the path: a copy of a
// handshake response re-sent from a spoofed address wins the race with the
// real one and moves the initiator there (issue 14, item 1).
//
// At a rekey, with traffic from the peer: the peer's next authenticated
// packet from its real address moves the initiator back. On the first
// handshake, with a peer that sends nothing (it has no confirmed key, and no
// PersistentKeepalive): the initiator's unanswered handshake goes to the
// configured Endpoint, not to the spoofed address it learned.
//
// The race, made deterministic: a firewall rule in A's namespace drops the
// real response, tcpdump on A's veth has seen it first, and the copy goes
// out from 192.0.2.66 in B's namespace.
import type { ChildProcess } from 'node:child_process';
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, TestNet } from '../helpers/netns.js';
import { readPcap } from '../helpers/pcap.js';
import { REPO, TunnelPair, withPair } from '../helpers/tunnel-pair.js';
import { MESSAGE_RESPONSE, MESSAGE_RESPONSE_BYTES } from '../../src/tunnel/messages.js';

const HELPERS = join(REPO, 'dist', 'test', 'helpers');
const NODE = process.execPath;
const SCALE = 0.2;
/** The scaled keepalive interval (10 s) plus a rekey timeout (5 s): what a recovery may take at most. */
const RECOVERY_LIMIT_MS = (10 + 5) * 1000 * SCALE;
const SPOOFED = '192.0.2.66';
const SPOOFED_PORT = 4444;
/** New-Handshake (keepalive 10 s + rekey timeout 5 s, scaled), a handshake, and the pings' own second each way, with room. */
const FIRST_RECOVERY_LIMIT_MS = 20 * 1000 * SCALE + 10_000;
/** IPv4 + UDP + a handshake response: no other sealtun message has this size. */
const RESPONSE_IP_BYTES = 20 + 8 + MESSAGE_RESPONSE_BYTES;

for (const transport of ['udp', 'auto'] as const) {
  describe(`peer endpoint against a spoofed handshake response (Transport = ${transport}, on UDP)`, function () {
    this.timeout(180_000);
    withPair({ transport, extraEnv: { SEALTUN_TIME_SCALE: String(SCALE) } }, (get) => {
      it('one spoofed copy of the rekey response moves the initiator; the peer\'s next authenticated packet moves it back, and traffic flows both ways', async () => {
        const pair = get();
        const { a, b } = pair.net;
        const real = `${pair.net.addrB}:${pair.port}`;
        // B keeps sending on its current session, as any peer with traffic does.
        pair.net.spawn(b, ['ping', '-i', '0.2', pair.innerA]);
        // The rekey comes TIMERS.rekeyAfterMs (120 s scaled) after the first handshake.
        const t0 = await spoofNextResponse(pair, await spoofRig(pair), 60_000);

        // The attack took: A moved to the spoofed address.
        await eventually(async () => pair.log(pair.nameA).includes(`peer endpoint is now ${SPOOFED}:${SPOOFED_PORT}`), 5000, 20);
        // Recovered: A sends to B's real address again and pings go through both ways.
        let endpoint = '';
        await eventually(
          async () => {
            const s = (await pair.status(a, pair.nameA)) as { peers: { endpoint: string }[] };
            endpoint = s.peers[0].endpoint;
            if (endpoint !== real) return false;
            const [ab, ba] = await Promise.all([
              pair.net.run(a, ['ping', '-c', '1', '-W', '1', pair.innerB]),
              pair.net.run(b, ['ping', '-c', '1', '-W', '1', pair.innerA]),
            ]);
            return ab.code === 0 && ba.code === 0;
          },
          RECOVERY_LIMIT_MS,
          50,
        ).catch(() => {
          throw new Error(`no recovery within ${RECOVERY_LIMIT_MS} ms: A's endpoint is ${endpoint}, pings do not go through both ways`);
        });
        const recoveryMs = Date.now() - t0;
        process.stderr.write(`      (recovered ${recoveryMs} ms after the spoofed response; A's endpoint ${real})\n`);
        const s = (await pair.status(a, pair.nameA)) as { peers: { endpoint: string; handshakes: number }[] };
        expect(s.peers[0].endpoint).to.equal(real);
        expect(s.peers[0].handshakes, 'the first handshake and the hijacked rekey').to.be.at.least(2);
      });
    });
  });
}

/** What it takes to answer A from a spoofed address with a copy of B's next handshake response. */
interface SpoofRig {
  injector: ChildProcess;
  pcap: string;
  /** The iptables rule (in A's namespace) that holds back B's real responses. */
  rule: string[];
  injected: () => string;
}

/** Sets the trap: the spoofed address in B's namespace, tcpdump on A's veth, the rule dropping B's responses at A. */
async function spoofRig(pair: TunnelPair): Promise<SpoofRig> {
  const { a, b } = pair.net;
  expect((await pair.net.run(b, ['ip', 'address', 'add', `${SPOOFED}/32`, 'dev', pair.net.vethB])).code).to.equal(0);
  const injector = pair.net.spawn(b, [NODE, join(HELPERS, 'inject.js'), 'from', SPOOFED, String(SPOOFED_PORT)]);
  let injected = '';
  injector.stdout!.on('data', (d: Buffer) => (injected += d.toString()));
  await eventually(async () => injected.includes('ready'), 5000, 50);
  const pcap = join(pair.dir, 'response.pcap');
  const dump = pair.net.spawn(a, ['tcpdump', '-Z', 'root', '--immediate-mode', '-U', '-n', '-i', pair.net.vethA, '-w', pcap, 'udp', 'and', 'src', 'port', String(pair.port), 'and', 'greater', String(14 + RESPONSE_IP_BYTES - 1), 'and', 'less', String(14 + RESPONSE_IP_BYTES)]);
  let dumpErr = '';
  dump.stderr!.on('data', (d: Buffer) => (dumpErr += d.toString()));
  await eventually(async () => dumpErr.includes('listening on'), 5000, 50);
  const rule = ['INPUT', '-p', 'udp', '-s', pair.net.addrB, '--sport', String(pair.port), '-m', 'length', '--length', String(RESPONSE_IP_BYTES), '-j', 'DROP'];
  expect((await pair.net.run(a, ['iptables', '-I', ...rule])).code).to.equal(0);
  return { injector, pcap, rule, injected: () => injected };
}

/** Waits for B's next response (held back from A), sends A its copy from the spoofed address, lifts the rule; returns when the copy went out. */
async function spoofNextResponse(pair: TunnelPair, rig: SpoofRig, withinMs: number): Promise<number> {
  const response = await eventually(
    async () => {
      let file: Buffer;
      try {
        file = readFileSync(rig.pcap);
      } catch {
        return null;
      }
      if (file.length <= 24) return null;
      return readPcap(file).find((s) => s.proto === 'udp' && s.payload.length === MESSAGE_RESPONSE_BYTES && s.payload[0] === MESSAGE_RESPONSE) ?? null;
    },
    withinMs,
    10,
  );
  rig.injector.stdin!.write(`${pair.net.addrA} ${response.dport} ${response.payload.toString('hex')}\n`);
  const t0 = Date.now();
  await eventually(async () => rig.injected().includes('sent'), 2000, 5);
  expect((await pair.net.run(pair.net.a, ['iptables', '-D', ...rig.rule])).code).to.equal(0);
  return t0;
}

for (const transport of ['udp', 'auto'] as const) {
  describe(`peer endpoint against a spoofed response to the first handshake, responder idle (Transport = ${transport}, on UDP)`, function () {
    this.timeout(180_000);
    let pair: TunnelPair;
    before(async () => {
      pair = new TunnelPair(TestNet.create(), { transport, extraEnv: { SEALTUN_TIME_SCALE: String(SCALE) } });
      await pair.keygen();
      await pair.up(pair.net.b, pair.configB());
    });
    afterEach(function () {
      if (this.currentTest?.state === 'failed') {
        for (const name of [pair.nameA, pair.nameB]) process.stderr.write(`--- ${name} log ---\n${pair.log(name)}\n`);
      }
    });
    after(async () => {
      await pair?.destroy();
    });

    it('the spoofed copy moves the initiator; its unanswered handshake goes to the configured Endpoint, and traffic flows both ways', async () => {
      const { a, b } = pair.net;
      const real = `${pair.net.addrB}:${pair.port}`;
      const rig = await spoofRig(pair);
      await pair.up(a, pair.configA());
      const t0 = await spoofNextResponse(pair, rig, 10_000);
      await eventually(async () => pair.log(pair.nameA).includes(`peer endpoint is now ${SPOOFED}:${SPOOFED_PORT}`), 5000, 20);
      // B sends nothing (its key unconfirmed, no PersistentKeepalive); A has
      // traffic for B, which goes unanswered for New-Handshake (15 s scaled).
      let endpoint = '';
      await eventually(
        async () => {
          const ab = await pair.net.run(a, ['ping', '-c', '1', '-W', '1', pair.innerB]);
          endpoint = ((await pair.status(a, pair.nameA)) as { peers: { endpoint: string }[] }).peers[0].endpoint;
          if (ab.code !== 0 || endpoint !== real) return false;
          return (await pair.net.run(b, ['ping', '-c', '1', '-W', '1', pair.innerA])).code === 0;
        },
        FIRST_RECOVERY_LIMIT_MS,
        50,
      ).catch(() => {
        throw new Error(`no recovery within ${FIRST_RECOVERY_LIMIT_MS} ms: A's endpoint is ${endpoint}, pings do not go through both ways`);
      });
      const recoveryMs = Date.now() - t0;
      process.stderr.write(`      (recovered ${recoveryMs} ms after the spoofed response to the first handshake; A's endpoint ${real})\n`);
      // Under auto, a detour would do too: falling back to TCP, which dials the configured Endpoint.
      const { path } = (await pair.status(a, pair.nameA)) as { path: string };
      expect(path, 'recovered over UDP, not by falling back to TCP').to.equal('udp');
      expect(pair.log(pair.nameA)).to.include('back to the configured Endpoint');
    });
  });
}
