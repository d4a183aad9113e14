// Many peers changed live (issue 15): while every client pings the server
// every 50 ms, a new client is added with `sealtun reload` (its [Peer]
// added to the server's config file), one is removed with `sealtun set
// NAME peer KEY remove`, and one's AllowedIPs gain a prefix with `reload`.
// The clients that stay, the changed one among them, lose no ping and keep
// their sessions (the server's handshake count per peer does not move); the
// removed one gets nothing through afterwards.
import { expect } from 'chai';
import { withHub, type Hub, type HubClient } from '../helpers/hub.js';
import { pingEvery, type PingCount } from '../helpers/ping-every.js';

const METRICS_PORT = 9586;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The server's handshake count per peer, by public key. */
async function handshakes(hub: Hub): Promise<Map<string, number>> {
  return new Map((await hub.status()).peers.map((p) => [p.publicKey, p.handshakes]));
}

/** Runs the sealtun CLI on the server; fails unless it exits 0; returns its output lines, unindented. */
async function onServer(hub: Hub, args: string[]): Promise<string[]> {
  const r = await hub.cli(hub.server, args);
  expect(r.code, `sealtun ${args.join(' ')}: ${r.stderr}${r.stdout}`).to.equal(0);
  return r.stdout.split('\n').map((l) => l.trim()).filter(Boolean);
}

for (const transport of ['udp', 'tcp', 'auto'] as const) {
  describe(`many peers changed live over ${transport}, while every client pings the server every 50 ms`, function () {
    this.timeout(180_000);
    withHub({ transport, clients: 3, extraServer: `MetricsListen = 127.0.0.1:${METRICS_PORT}` }, (get) => {
      it('reload adds a client, set … remove removes one, reload changes one’s AllowedIPs: the others lose no ping and keep their sessions', async () => {
        const hub = get();
        const [removed, changed, kept] = hub.clients as [HubClient, HubClient, HubClient];
        const before = await handshakes(hub);
        const pings = new Map(hub.clients.map((c) => [c, pingEvery(hub.net, c.ns, hub.serverInner)]));
        await pause(1000);

        // Add a client: its [Peer] into the server's config, reload, then start the client.
        const added = await hub.addClient();
        hub.writeServerConfig();
        const addLines = await onServer(hub, ['reload', hub.serverConfig]);
        // One line per change, and no other peer named.
        expect(addLines).to.deep.equal([`${hub.name} reloaded`, `peer ${added.publicKey}: added`]);
        await hub.up(added.ns, added.config);
        await hub.waitConnected(added);
        const addedHandshakes = (await handshakes(hub)).get(added.publicKey);
        expect(addedHandshakes, 'the added client handshook with the server').to.be.at.least(1);
        pings.set(added, pingEvery(hub.net, added.ns, hub.serverInner));
        await pause(1000);

        // Remove one at runtime; the operator also takes it out of the file, so the next reload keeps it out.
        const removedPings = await pings.get(removed)!.stop();
        pings.delete(removed);
        const removeLines = await onServer(hub, ['set', hub.name, 'peer', removed.publicKey, 'remove']);
        expect(removeLines).to.deep.equal([`peer ${removed.publicKey}: removed`]);
        removed.onServer = false;
        hub.writeServerConfig();
        expect((await hub.status()).peers.map((p) => p.publicKey)).not.to.include(removed.publicKey);
        const scraped = await hub.metrics(METRICS_PORT);
        expect(scraped, 'metrics after set … remove').not.to.include(removed.publicKey);
        expect(scraped, 'metrics after reload added a client').to.include(`public_key="${added.publicKey}"`);
        const cutOff = await hub.ping(removed.ns, hub.serverInner, { count: 5 });
        expect(cutOff.received, `the removed client after set … remove: ${cutOff.out}`).to.equal(0);
        await pause(500);

        // Change one's AllowedIPs: a second prefix, used at once from the client's side.
        changed.serverAllowedIPs.push('10.89.1.0/24');
        hub.writeServerConfig();
        const changeLines = await onServer(hub, ['reload', hub.serverConfig]);
        // The removed peer is out of the file too, so this reload changes only the AllowedIPs.
        expect(changeLines).to.deep.equal([`${hub.name} reloaded`, `peer ${changed.publicKey}: allowed IPs now ${changed.inner}/32, 10.89.1.0/24`]);
        expect((await hub.serverPeer(changed))!.allowedIPs).to.deep.equal([`${changed.inner}/32`, '10.89.1.0/24']);
        await hub.must(changed.ns, ['ip', 'address', 'add', '10.89.1.1/32', 'dev', hub.name]);
        const fromNew = await hub.ping(changed.ns, hub.serverInner, { from: '10.89.1.1' });
        expect(fromNew.received, `from the added prefix: ${fromNew.out}`).to.equal(fromNew.sent);
        await pause(1000);

        const counts = new Map<HubClient, PingCount>();
        for (const [c, p] of pings) counts.set(c, await p.stop());
        const after = await handshakes(hub);
        const again = await hub.ping(removed.ns, hub.serverInner, { count: 3 });
        console.log(
          `      ${transport}: ` +
            [...counts].map(([c, n]) => `client ${c.index} ${n.sent} pings, ${n.lost} lost`).join('; ') +
            `; removed client ${removedPings.sent} pings before, ${cutOff.received + again.received}/${cutOff.sent + again.sent} after; ` +
            `server handshakes per peer ${[changed, kept, added].map((c) => `${before.get(c.publicKey) ?? addedHandshakes}→${after.get(c.publicKey)}`).join(', ')}`,
        );
        for (const [c, n] of counts) {
          expect(n.sent, `client ${c.index}: pings sent`).to.be.at.least(10);
          expect(n.lost, `client ${c.index}: pings lost`).to.equal(0);
        }
        for (const c of [changed, kept]) expect(after.get(c.publicKey), `server handshakes with client ${c.index}`).to.equal(before.get(c.publicKey));
        expect(after.get(added.publicKey), 'server handshakes with the added client').to.equal(addedHandshakes);
        expect(again.received, `the removed client at the end: ${again.out}`).to.equal(0);
      });
    });
  });
}
