// The many-peers bench (`make bench-peers`): its config generator, the ICMP
// packets its storm peers send, and one short run end to end with a few
// peers: it proves the storm generator speaks the protocol (a handshake, a
// keepalive, an echo answered through each new session) beside a real
// client, and that several clients run at once. Asserts that figures come
// out, never what they are.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MAX_PEERS, makePeerSet, peerAddress, sealtunClientConfig, sealtunServerConfig, wgServerConfig } from '../../bench/peers-config.js';
import { ECHO_PACKET_BYTES, echoRequest, isEchoReply } from '../../bench/storm-icmp.js';
import { parseConfig } from '../../src/config/config.js';
import { decodeKey, encodeKey, publicKeyOf } from '../../src/crypto/keys.js';

const PEERS_JS = fileURLToPath(new URL('../../bench/peers.js', import.meta.url));

/** RFC 1071: a header with its checksum in place sums to 0xffff. */
function sumsToAllOnes(b: Uint8Array): boolean {
  let sum = 0;
  for (let i = 0; i < b.length; i += 2) sum += (b[i]! << 8) | (b[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum === 0xffff;
}

describe('bench-peers: generated configs', () => {
  it('numbers peers from 10.80.0.2 on, into 10.81.0.0/16, and refuses past the /15', () => {
    expect(peerAddress(0)).to.equal('10.80.0.2');
    expect(peerAddress(253)).to.equal('10.80.0.255');
    expect(peerAddress(254)).to.equal('10.80.1.0');
    expect(peerAddress(65534)).to.equal('10.81.0.0');
    expect(peerAddress(MAX_PEERS - 1)).to.equal('10.81.255.254');
    expect(() => peerAddress(MAX_PEERS)).to.throw(RangeError);
  });

  it('gives every peer its own key pair and address', async () => {
    const set = await makePeerSet(200);
    expect(new Set(set.peers.map((p) => p.publicKey)).size).to.equal(200);
    expect(new Set(set.peers.map((p) => p.addr)).size).to.equal(200);
    for (const p of set.peers.slice(0, 5)) {
      expect(encodeKey(publicKeyOf(decodeKey(p.privateKey, 'test', 'private key')))).to.equal(p.publicKey);
    }
  });

  it('writes a server config sealtun parses into the same peers, and a client config for one of them', async () => {
    const set = await makePeerSet(3);
    const extra = new Map([[2, '10.82.0.1/32']]);
    const server = parseConfig(sealtunServerConfig(set, { name: 'stx0', listenPort: 51890, extraAllowed: extra }), 'server.conf');
    expect(server.peers.map((p) => encodeKey(p.publicKey))).to.deep.equal(set.peers.map((p) => p.publicKey));
    expect(server.peers.map((p) => p.allowedIPs.map((c) => `${c.address}/${c.prefix}`))).to.deep.equal([
      ['10.80.0.2/32'],
      ['10.80.0.3/32'],
      ['10.80.0.4/32', '10.82.0.1/32'],
    ]);
    const client = parseConfig(sealtunClientConfig(set, 1, 'stx1', '192.0.2.1:51890'), 'client.conf');
    expect(encodeKey(client.peers[0]!.publicKey)).to.equal(set.server.publicKey);
    expect(client.peers[0]!.endpoint).to.include({ host: '192.0.2.1', port: 51890 });
  });

  it('keeps 10 000 peers under the 1 MiB a config may have, and gives wg the same peers', async () => {
    const set = await makePeerSet(10_000);
    const text = sealtunServerConfig(set, { name: 'stx0', listenPort: 51890 });
    expect(Buffer.byteLength(text)).to.be.below(1 << 20);
    const wg = wgServerConfig(set, 51890);
    expect(wg.match(/^\[Peer\]$/gm)).to.have.length(10_000);
    expect(wg).to.not.match(/^(Name|Address|Transport) =/m);
  });
});

describe('bench-peers: storm ICMP echo', () => {
  it('builds an IPv4 echo request with valid IP and ICMP checksums', () => {
    const p = echoRequest('10.80.0.2', '10.80.0.1', 0x1234, 1);
    expect(p.length).to.equal(ECHO_PACKET_BYTES);
    expect(sumsToAllOnes(p.subarray(0, 20)), 'IP header checksum').to.equal(true);
    expect(sumsToAllOnes(p.subarray(20)), 'ICMP checksum').to.equal(true);
    expect([...p.subarray(12, 20)]).to.deep.equal([10, 80, 0, 2, 10, 80, 0, 1]);
  });

  it('knows a reply to its own identifier, and nothing else', () => {
    const reply = echoRequest('10.80.0.1', '10.80.0.2', 0x1234, 1);
    reply[20] = 0; // echo reply
    expect(isEchoReply(reply, 0x1234)).to.equal(true);
    expect(isEchoReply(reply, 0x1235)).to.equal(false);
    expect(isEchoReply(echoRequest('10.80.0.1', '10.80.0.2', 0x1234, 1), 0x1234), 'a request').to.equal(false);
    expect(isEchoReply(reply.subarray(0, 24), 0x1234), 'truncated').to.equal(false);
  });
});

describe('bench-peers: one short run (1 and 3 peers, storm of 3 beside a real client, 2 clients)', function () {
  this.timeout(180_000);

  it('measures sealtun and wireguard-go, completes every storm handshake with an echo, and writes the tables', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sealtun-bench-peers-test-'));
    try {
      const out = join(dir, 'peers.md');
      const env = { ...process.env, PEERS_N: '1 3', PEERS_STORM: '3', PEERS_CLIENTS: '2', PEERS_SECONDS: '1', PEERS_REPEATS: '1', PEERS_SETTLE_S: '2', PEERS_OUT: out };
      const r = spawnSync(process.execPath, [PEERS_JS], { encoding: 'utf8', env, timeout: 170_000 });
      expect(r.status, `${r.stdout}\n${r.stderr}`).to.equal(0);
      const md = readFileSync(out, 'utf8');
      expect(md).to.match(/^\| N peers +\| sealtun RSS MiB/m);
      for (const n of [1, 3]) expect(md).to.match(new RegExp(`^\\| ${n} +\\| \\d+\\.\\d +\\|`, 'm'));
      expect(md).to.match(/outcomes: 3 echoed/);
      expect(md).to.match(/Real client .*: \d+\/\d+ replies/);
      expect(md).to.match(/\| 1 client alone +\| \d+ +\|/);
      expect(md).to.match(/\| sum of 2 at once +\| \d+ +\|/);
      const json = JSON.parse(readFileSync(join(dir, 'peers.json'), 'utf8')) as {
        scale: Array<{ sealtun: { statusPeers: number } }>;
        storm: { storm: { echoReplies: number; echoResends: number }; serverDrops: Record<string, number> };
      };
      expect(json.scale.map((r) => r.sealtun.statusPeers)).to.deep.equal([1, 3]);
      expect(json.storm.storm.echoReplies).to.equal(3);
      // The echo right behind the confirming keepalive is answered: the
      // responder's send path takes up the new key at once (it once waited
      // for the main thread, and 80–90 % of these replies were dropped).
      expect(json.storm.storm.echoResends, 'first echoes answered').to.equal(0);
      expect(json.storm.serverDrops, 'server drops').to.not.have.property('no-session');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
