// Several clients through one server: K clients, each in its own namespace
// with its own link to the server (a star, peers-net.ts), one server with K
// peers (sealtun over UDP, or wireguard-go configured with `wg`). First one
// client alone, then all K at once, one iperf3 TCP stream each to the
// server's inner address (its own iperf3 server port per client): the sum
// beside the single-client figure shows what sharing one server's data path
// costs. `make bench-peers` runs it once for sealtun (runThroughput);
// `make bench` runs it for sealtun and wireguard-go side by side, round by
// round (bench/peers-case.ts).
import { join } from 'node:path';
import { iperf, IPERF_PORT, type IperfResult } from './measure/iperf.js';
import { waitReachable } from './measure/ping.js';
import { makePeerSet, SERVER_INNER, SERVER_PREFIX, sealtunClientConfig, sealtunServerConfig, wgClientConfig, wgServerConfig, writeSecretFile, type PeerSet } from './peers-config.js';
import { clientSubnet, Star } from './peers-net.js';
import { SealtunDaemon } from './peers-sealtun.js';
import { WireguardGoServer } from './peers-wireguard.js';

const PORT = 51910;

export type StarSoftware = 'sealtun' | 'wireguard-go';

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

/** A server and its clients, up and reachable. */
export interface ClientStar {
  software: StarSoftware;
  clients: number;
  /** Each client's namespace. */
  clientNs: string[];
  serverNs: string;
  /** The server's last log lines, for a failure. */
  logTail(): string;
  down(): Promise<void>;
}

interface Daemon {
  down(): Promise<void>;
}

/** Brings up a server with `opts.clients` peers and that many clients, each reaching the server's inner address. */
export async function upStar(software: StarSoftware, opts: ThroughputOptions): Promise<ClientStar> {
  const set = await makePeerSet(opts.clients);
  const star = Star.create(`${opts.tag}${software === 'sealtun' ? 't' : 'w'}`);
  const daemons: Daemon[] = [];
  const clientNs: string[] = [];
  let logTail = (): string => '';
  const down = async (): Promise<void> => {
    for (const d of daemons.reverse()) await d.down();
    star.remove();
  };
  try {
    const up = software === 'sealtun' ? upSealtun : upWireguard;
    const server = await up(star.server, -1, set, opts);
    daemons.push(server.daemon);
    logTail = server.logTail;
    for (let k = 0; k < opts.clients; k++) {
      const leaf = star.addLeaf(clientSubnet(k));
      daemons.push((await up(leaf.ns, k, set, opts, `${leaf.serverAddr}:${PORT}`)).daemon);
      clientNs.push(leaf.ns);
      await waitReachable(leaf.ns, SERVER_INNER);
    }
  } catch (err) {
    const tail = logTail();
    await down();
    throw new Error(`${(err as Error).message.split('\n')[0]}\n${tail}`);
  }
  return { software, clients: opts.clients, clientNs, serverNs: star.server, logTail, down };
}

/** The server (`k` = -1) or client `k`, in namespace `ns`. */
async function upSealtun(ns: string, k: number, set: PeerSet, opts: ThroughputOptions, endpoint?: string): Promise<{ daemon: Daemon; logTail: () => string }> {
  const who = k < 0 ? 'server' : `client${k}`;
  const d = new SealtunDaemon(ns, `stpt${opts.tag}${k < 0 ? 's' : `c${k}`}`, join(opts.dir, `tput-run-${who}`));
  const conf = join(opts.dir, `tput-${who}.conf`);
  writeSecretFile(conf, k < 0 ? sealtunServerConfig(set, { name: d.name, listenPort: PORT }) : sealtunClientConfig(set, k, d.name, endpoint!));
  await d.up(conf);
  return { daemon: d, logTail: () => d.logTail() };
}

async function upWireguard(ns: string, k: number, set: PeerSet, opts: ThroughputOptions, endpoint?: string): Promise<{ daemon: Daemon; logTail: () => string }> {
  const who = k < 0 ? 'server' : `client${k}`;
  const d = new WireguardGoServer(ns, `wgpt${opts.tag}${k < 0 ? 's' : `c${k}`}`, opts.dir);
  const conf = join(opts.dir, `wg-tput-${who}.conf`);
  writeSecretFile(conf, k < 0 ? wgServerConfig(set, PORT) : wgClientConfig(set, k, endpoint!));
  await d.up(conf, `${k < 0 ? SERVER_INNER : set.peers[k]!.addr}/${SERVER_PREFIX}`);
  return { daemon: d, logTail: () => '' };
}

/** One client alone, then all at once. */
export async function measureStar(star: ClientStar, opts: Pick<ThroughputOptions, 'seconds' | 'congestion' | 'dir'>): Promise<{ single: IperfResult; together: IperfResult[] }> {
  const one = (k: number): Promise<IperfResult> =>
    iperf({ serverNs: star.serverNs, clientNs: star.clientNs[k]!, target: SERVER_INNER, streams: 1, seconds: opts.seconds, congestion: opts.congestion, logDir: opts.dir, port: IPERF_PORT + k });
  const single = await one(0);
  const together = await Promise.all(star.clientNs.map((_, k) => one(k)));
  return { single, together };
}

/** `make bench-peers`' phase: sealtun, once. */
export async function runThroughput(opts: ThroughputOptions): Promise<ThroughputPhase> {
  const out: ThroughputPhase = { clients: opts.clients, seconds: opts.seconds, single: null, together: [] };
  let star: ClientStar | null = null;
  try {
    star = await upStar('sealtun', opts);
    Object.assign(out, await measureStar(star, opts));
  } catch (err) {
    out.error = (err as Error).message;
  } finally {
    await star?.down();
  }
  return out;
}
