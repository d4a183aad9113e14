// The handshake storm: one process plays N distinct peers against one sealtun
// server, each from its own UDP socket (its own source port; the sockets
// spread over several source addresses, since a server under load limits
// handshakes per address). Up to `window` peers are mid-handshake at once
// (a peer leaves the window when its handshake completes); each moves a
// keepalive and one ICMP echo after its handshake (see storm-peer.ts). Prints one JSON object (StormResult) on stdout.
//
//   node dist/bench/storm.js INPUT.json     (INPUT: StormInput, 0600: it holds private keys)
//
// Run inside the namespace the peers live in (`ip netns exec NS node …`).
import { createSocket, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { loadAead } from '../src/crypto/aead/select.js';
import { initSodium } from '../src/crypto/sodium.js';
import { newCounters, StormPeer, type PeerOutcome, type PeerTiming, type StormCounters, type StormServer } from './storm-peer.js';

export interface StormInput {
  server: StormServer;
  /** Source addresses the peers' sockets bind to, round robin. */
  sources: string[];
  /** Peers mid-handshake at once. */
  window: number;
  /** A handshake attempt, and then the echo, unanswered this long counts as lost (ms). */
  attemptMs: number;
  attempts: number;
  peers: Array<{ privateKey: string; addr: string }>;
}

export interface StormResult extends StormCounters {
  peers: number;
  window: number;
  sources: number;
  /** From the first initiation to the last handshake completed. */
  seconds: number;
  handshakesPerSecond: number;
  /** Handshake time of the peers that completed one (ms): median and p99. */
  handshakeMs: { median: number; p99: number } | null;
  outcomes: Record<PeerOutcome, number>;
  /** CPU seconds this generator used over the same time (it shares the machine with the server). */
  generatorCpuS: number;
}

function bind(source: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, source, () => {
      s.off('error', reject);
      resolve(s);
    });
  });
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export async function storm(input: StormInput): Promise<StormResult> {
  await initSodium();
  const aead = await loadAead();
  const counters = newCounters();
  // Every socket first: binding is not part of a handshake's time.
  const sockets = await Promise.all(input.peers.map((_, i) => bind(input.sources[i % input.sources.length]!)));
  const outcomes: Record<PeerOutcome, number> = { echoed: 0, 'no-echo': 0, 'no-handshake': 0 };
  const times: number[] = [];
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  let lastHandshake = t0;
  await new Promise<void>((resolve) => {
    let next = 0;
    let finished = 0;
    // A slot of the window is a handshake in flight: the next peer starts as
    // soon as one completes, while the finished one moves its data.
    const startOne = (): void => {
      if (next >= input.peers.length) return;
      const i = next++;
      const p = input.peers[i]!;
      new StormPeer(p.privateKey, p.addr, input.server, sockets[i]!, aead, counters, input, { handshakeSettled: startOne, done: onDone }).start();
    };
    const onDone = (t: PeerTiming): void => {
      outcomes[t.outcome]++;
      if (t.handshakeMs !== null && t.handshakeAt !== null) {
        times.push(t.handshakeMs);
        lastHandshake = Math.max(lastHandshake, t.handshakeAt);
      }
      if (++finished === input.peers.length) resolve();
    };
    if (input.peers.length === 0) resolve();
    for (let k = 0; k < input.window; k++) startOne();
  });
  const cpu = process.cpuUsage(cpu0);
  for (const s of sockets) s.close();
  times.sort((a, b) => a - b);
  const seconds = (lastHandshake - t0) / 1000;
  return {
    peers: input.peers.length,
    window: input.window,
    sources: input.sources.length,
    ...counters,
    seconds,
    handshakesPerSecond: seconds > 0 ? counters.handshakes / seconds : 0,
    handshakeMs: times.length ? { median: quantile(times, 0.5), p99: quantile(times, 0.99) } : null,
    outcomes,
    generatorCpuS: (cpu.user + cpu.system) / 1e6,
  };
}

// Run as a program (not when imported by the bench runner for its types).
if (process.argv[1]?.endsWith('storm.js') && process.argv[2]) {
  const input = JSON.parse(readFileSync(process.argv[2], 'utf8')) as StormInput;
  process.stdout.write(`${JSON.stringify(await storm(input))}\n`);
}
