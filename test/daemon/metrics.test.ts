// The metrics server (metrics.ts) against a fixed status: the names and
// labels of prometheus_wireguard_exporter, sealtun's own, the paths it
// answers, and a bind failure named as the config names it.
import { expect } from 'chai';
import { get } from 'node:http';
import type { Server } from 'node:http';
import { closeMetrics, serveMetrics, type MetricsStatus } from '../../src/daemon/metrics.js';

const KEY_A = 'TKIgkMPJwnMgoq7y1C0DBXBLGen47EN+W4lJXd5+hBs=';
const KEY_B = 'uD6Ffy03NnZzYyoQhGwsIPTUP4vHst+lFWyr7LAVDMo=';

/** GET http://127.0.0.1:PORT/PATH: status code and body. */
function fetchText(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

describe('metrics (metrics.ts)', () => {
  let server: Server;
  let port: number;
  let scrapes = 0;
  const status: MetricsStatus = {
    interface: 'st0',
    peers: [
      { publicKey: KEY_A, endpoint: '192.0.2.2:51820', allowedIPs: ['10.77.0.2/32', 'fd77::2/128'], latestHandshakeAt: 1_700_000_000, handshakes: 3,
        rx: { bytes: 1234, packets: 5 }, tx: { bytes: 5678, packets: 6 }, persistentKeepalive: 0, path: 'tcp' },
      { publicKey: KEY_B, endpoint: null, allowedIPs: ['10.77.0.3/32'], latestHandshakeAt: null, handshakes: 0,
        rx: { bytes: 0, packets: 0 }, tx: { bytes: 0, packets: 0 }, persistentKeepalive: 25 },
    ],
    dropped: { 'no-route': 7, 'replay': 2 },
  };

  before(async () => {
    server = await serveMetrics({ address: '127.0.0.1', port: 0, family: 4 }, () => (scrapes++, status));
    port = (server.address() as { port: number }).port;
  });
  after(() => closeMetrics(server));

  it('serves the exporter\'s metric names and labels, and sealtun\'s own, from one status() per scrape', async () => {
    const before = scrapes;
    const { status: code, body } = await fetchText(port, '/metrics');
    expect(code).to.equal(200);
    expect(scrapes - before).to.equal(1);
    const a = `interface="st0",public_key="${KEY_A}",allowed_ips="10.77.0.2/32,fd77::2/128"`;
    const b = `interface="st0",public_key="${KEY_B}",allowed_ips="10.77.0.3/32"`;
    for (const line of [
      '# TYPE wireguard_sent_bytes_total counter',
      `wireguard_sent_bytes_total{${a}} 5678`,
      `wireguard_sent_bytes_total{${b}} 0`,
      '# TYPE wireguard_received_bytes_total counter',
      `wireguard_received_bytes_total{${a}} 1234`,
      '# TYPE wireguard_latest_handshake_seconds gauge',
      `wireguard_latest_handshake_seconds{${a}} 1700000000`,
      `wireguard_latest_handshake_seconds{${b}} 0`,
      `sealtun_handshakes_total{interface="st0",public_key="${KEY_A}"} 3`,
      `sealtun_peer_path{interface="st0",public_key="${KEY_A}",path="udp"} 0`,
      `sealtun_peer_path{interface="st0",public_key="${KEY_A}",path="tcp"} 1`,
      'sealtun_dropped_packets_total{interface="st0",reason="no-route"} 7',
      'sealtun_dropped_packets_total{interface="st0",reason="replay"} 2',
    ]) {
      expect(body.split('\n'), line).to.include(line);
    }
    // A peer with no path (not under auto) has no path samples.
    expect(body).to.not.include(`sealtun_peer_path{interface="st0",public_key="${KEY_B}"`);
  });

  it('answers 404 outside /metrics, and 405 to a method other than GET', async () => {
    for (const path of ['/', '/metric', '/metrics/x']) expect((await fetchText(port, path)).status, path).to.equal(404);
    expect((await fetchText(port, '/metrics?x=1')).status).to.equal(200);
    const code = await new Promise<number>((resolve, reject) => {
      const req = get({ host: '127.0.0.1', port, path: '/metrics', method: 'POST' }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
    });
    expect(code).to.equal(405);
  });

  it('a taken port is named as the config names it', async () => {
    let thrown: unknown;
    try {
      await serveMetrics({ address: '127.0.0.1', port, family: 4 }, () => status);
    } catch (err) {
      thrown = err;
    }
    expect((thrown as Error).message).to.equal(`MetricsListen 127.0.0.1:${port}: address in use`);
  });
});
