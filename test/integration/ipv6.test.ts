// IPv6 on both layers: IPv6 packets inside a tunnel over an IPv4 underlay
// (v6-in-v4), and IPv4 packets inside a tunnel whose Endpoint is an IPv6
// address (v4-in-v6), over both transports, between two namespaces.
import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, TestNet } from '../helpers/netns.js';
import { TunnelPair } from '../helpers/tunnel-pair.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** socat address forms for a TCP listener on / a connection to `ip`. */
const listenOn = (ip: string, port: number) => (ip.includes(':') ? `TCP6-LISTEN:${port},bind=[${ip}],reuseaddr` : `TCP-LISTEN:${port},bind=${ip},reuseaddr`);
const connectTo = (ip: string, port: number) => (ip.includes(':') ? `TCP6:[${ip}]:${port}` : `TCP:${ip}:${port}`);

/** Moves `bytes` random bytes from A to B's inner address `to` through the tunnel; returns both digests. */
async function transfer(pair: TunnelPair, to: string, bytes: number): Promise<{ sent: string; received: string }> {
  const data = randomBytes(bytes);
  const src = join(pair.dir, 'payload.bin');
  const dst = join(pair.dir, 'received.bin');
  writeFileSync(src, data);
  const sink = pair.net.spawn(pair.net.b, ['socat', '-u', listenOn(to, 5001), `OPEN:${dst},creat,trunc`]);
  const sinkDone = new Promise<number | null>((r) => sink.on('exit', r));
  await eventually(async () => (await pair.net.run(pair.net.b, ['ss', '-Hltn', 'sport = :5001'])).stdout.includes('5001'), 5000, 50);
  const send = await pair.net.run(pair.net.a, ['socat', '-u', `OPEN:${src}`, connectTo(to, 5001)], { timeoutMs: 60_000 });
  expect(send.code, send.stderr).to.equal(0);
  expect(await sinkDone).to.equal(0);
  return { sent: sha256(data), received: sha256(readFileSync(dst)) };
}

async function pingsBothWays(pair: TunnelPair, a: string, b: string): Promise<void> {
  for (const [ns, target] of [
    [pair.net.a, b],
    [pair.net.b, a],
  ] as const) {
    const r = await pair.net.run(ns, ['ping', '-c', '3', '-i', '0.2', '-W', '2', target]);
    expect(r.code, `ping ${target}: ${r.stdout}${r.stderr}`).to.equal(0);
    expect(r.stdout).to.match(/3 received/);
  }
}

for (const transport of ['udp', 'tcp'] as const) {
  describe(`IPv6 over ${transport}`, function () {
    this.timeout(90_000);
    let pair: TunnelPair | undefined;

    afterEach(async function () {
      if (this.currentTest?.state === 'failed' && pair) {
        for (const name of [pair.nameA, pair.nameB]) process.stderr.write(`--- ${name} log ---\n${pair.log(name)}\n`);
      }
      await pair?.destroy();
      pair = undefined;
    });

    it('v6-in-v4: IPv6 inside the tunnel (fd77::1/64 ↔ fd77::2/128) over an IPv4 underlay', async () => {
      pair = new TunnelPair(TestNet.create(), { transport, inner: 6 });
      await pair.start();
      await pair.waitConnected();
      await pingsBothWays(pair, pair.innerA6, pair.innerB6);
      const route = await pair.net.run(pair.net.a, ['ip', '-6', 'route', 'show', 'dev', pair.nameA]);
      expect(route.stdout).to.include('fd77::2');
      const { sent, received } = await transfer(pair, pair.innerB6, 2 << 20);
      expect(received).to.equal(sent);
      const s = (await pair.status(pair.net.a, pair.nameA)) as { peers: { endpoint: string }[] };
      expect(s.peers[0].endpoint).to.equal(`${pair.net.addrB}:${pair.port}`);
    });

    it('v4-in-v6: IPv4 inside the tunnel over an IPv6 Endpoint [2001:db8::2]', async () => {
      pair = new TunnelPair(TestNet.create({ ipv6: true }), { transport, inner: 4, endpointFamily: 6 });
      await pair.start();
      await pair.waitConnected();
      await pingsBothWays(pair, pair.innerA, pair.innerB);
      const { sent, received } = await transfer(pair, pair.innerB, 2 << 20);
      expect(received).to.equal(sent);
      // Both ends see the other at its IPv6 underlay address.
      const a = (await pair.status(pair.net.a, pair.nameA)) as { peers: { endpoint: string }[] };
      expect(a.peers[0].endpoint).to.equal(`[${pair.net.addr6B}]:${pair.port}`);
      const b = (await pair.status(pair.net.b, pair.nameB)) as { peers: { endpoint: string }[] };
      expect(b.peers[0].endpoint).to.match(new RegExp(`^\\[${pair.net.addr6A}\\]:\\d+$`));
    });

    // One transport is enough to show mixed AllowedIPs work; the families are independent of it.
    if (transport === 'udp') {
      it('dual stack inside over an IPv6 underlay: both families through one tunnel', async () => {
        pair = new TunnelPair(TestNet.create({ ipv6: true }), { transport, inner: 'dual', endpointFamily: 6 });
        await pair.start();
        await pair.waitConnected();
        await pingsBothWays(pair, pair.innerA6, pair.innerB6);
        await pingsBothWays(pair, pair.innerA, pair.innerB);
      });
    }
  });
}
