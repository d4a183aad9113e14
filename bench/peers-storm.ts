// The storm phase of `make bench-peers`: a sealtun server whose peers are one
// real client (a `sealtun up` in its own namespace, pinging the server every
// 50 ms) and N storm peers, played by bench/storm.ts from another namespace.
// Reports the storm's handshakes per second and what the real client's pings
// went through meanwhile.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defer, killPidSync } from './cleanup.js';
import { run, sleep } from './exec.js';
import { processCpuSeconds } from './measure/cpu.js';
import { parsePing, waitReachable, type PingSamples } from './measure/ping.js';
import { SERVER_INNER, makePeerSet, sealtunClientConfig, sealtunServerConfig, writeSecretFile, type PeerSet } from './peers-config.js';
import { clientSubnet, STORM_SUBNET, Star } from './peers-net.js';
import { SealtunDaemon } from './peers-sealtun.js';
import type { StormInput, StormResult } from './storm.js';

const STORM_JS = fileURLToPath(new URL('./storm.js', import.meta.url));
const PORT = 51900;
const PING_INTERVAL_S = 0.05;

export interface StormOptions {
  peers: number;
  window: number;
  sources: number;
  /** Whether a real client pings through the server meanwhile (its peer makes the server's peer count N + 1). */
  realClient: boolean;
  dir: string;
  tag: string;
}

export interface StormPhase {
  storm: StormResult | null;
  /** The real client's pings during the storm; null without one. */
  pings: PingSamples | null;
  /** Handshakes the real client's session went through during the storm (0: it kept its session). */
  clientHandshakes: number | null;
  /** CPU seconds the server daemon used while the storm ran. */
  serverCpuS: number | null;
  /** The server's drop counters after the storm (status --json `dropped`). */
  serverDrops: Record<string, number> | null;
  error?: string;
}

/** ping every 50 ms until stopped; SIGINT makes ping print its summary. */
function startPinging(ns: string, target: string): { stop: () => Promise<PingSamples> } {
  const child = spawn('ip', ['netns', 'exec', ns, 'ping', '-n', '-i', String(PING_INTERVAL_S), '-W', '1', target], { stdio: ['ignore', 'pipe', 'pipe'] });
  const forget = defer(`stop ping (pid ${child.pid})`, () => killPidSync(child.pid!, 500));
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const closed = new Promise<void>((r) => child.on('close', () => r()));
  return {
    stop: async () => {
      child.kill('SIGINT');
      await closed;
      forget();
      return parsePing(out);
    },
  };
}

async function handshakesOf(d: SealtunDaemon): Promise<number> {
  const peers = (await d.status()).json.peers as Array<{ handshakes?: number }>;
  return peers[0]?.handshakes ?? 0;
}

export async function runStorm(opts: StormOptions): Promise<StormPhase> {
  const set: PeerSet = await makePeerSet(opts.peers + (opts.realClient ? 1 : 0));
  const star = Star.create(`${opts.tag}s`);
  const stormLeaf = star.addLeaf(STORM_SUBNET, opts.sources - 1);
  const server = new SealtunDaemon(star.server, `stps${opts.tag}`, join(opts.dir, 'storm-run-server'));
  let client: SealtunDaemon | null = null;
  try {
    const serverConf = join(opts.dir, 'storm-server.conf');
    writeSecretFile(serverConf, sealtunServerConfig(set, { name: server.name, listenPort: PORT }));
    await server.up(serverConf);
    let before: number | null = null;
    let pinger: ReturnType<typeof startPinging> | null = null;
    if (opts.realClient) {
      const leaf = star.addLeaf(clientSubnet(0));
      client = new SealtunDaemon(leaf.ns, `stpc${opts.tag}`, join(opts.dir, 'storm-run-client'));
      const conf = join(opts.dir, 'storm-client.conf');
      writeSecretFile(conf, sealtunClientConfig(set, 0, client.name, `${leaf.serverAddr}:${PORT}`));
      await client.up(conf);
      await waitReachable(leaf.ns, SERVER_INNER);
      before = await handshakesOf(client);
      pinger = startPinging(leaf.ns, SERVER_INNER);
      await sleep(1000); // an established flow before the storm begins
    }
    const input: StormInput = {
      server: { host: stormLeaf.serverAddr, port: PORT, publicKey: set.server.publicKey, inner: SERVER_INNER },
      sources: stormLeaf.addrs,
      window: opts.window,
      attemptMs: 5000,
      attempts: 5,
      peers: set.peers.slice(opts.realClient ? 1 : 0).map((p) => ({ privateKey: p.privateKey, addr: p.addr })),
    };
    const inputPath = join(opts.dir, 'storm-input.json');
    writeSecretFile(inputPath, JSON.stringify(input));
    const cpu0 = processCpuSeconds([server.pid]);
    const r = await run([process.execPath, STORM_JS, inputPath], { ns: stormLeaf.ns, timeoutMs: 600_000 });
    const cpu1 = processCpuSeconds([server.pid]);
    if (r.code !== 0) throw new Error(`storm generator failed (${r.code ?? r.signal}): ${r.stderr.trim().slice(-2000)}`);
    const storm = JSON.parse(r.stdout) as StormResult;
    await sleep(1000); // and after it ends
    const pings = pinger ? await pinger.stop() : null;
    const clientHandshakes = client && before !== null ? (await handshakesOf(client)) - before : null;
    const serverDrops = ((await server.status()).json as { dropped?: Record<string, number> }).dropped ?? null;
    const serverCpuS = cpu0 !== null && cpu1 !== null ? cpu1 - cpu0 : null;
    return { storm, pings, clientHandshakes, serverCpuS, serverDrops };
  } catch (err) {
    return { storm: null, pings: null, clientHandshakes: null, serverCpuS: null, serverDrops: null, error: `${(err as Error).message}\n${server.logTail()}` };
  } finally {
    await client?.down();
    await server.down();
    star.remove();
  }
}
