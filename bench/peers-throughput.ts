// The throughput phase of `make bench-peers`: K sealtun clients, each in its
// own namespace, one server with K peers (UDP transport). First one client
// alone, then all K at once, one iperf3 TCP stream each to the server's
// inner address (its own iperf3 server port per client): the sum beside the
// single-client figure shows what sharing one server's data path costs.
import { join } from 'node:path';
import { iperf, IPERF_PORT, type IperfResult } from './measure/iperf.js';
import { waitReachable } from './measure/ping.js';
import { makePeerSet, SERVER_INNER, sealtunClientConfig, sealtunServerConfig, writeSecretFile } from './peers-config.js';
import { clientSubnet, Star } from './peers-net.js';
import { SealtunDaemon } from './peers-sealtun.js';

const PORT = 51910;

export interface ThroughputPhase {
  clients: number;
  seconds: number;
  /** One client alone, Mbit/s. */
  single: IperfResult | null;
  /** All clients at once, one result each. */
  together: IperfResult[];
  error?: string;
}

export interface ThroughputOptions {
  clients: number;
  seconds: number;
  congestion: string;
  dir: string;
  tag: string;
}

export async function runThroughput(opts: ThroughputOptions): Promise<ThroughputPhase> {
  const set = await makePeerSet(opts.clients);
  const star = Star.create(`${opts.tag}t`);
  const server = new SealtunDaemon(star.server, `stpt${opts.tag}`, join(opts.dir, 'tput-run-server'));
  const clients: SealtunDaemon[] = [];
  const out: ThroughputPhase = { clients: opts.clients, seconds: opts.seconds, single: null, together: [] };
  try {
    const serverConf = join(opts.dir, 'tput-server.conf');
    writeSecretFile(serverConf, sealtunServerConfig(set, { name: server.name, listenPort: PORT }));
    await server.up(serverConf);
    for (let k = 0; k < opts.clients; k++) {
      const leaf = star.addLeaf(clientSubnet(k));
      const c = new SealtunDaemon(leaf.ns, `stpt${opts.tag}c${k}`, join(opts.dir, `tput-run-client${k}`));
      const conf = join(opts.dir, `tput-client${k}.conf`);
      writeSecretFile(conf, sealtunClientConfig(set, k, c.name, `${leaf.serverAddr}:${PORT}`));
      await c.up(conf);
      clients.push(c);
      await waitReachable(leaf.ns, SERVER_INNER);
    }
    const one = (k: number): Promise<IperfResult> =>
      iperf({ serverNs: star.server, clientNs: clients[k]!.ns, target: SERVER_INNER, streams: 1, seconds: opts.seconds, congestion: opts.congestion, logDir: opts.dir, port: IPERF_PORT + k });
    out.single = await one(0);
    out.together = await Promise.all(clients.map((_, k) => one(k)));
  } catch (err) {
    out.error = `${(err as Error).message.split('\n')[0]}\n${server.logTail()}`;
  } finally {
    for (const c of clients) await c.down();
    await server.down();
    star.remove();
  }
  return out;
}
