// MetricsListen end to end: B's daemon serves /metrics on 127.0.0.1 inside
// its namespace; after a transfer through the tunnel a scrape from that
// namespace shows the prometheus_wireguard_exporter metrics for peer A
// (interface, public key, allowed ips as labels) with byte counts between
// what `status --json` said just before and just after the scrape.
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withPair, type TunnelPair } from '../helpers/tunnel-pair.js';

const METRICS_PORT = 9586;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition (comments skipped). */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-z_]+)="([^"]*)"/g)) labels[k!] = v!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** GET http://127.0.0.1:METRICS_PORT/PATH from inside B's namespace: status code and body. */
async function scrape(pair: TunnelPair, path = '/metrics'): Promise<{ status: number; body: string }> {
  const script =
    `require('node:http').get('http://127.0.0.1:${METRICS_PORT}${path}', (r) => { let b = ''; r.setEncoding('utf8');` +
    ` r.on('data', (c) => (b += c)); r.on('end', () => process.stdout.write(JSON.stringify({ status: r.statusCode, body: b }))); })` +
    `.on('error', (e) => { console.error(e.message); process.exit(1); });`;
  const r = await pair.net.run(pair.net.b, [process.execPath, '-e', script]);
  expect(r.code, r.stderr).to.equal(0);
  return JSON.parse(r.stdout) as { status: number; body: string };
}

interface PeerCounters {
  rx: { bytes: number };
  tx: { bytes: number };
  peers: Array<{ publicKey: string; allowedIPs: string[]; handshakes: number }>;
}

describe('MetricsListen: Prometheus metrics from a running daemon (auto)', function () {
  this.timeout(120_000);
  withPair({ transport: 'auto', extraB: `MetricsListen = 127.0.0.1:${METRICS_PORT}` }, (get) => {
    it('after a transfer, a scrape shows the exporter\'s metrics for the peer, within status --json before and after', async () => {
      const pair = get();
      const moved = await pair.moveFile(1 << 20);
      expect(moved.received).to.equal(moved.sent);

      const before = (await pair.status(pair.net.b, pair.nameB)) as unknown as PeerCounters;
      const { status, body } = await scrape(pair);
      const after = (await pair.status(pair.net.b, pair.nameB)) as unknown as PeerCounters;
      expect(status).to.equal(200);
      expect(pair.log(pair.nameB)).to.include(`metrics at http://127.0.0.1:${METRICS_PORT}/metrics`);
      const samples = parseExposition(body);
      const one = (name: string) => {
        const found = samples.filter((s) => s.name === name);
        expect(found, name).to.have.length(1);
        return found[0]!;
      };

      const labels = { interface: pair.nameB, public_key: before.peers[0]!.publicKey, allowed_ips: `${pair.innerA}/32` };
      const sent = one('wireguard_sent_bytes_total');
      const received = one('wireguard_received_bytes_total');
      const handshake = one('wireguard_latest_handshake_seconds');
      for (const s of [sent, received, handshake]) expect(s.labels, s.name).to.deep.equal(labels);
      process.stdout.write(
        `      scrape: sent ${sent.value} B (status ${before.tx.bytes}..${after.tx.bytes}), ` +
          `received ${received.value} B (status ${before.rx.bytes}..${after.rx.bytes}), latest handshake ${handshake.value}\n`,
      );
      expect(received.value).to.be.at.least(1 << 20);
      expect(sent.value).to.be.greaterThan(0);
      expect(received.value).to.be.within(before.rx.bytes, after.rx.bytes);
      expect(sent.value).to.be.within(before.tx.bytes, after.tx.bytes);
      const now = Date.now() / 1000;
      expect(handshake.value).to.be.within(now - 180, now + 2);

      const handshakes = one('sealtun_handshakes_total');
      expect(handshakes.labels).to.deep.equal({ interface: pair.nameB, public_key: before.peers[0]!.publicKey });
      expect(handshakes.value).to.be.within(1, after.peers[0]!.handshakes);
      // Transport = auto: one path is 1 (UDP here: nothing blocks it), the other 0.
      const path = samples.filter((s) => s.name === 'sealtun_peer_path');
      expect(path.map((s) => [s.labels['path'], s.value]).sort()).to.deep.equal([['tcp', 0], ['udp', 1]]);
      for (const s of path) expect(s.labels).to.include({ interface: pair.nameB, public_key: before.peers[0]!.publicKey });
    });

    it('answers 404 outside /metrics', async () => {
      expect((await scrape(get(), '/')).status).to.equal(404);
    });

    it('a second daemon whose MetricsListen port is taken fails `up` naming the key, and leaves no interface behind', async () => {
      const pair = get();
      // A's config (an initiator: no ListenPort to clash) as a second tunnel in B's namespace, where B's daemon holds the port.
      const text = readFileSync(pair.configA(), 'utf8')
        .replace(`Name = ${pair.nameA}`, 'Name = stx0')
        .replace(/^Address = .*$/m, 'Address = 10.78.0.1/24')
        .replace(/^AllowedIPs = .*$/m, 'AllowedIPs = 10.78.0.2/32')
        .replace('[Interface]', `[Interface]\nMetricsListen = 127.0.0.1:${METRICS_PORT}`);
      const path = join(pair.dir, 'x.conf');
      writeFileSync(path, text);
      const r = await pair.cli(pair.net.b, ['up', '--daemon', path]);
      expect(r.code).to.not.equal(0);
      expect(r.stderr).to.include(`MetricsListen 127.0.0.1:${METRICS_PORT}: address in use`);
      expect((await pair.net.run(pair.net.b, ['ip', 'link', 'show', 'dev', 'stx0'])).code).to.not.equal(0);
      // B's daemon serves on.
      expect((await scrape(pair)).status).to.equal(200);
    });
  });
});
