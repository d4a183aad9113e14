// Many peers on one interface (issue 15): a server and three clients, each
// in its own namespace, on one sealtun interface of the server. Every
// client moves a checksummed file to the server at the same time; clients
// reach each other through the server once it forwards (a WireGuard-style
// hub, no special mode); a client that sends with another client's inner
// address as source gets nothing through and the server counts it as
// source-not-allowed; `status --json` on the server shows every peer.
import { expect } from 'chai';
import { withHub, type Hub, type HubClient } from '../helpers/hub.js';

const CLIENTS = 3;
const METRICS_PORT = 9586;
/** Bytes each client sends: the full amount over UDP, less over TCP and auto to keep the suite's time modest. */
const TRANSFER = { udp: 16 << 20, tcp: 4 << 20, auto: 4 << 20 } as const;

for (const transport of ['udp', 'tcp', 'auto'] as const) {
  describe(`many peers: a server and ${CLIENTS} clients on one interface over ${transport}`, function () {
    this.timeout(180_000);
    withHub({ transport, clients: CLIENTS, extraServer: `MetricsListen = 127.0.0.1:${METRICS_PORT}` }, (get) => {
      it('status --json on the server lists every client, each with a handshake', async () => {
        const hub = get();
        const s = await hub.status();
        expect(s.peers.map((p) => p.publicKey).sort()).to.deep.equal(hub.clients.map((c) => c.publicKey).sort());
        for (const c of hub.clients) {
          const p = s.peers.find((q) => q.publicKey === c.publicKey)!;
          expect(p.allowedIPs, `client ${c.index}`).to.deep.equal([`${c.inner}/32`]);
          expect(p.latestHandshakeAt, `client ${c.index}: latestHandshakeAt`).to.be.a('number');
          expect(p.latestHandshakeAt! * 1000, `client ${c.index}: latestHandshakeAt`).to.be.within(Date.now() - 300_000, Date.now() + 5_000);
          expect(p.endpoint, `client ${c.index}: endpoint`).to.match(new RegExp(`^${c.underlay.replaceAll('.', '\\.')}:\\d+$`));
          if (transport === 'auto') expect(p.path, `client ${c.index}: path`).to.equal('udp');
        }
      });

      it('a metrics scrape on the server has a series per client, labelled with its key and allowed IPs', async () => {
        const hub = get();
        const text = await hub.metrics(METRICS_PORT);
        for (const name of ['wireguard_sent_bytes_total', 'wireguard_received_bytes_total', 'wireguard_latest_handshake_seconds']) {
          const series = text.split('\n').filter((l) => l.startsWith(`${name}{`));
          expect(series, name).to.have.length(CLIENTS);
          for (const c of hub.clients) {
            expect(series, `${name} for client ${c.index}`).to.satisfy((all: string[]) =>
              all.some((l) => l.includes(`interface="${hub.name}"`) && l.includes(`public_key="${c.publicKey}"`) && l.includes(`allowed_ips="${c.inner}/32"`)),
            );
          }
        }
      });

      it('concurrent checksummed transfers from every client to the server arrive intact, counted per peer', async () => {
        const hub = get();
        const bytes = TRANSFER[transport];
        const before = await hub.status();
        const started = Date.now();
        const moved = await Promise.all(
          hub.clients.map(async (c) => {
            const r = await hub.move(c.ns, hub.server, hub.serverInner, bytes, 5001 + c.index);
            return { ...r, seconds: (Date.now() - started) / 1000 };
          }),
        );
        const total = (Date.now() - started) / 1000;
        const after = await hub.status();
        console.log(
          `      ${transport}: ${CLIENTS} × ${bytes >> 20} MiB at once in ${total.toFixed(2)} s ` +
            `(${((8 * CLIENTS * bytes) / total / 1e6).toFixed(0)} Mbit/s together; each done after ${moved.map((m) => m.seconds.toFixed(2)).join(' / ')} s)`,
        );
        for (const [i, m] of moved.entries()) expect(m.received, `SHA-256 of what client ${i} sent, as it arrived`).to.equal(m.sent);
        for (const c of hub.clients) {
          const rx = (s: typeof before) => s.peers.find((p) => p.publicKey === c.publicKey)!.rx.bytes;
          expect(rx(after) - rx(before), `bytes the server counted from client ${c.index}`).to.be.at.least(bytes);
        }
      });

      it('clients reach each other through the server once it forwards (hub: net.ipv4.ip_forward=1)', async () => {
        const hub = get();
        const [c0, c1, c2] = hub.clients as [HubClient, HubClient, HubClient];
        await hub.must(hub.server, ['sysctl', '-qw', 'net.ipv4.ip_forward=0']);
        const unforwarded = await hub.ping(c0.ns, c1.inner, { count: 1 });
        expect(unforwarded.received, `without forwarding on the server: ${unforwarded.out}`).to.equal(0);
        await hub.must(hub.server, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
        for (const [from, to] of [
          [c0, c1],
          [c1, c2],
          [c2, c0],
        ] as const) {
          const r = await hub.ping(from.ns, to.inner);
          expect(r.received, `client ${from.index} → client ${to.index}: ${r.out}`).to.equal(r.sent);
        }
        const before = await hub.serverPeer(c1);
        const m = await hub.move(c0.ns, c1.ns, c1.inner, 1 << 20, 5101);
        expect(m.received, 'SHA-256 of 1 MiB from client 0 as client 1 got it').to.equal(m.sent);
        const after = await hub.serverPeer(c1);
        expect(after!.tx.bytes - before!.tx.bytes, 'bytes the server sent to client 1').to.be.at.least(1 << 20);
      });

      it("a client using another client's inner address as source gets nothing through, and the server counts it", async () => {
        const hub = get();
        const [c0, c1, c2] = hub.clients as [HubClient, HubClient, HubClient];
        const spoofed = await spoofing(hub, c0, c1.inner, async () => [await hub.ping(c0.ns, hub.serverInner, { from: c1.inner }), await hub.ping(c0.ns, c2.inner, { from: c1.inner })]);
        for (const r of spoofed.pings) expect(r.received, r.out).to.equal(0);
        const sent = spoofed.pings.reduce((n, r) => n + r.sent, 0);
        console.log(`      ${transport}: ${sent} pings from client 0 as ${c1.inner}: 0 answered, source-not-allowed on the server +${spoofed.dropped}`);
        expect(spoofed.dropped).to.be.at.least(sent);
        const owner = await hub.ping(c1.ns, hub.serverInner);
        expect(owner.received, `client 1 itself still gets through: ${owner.out}`).to.equal(owner.sent);
      });
    });
  });
}

/**
 * Gives `client` the address `address` on its tunnel interface while `body`
 * runs; returns what body returned and by how much the server's
 * source-not-allowed count grew meanwhile.
 */
async function spoofing<T>(hub: Hub, client: HubClient, address: string, body: () => Promise<T>): Promise<{ pings: T; dropped: number }> {
  const count = async () => (await hub.status()).dropped['source-not-allowed'] ?? 0;
  await hub.must(client.ns, ['ip', 'address', 'add', `${address}/32`, 'dev', hub.name]);
  try {
    const before = await count();
    const pings = await body();
    return { pings, dropped: (await count()) - before };
  } finally {
    await hub.must(client.ns, ['ip', 'address', 'del', `${address}/32`, 'dev', hub.name]);
  }
}
