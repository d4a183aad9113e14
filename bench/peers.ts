// `make bench-peers`: sealtun as a server with many peers (issue 15, "Scale").
// Three phases, each in namespaces of its own, removed afterwards:
//   1. configured peers: per N, the daemon's memory and the time of `up`,
//      `status --json` and a one-peer `reload`, beside wireguard-go's memory
//      with the same N peers (peers-scale.ts);
//   2. a handshake storm: N peers played by one process (storm.ts) while a
//      real client pings the server every 50 ms (peers-storm.ts);
//   3. several clients at once through one server (peers-throughput.ts).
// Settings come from the environment, so `make` passes them through:
//   PEERS_N="1 100 1000 10000"   peer counts of phase 1 (the first is the baseline)
//   PEERS_STORM=1000             storm peers (0 skips phase 2)
//   PEERS_STORM_WINDOW=64        handshakes in flight at once
//   PEERS_STORM_SOURCES=64       source addresses the storm peers spread over
//   PEERS_STORM_CLIENT=1         0: no real client (a server with the storm peers only)
//   PEERS_CLIENTS=4              clients of phase 3 (0 skips it)
//   PEERS_SECONDS=10             iperf3 seconds per run in phase 3
//   PEERS_REPEATS=5              runs of status and of reload per N (median)
//   PEERS_SETTLE_S=30            idle seconds after start before memory is read (both daemons)
//   PEERS_OUT=FILE.md            default bench/results/peers-<start time>.md
// Writes the markdown there and the raw figures beside it (.json). Results
// stay local, as `make bench`'s do; the runs the docs cite are committed.
//   node dist/bench/peers.js --render bench/results/peers.json   (re-render the .md)
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { defer, installCleanupHandlers, undoAll } from './cleanup.js';
import { mustRun, run } from './exec.js';
import { machineInfo } from './machine.js';
import { MAX_PEERS } from './peers-config.js';
import { renderPeers, type PeersResult } from './peers-report.js';
import { runScale } from './peers-scale.js';
import { runStorm } from './peers-storm.js';
import { runThroughput } from './peers-throughput.js';
import { WireguardGoServer } from './peers-wireguard.js';
import { REPO, RESULTS_DIR, SEALTUN_BIN } from './paths.js';
import { resultStem } from './report/write.js';

function fail(message: string): never {
  process.stderr.write(`bench-peers: ${message}\n`);
  process.exit(2);
}

function intEnv(name: string, fallback: number, min = 0): number {
  const v = process.env[name]?.trim();
  if (!v) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) fail(`${name}=${v}: expected an integer ≥ ${min}`);
  return n;
}

function counts(): number[] {
  const v = process.env['PEERS_N']?.trim() || '1 100 1000 10000';
  const ns = v.split(/[\s,]+/).map(Number);
  for (const n of ns) if (!Number.isInteger(n) || n < 1 || n > MAX_PEERS) fail(`PEERS_N="${v}": each count must be an integer from 1 to ${MAX_PEERS}`);
  return [...new Set(ns)].sort((a, b) => a - b);
}

async function have(cmd: string): Promise<boolean> {
  return (await run(['sh', '-c', `command -v ${cmd}`])).code === 0;
}

async function sealtunVersion(): Promise<string> {
  const version = (await mustRun([process.execPath, SEALTUN_BIN, '--version'])).trim();
  const commit = (await run(['git', '-C', REPO, 'describe', '--always', '--dirty'])).stdout.trim();
  return commit ? `${version} (${commit})` : version;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) fail('needs root (namespaces, TUN devices)');
  for (const tool of ['ip', 'ping', 'iperf3', 'ss']) if (!(await have(tool))) fail(`${tool} is missing: run bash bench/install-deps.sh (or make bench-peers)`);
  const settings = {
    counts: counts(),
    storm: intEnv('PEERS_STORM', 1000),
    window: intEnv('PEERS_STORM_WINDOW', 64, 1),
    sources: intEnv('PEERS_STORM_SOURCES', 64, 1),
    realClient: intEnv('PEERS_STORM_CLIENT', 1) !== 0,
    clients: intEnv('PEERS_CLIENTS', 4),
    seconds: intEnv('PEERS_SECONDS', 10, 1),
    repeats: intEnv('PEERS_REPEATS', 5, 1),
    settleS: intEnv('PEERS_SETTLE_S', 30),
  };
  if (settings.clients > 16) fail('PEERS_CLIENTS: at most 16');
  if (settings.sources > 250) fail('PEERS_STORM_SOURCES: at most 250');
  const withWg = (await have('wireguard-go')) && (await have('wg'));
  if (!withWg) console.log('bench-peers: wireguard-go or wg not installed (bash bench/install-deps.sh installs them); measuring sealtun only');

  installCleanupHandlers();
  const startedAt = new Date().toISOString();
  const outMd = process.env['PEERS_OUT']?.trim() || `${resultStem(RESULTS_DIR, startedAt).replace(/[^/]+$/, (stamp) => `peers-${stamp}`)}.md`;
  const t0 = Date.now();
  const machine = await machineInfo();
  const tag = randomBytes(2).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), 'sealtun-bench-peers-'));
  defer(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  const log = (line: string): void => console.log(`bench-peers: ${line}`);
  log(`N = ${settings.counts.join(', ')}; storm ${settings.storm} peers; ${settings.clients} clients × ${settings.seconds} s; temp dir ${dir}`);

  const scale = await runScale({ counts: settings.counts, repeats: settings.repeats, settleMs: settings.settleS * 1000, wireguardGo: withWg, dir, tag, log });
  let storm = null;
  if (settings.storm > 0) {
    storm = await runStorm({ peers: settings.storm, window: settings.window, sources: settings.sources, realClient: settings.realClient, dir, tag });
    log(`storm: ${storm.storm ? `${storm.storm.handshakes} handshakes, ${storm.storm.handshakesPerSecond.toFixed(0)}/s` : `failed: ${storm.error}`}` + (storm.pings ? `; real client ${storm.pings.received}/${storm.pings.sent} pings` : ''));
  }
  let throughput = null;
  if (settings.clients > 0) {
    throughput = await runThroughput({ clients: settings.clients, seconds: settings.seconds, congestion: 'cubic', dir, tag });
    log(`throughput: ${throughput.error ? `failed: ${throughput.error}` : 'done'}`);
  }

  const result: PeersResult = {
    startedAt,
    durationS: Math.round((Date.now() - t0) / 1000),
    command: Object.entries(process.env)
      .filter(([k]) => k.startsWith('PEERS_'))
      .map(([k, v]) => `${k}="${v}" `)
      .join('') + 'node dist/bench/peers.js',
    machine,
    versions: { sealtun: await sealtunVersion(), wireguardGo: withWg ? await WireguardGoServer.version() : null },
    scale,
    storm,
    throughput,
  };
  undoAll();
  mkdirSync(dirname(outMd), { recursive: true });
  // The raw figures first, so they survive a failure to render them.
  writeFileSync(outMd.replace(/\.md$/, '') + '.json', `${JSON.stringify(result, null, 2)}\n`);
  const md = renderPeers(result);
  writeFileSync(outMd, md);
  console.log(`\n${md}`);
  log(`wrote ${relative(REPO, outMd)} and its .json`);
}

/** Writes FILE.md again from FILE.json (after a change to the report's layout). */
function render(json: string): void {
  const md = renderPeers(JSON.parse(readFileSync(json, 'utf8')) as PeersResult);
  writeFileSync(json.replace(/\.json$/, '.md'), md);
  console.log(md);
}

try {
  if (process.argv[2] === '--render' && process.argv[3]) render(process.argv[3]);
  else await main();
} catch (err) {
  process.stderr.write(`bench-peers: ${(err as Error).stack ?? String(err)}\n`);
  undoAll();
  process.exit(1);
}
