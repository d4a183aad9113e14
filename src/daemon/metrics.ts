// MetricsListen: the daemon serves its tunnel's counters in the Prometheus
// text format at GET /metrics (prom-client formats them). The WireGuard
// metrics carry the names and labels of prometheus_wireguard_exporter, so a
// Grafana dashboard made for it works unchanged:
//   wireguard_sent_bytes_total, wireguard_received_bytes_total,
//   wireguard_latest_handshake_seconds {interface, public_key, allowed_ips}
// (allowed_ips joined by "," without spaces, as `wg show dump` lists them;
// a peer without a handshake has 0, as there). sealtun's own are
// sealtun_dropped_packets_total{interface, reason},
// sealtun_handshakes_total{interface, public_key} and, under Transport =
// auto, sealtun_peer_path{interface, public_key, path} (1 for the path the
// peer's data takes now, 0 for the other).
//
// A scrape reads status() once (the shared counters the data-path workers
// write; nothing is sent to them) and every metric's collect() reads that
// snapshot: no timer runs between scrapes, and a scrape never waits on the
// data path. There is no authentication: bind it to a trusted address.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';
import { listenAddressText, type ListenAddress } from '../config/config.js';
import type { PeerStatus } from '../tunnel/tunnel.js';

/** What a scrape reads: the parts of the tunnel's status() the metrics show. */
export interface MetricsStatus {
  interface: string;
  peers: PeerStatus[];
  dropped: Record<string, number>;
}

const PEER_LABELS = ['interface', 'public_key', 'allowed_ips'] as const;
const PATHS = ['udp', 'tcp'] as const;

/** A bind failure, named as the config names it: `MetricsListen 127.0.0.1:9586: address in use`. */
export class MetricsListenError extends Error {
  override readonly name = 'MetricsListenError';
}

const BIND_ERRORS: Record<string, string> = {
  EADDRINUSE: 'address in use',
  EADDRNOTAVAIL: 'address not available on this host',
  EACCES: 'permission denied',
};

/** The registry with sealtun's metrics, each filled from the snapshot `read` returns at scrape time. */
export function metricsRegistry(read: () => MetricsStatus | null): Registry {
  const registry = new Registry();
  const registers = [registry];
  const peerLabels = (s: MetricsStatus, p: PeerStatus) => ({ interface: s.interface, public_key: p.publicKey, allowed_ips: p.allowedIPs.join(',') });
  /** A metric with one sample per peer, refilled at each scrape (a removed peer's samples go). */
  const perPeer = <M extends Counter<string> | Gauge<string>>(fill: (m: M, s: MetricsStatus, p: PeerStatus) => void) =>
    function collect(this: M): void {
      this.reset();
      const s = read();
      if (s) for (const p of s.peers) fill(this, s, p);
    };

  new Counter({
    name: 'wireguard_sent_bytes_total',
    help: 'Bytes sent to the peer',
    labelNames: PEER_LABELS,
    registers,
    collect: perPeer<Counter<string>>((m, s, p) => m.inc(peerLabels(s, p), p.tx.bytes)),
  });
  new Counter({
    name: 'wireguard_received_bytes_total',
    help: 'Bytes received from the peer',
    labelNames: PEER_LABELS,
    registers,
    collect: perPeer<Counter<string>>((m, s, p) => m.inc(peerLabels(s, p), p.rx.bytes)),
  });
  new Gauge({
    name: 'wireguard_latest_handshake_seconds',
    help: 'Seconds from the last handshake',
    labelNames: PEER_LABELS,
    registers,
    collect: perPeer<Gauge<string>>((m, s, p) => m.set(peerLabels(s, p), p.latestHandshakeAt ?? 0)),
  });
  new Counter({
    name: 'sealtun_handshakes_total',
    help: 'Handshakes completed with the peer since the daemon started (rekeys included)',
    labelNames: ['interface', 'public_key'],
    registers,
    collect: perPeer<Counter<string>>((m, s, p) => m.inc({ interface: s.interface, public_key: p.publicKey }, p.handshakes)),
  });
  new Gauge({
    name: 'sealtun_peer_path',
    help: 'Transport = auto: 1 for the path (udp or tcp) the peer\'s data takes now, 0 for the other',
    labelNames: ['interface', 'public_key', 'path'],
    registers,
    collect: perPeer<Gauge<string>>((m, s, p) => {
      for (const path of PATHS) if (p.path) m.set({ interface: s.interface, public_key: p.publicKey, path }, p.path === path ? 1 : 0);
    }),
  });
  new Counter({
    name: 'sealtun_dropped_packets_total',
    help: 'Packets dropped, by reason (as in sealtun status)',
    labelNames: ['interface', 'reason'],
    registers,
    collect(this: Counter<string>) {
      this.reset();
      const s = read();
      if (s) for (const [reason, n] of Object.entries(s.dropped)) this.inc({ interface: s.interface, reason }, n);
    },
  });
  return registry;
}

/** Serves GET /metrics on `listen`; resolves once bound, or rejects with a MetricsListenError. */
export async function serveMetrics(listen: ListenAddress, status: () => MetricsStatus): Promise<Server> {
  let snapshot: MetricsStatus | null = null;
  const registry = metricsRegistry(() => snapshot);
  const answer = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found; metrics are at /metrics\n');
      return;
    }
    if (req.method !== 'GET') {
      res.writeHead(405, { 'content-type': 'text/plain', allow: 'GET' }).end('only GET\n');
      return;
    }
    // prom-client runs every collect() synchronously inside metrics(), so
    // all metrics of one scrape see this one snapshot.
    snapshot = status();
    const body = await registry.metrics();
    res.writeHead(200, { 'content-type': registry.contentType }).end(body);
  };
  const server = createServer((req, res) => {
    answer(req, res).catch((err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(err as Error).message}\n`));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const why = BIND_ERRORS[err.code ?? ''] ?? err.message;
      reject(new MetricsListenError(`MetricsListen ${listenAddressText(listen)}: ${why}`, { cause: err }));
    });
    server.listen({ host: listen.address, port: listen.port, exclusive: true }, resolve);
  });
  return server;
}

/** Stops listening and ends open keep-alive connections (a scraper may hold one). */
export function closeMetrics(server: Server): void {
  server.close();
  server.closeAllConnections();
}
