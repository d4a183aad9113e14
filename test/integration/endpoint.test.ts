// The peer's UDP endpoint against an attacker on the path: a copy of a
// handshake response re-sent from a spoofed address wins the race with the
// real one and moves the initiator there; the peer's next authenticated
// packet from its real address must move it back (issue 14, item 1).
//
// The race, made deterministic: at the rekey, a firewall rule in A's
// namespace drops the real response (late: it would be refused anyway, the
// initiation it answers being used up), tcpdump on A's veth has seen it
// first, and the copy goes out from 192.0.2.66 in B's namespace. B pings A
// meanwhile, on the session that is still current on its side.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually } from '../helpers/netns.js';
import { readPcap } from '../helpers/pcap.js';
import { REPO, withPair } from '../helpers/tunnel-pair.js';
import { MESSAGE_RESPONSE, MESSAGE_RESPONSE_BYTES } from '../../src/tunnel/messages.js';

const HELPERS = join(REPO, 'dist', 'test', 'helpers');
const NODE = process.execPath;
const SCALE = 0.2;
/** The scaled keepalive interval (10 s) plus a rekey timeout (5 s): what a recovery may take at most. */
const RECOVERY_LIMIT_MS = (10 + 5) * 1000 * SCALE;
const SPOOFED = '192.0.2.66';
const SPOOFED_PORT = 4444;
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
        expect((await pair.net.run(b, ['ip', 'address', 'add', `${SPOOFED}/32`, 'dev', pair.net.vethB])).code).to.equal(0);
        const injector = pair.net.spawn(b, [NODE, join(HELPERS, 'inject.js'), 'from', SPOOFED, String(SPOOFED_PORT)]);
        let injected = '';
        injector.stdout!.on('data', (d: Buffer) => (injected += d.toString()));
        await eventually(async () => injected.includes('ready'), 5000, 50);
        // B keeps sending on its current session, as any peer with traffic does.
        pair.net.spawn(b, ['ping', '-i', '0.2', pair.innerA]);

        const pcap = join(pair.dir, 'response.pcap');
        const dump = pair.net.spawn(a, ['tcpdump', '-Z', 'root', '--immediate-mode', '-U', '-n', '-i', pair.net.vethA, '-w', pcap, 'udp', 'and', 'src', 'port', String(pair.port), 'and', 'greater', String(14 + RESPONSE_IP_BYTES - 1), 'and', 'less', String(14 + RESPONSE_IP_BYTES)]);
        let dumpErr = '';
        dump.stderr!.on('data', (d: Buffer) => (dumpErr += d.toString()));
        await eventually(async () => dumpErr.includes('listening on'), 5000, 50);
        const rule = ['INPUT', '-p', 'udp', '-s', pair.net.addrB, '--sport', String(pair.port), '-m', 'length', '--length', String(RESPONSE_IP_BYTES), '-j', 'DROP'];
        expect((await pair.net.run(a, ['iptables', '-I', ...rule])).code).to.equal(0);

        // The rekey comes TIMERS.rekeyAfterMs (120 s scaled) after the first handshake.
        const response = await eventually(
          async () => {
            let file: Buffer;
            try {
              file = readFileSync(pcap);
            } catch {
              return null;
            }
            if (file.length <= 24) return null;
            return readPcap(file).find((s) => s.proto === 'udp' && s.payload.length === MESSAGE_RESPONSE_BYTES && s.payload[0] === MESSAGE_RESPONSE) ?? null;
          },
          60_000,
          10,
        );
        injector.stdin!.write(`${pair.net.addrA} ${response.dport} ${response.payload.toString('hex')}\n`);
        const t0 = Date.now();
        await eventually(async () => injected.includes('sent'), 2000, 5);
        expect((await pair.net.run(a, ['iptables', '-D', ...rule])).code).to.equal(0);

        // The attack took: A moved to the spoofed address.
        await eventually(async () => pair.log(pair.nameA).includes(`peer endpoint is now ${SPOOFED}:${SPOOFED_PORT}`), 5000, 20);
        // Recovered: A sends to B's real address again and pings go through both ways.
        let endpoint = '';
        await eventually(
          async () => {
            const s = (await pair.status(a, pair.nameA)) as { peer: { endpoint: string } };
            endpoint = s.peer.endpoint;
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
        const s = (await pair.status(a, pair.nameA)) as { peer: { endpoint: string; handshakes: number } };
        expect(s.peer.endpoint).to.equal(real);
        expect(s.peer.handshakes, 'the first handshake and the hijacked rekey').to.be.at.least(2);
      });
    });
  });
}
