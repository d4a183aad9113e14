// `make bench` / `make bench-quick`: sealtun over UDP and TCP against
// OpenVPN 2.6 (UDP, TCP) and wireguard-go, plus the bare underlay, at several
// underlay loss rates, measured side by side in one run. See bench/matrix.ts
// for what runs, and the report's Method section for how.
//
//   node dist/bench/run.js [--quick] [--rounds N] [--seconds S] [--tunnels a,b]
//                          [--cc cubic] [--delay-ms 10] [--out DIR] [--cases matrix,light,peers]
// Cases: `matrix` (throughput, RTT and CPU per GB at each loss rate),
// `light` (CPU of light interactive traffic, bench/light.ts) and `peers`
// (4 clients through one server at once, bench/peers-case.ts).
//   node dist/bench/run.js --render bench/results/X.json   (re-render md + svg)
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { defer, installCleanupHandlers, undoAll } from './cleanup.js';
import { run, sleep } from './exec.js';
import { machineInfo } from './machine.js';
import { ALL_TUNNELS, describePlan, estimateSeconds, formatDuration, fullPlan, quickPlan, setupSeconds, steps, type Plan, type TunnelId } from './matrix.js';
import { hostCpuSeconds, processCpuSeconds } from './measure/cpu.js';
import { iperf, type IperfResult } from './measure/iperf.js';
import { peersCase, peersSeconds, type PeersCase, type PeersPlan } from './peers-case.js';
import type { StarSoftware } from './peers-throughput.js';
import { LIGHT_PLAN, lightCase, lightSeconds, type LightPlan, type LightRecord } from './light.js';
import { ping, type PingSamples } from './measure/ping.js';
import { Underlay } from './netns.js';
import { REPO, RESULTS_DIR } from './paths.js';
import { Progress } from './progress.js';
import { fmtLoss, fmtMbps, fmtMs } from './report/format.js';
import { resultStem, writeResults } from './report/write.js';
import type { BenchResult, IperfRecord, PingRecord } from './results.js';
import { BareUnderlay } from './tunnels/bare.js';
import { OpenVpnTunnel } from './tunnels/openvpn.js';
import { KEEPWARM_OFF, SealtunTunnel } from './tunnels/sealtun.js';
import type { Tunnel, TunnelContext, TunnelInfo } from './tunnels/types.js';
import { WireguardGoTunnel } from './tunnels/wireguard.js';

const USAGE = `usage: node dist/bench/run.js [--quick] [--rounds N] [--seconds S] [--tunnels ${ALL_TUNNELS.join(',')}]
                               [--loss 0,0.5,2] [--cc cubic] [--delay-ms 10] [--out DIR] [--cases matrix,light,peers]
       node dist/bench/run.js --render RESULT.json`;

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    seconds: { type: 'string' },
    tunnels: { type: 'string' },
    loss: { type: 'string' },
    cc: { type: 'string', default: 'cubic' },
    'delay-ms': { type: 'string', default: '10' },
    out: { type: 'string', default: RESULTS_DIR },
    render: { type: 'string' },
    cases: { type: 'string', default: 'matrix,light,peers' },
    help: { type: 'boolean', default: false },
  },
});

function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}

function positive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) fail(`--${name} must be a positive number, got ${value}`);
  return n;
}

const CASES = ['matrix', 'light', 'peers'] as const;
type Case = (typeof CASES)[number];

function buildCases(): Set<Case> {
  const wanted = args.cases.split(',').map((c) => c.trim());
  for (const c of wanted) if (!(CASES as readonly string[]).includes(c)) fail(`unknown case ${c}; known: ${CASES.join(', ')}`);
  return new Set(wanted as Case[]);
}

/** The light-traffic case: one round in a quick run. */
function buildLightPlan(plan: Plan): LightPlan {
  return { ...LIGHT_PLAN, rounds: plan.mode === 'quick' ? 1 : LIGHT_PLAN.rounds };
}

/** The several-peers case: 4 clients, as `make bench-peers`; 2 rounds (1 in a quick run), as long as the matrix's runs. */
function buildPeersPlan(plan: Plan): PeersPlan {
  return { clients: 4, rounds: plan.mode === 'quick' ? 1 : 2, seconds: plan.seconds };
}

/** The tunnels the light case compares, in order: sealtun UDP (defaults, then KeepWarm off), OpenVPN UDP, wireguard-go. */
const LIGHT_TUNNELS = ['sealtun-udp', `sealtun-udp-${KEEPWARM_OFF.id}`, 'openvpn-udp', 'wireguard-go'];

function buildPlan(): Plan {
  const plan = args.quick ? quickPlan() : fullPlan();
  plan.rounds = Math.round(positive('rounds', args.rounds, plan.rounds));
  plan.seconds = Math.round(positive('seconds', args.seconds, plan.seconds));
  if (args.tunnels) {
    const wanted = args.tunnels.split(',').map((t) => t.trim());
    for (const t of wanted) if (!(ALL_TUNNELS as readonly string[]).includes(t)) fail(`unknown tunnel ${t}; known: ${ALL_TUNNELS.join(', ')}`);
    plan.tunnels = ALL_TUNNELS.filter((t) => wanted.includes(t));
  }
  if (args.loss) {
    plan.lossRates = args.loss.split(',').map((l) => {
      const pct = Number(l);
      if (!Number.isFinite(pct) || pct < 0 || pct >= 100) fail(`--loss takes percentages, got ${l}`);
      return pct / 100;
    });
  }
  return plan;
}

async function have(cmd: string): Promise<boolean> {
  return (await run(['sh', '-c', `command -v ${cmd}`])).code === 0;
}

/** Why a tunnel cannot run here, or null if its programs are installed. */
async function missingFor(id: TunnelId): Promise<string | null> {
  const needs: Record<TunnelId, string[]> = {
    'sealtun-udp': [],
    'sealtun-tcp': [],
    'openvpn-udp': ['openvpn', 'openssl'],
    'openvpn-tcp': ['openvpn', 'openssl'],
    'wireguard-go': ['wireguard-go', 'wg'],
    underlay: [],
  };
  const missing: string[] = [];
  for (const c of needs[id]) if (!(await have(c))) missing.push(c);
  return missing.length ? `${missing.join(', ')} not installed (bash bench/install-deps.sh installs it with apt-get)` : null;
}

function makeTunnel(id: TunnelId, ctx: TunnelContext): Tunnel {
  switch (id) {
    case 'sealtun-udp':
      return new SealtunTunnel(ctx, 'udp');
    case 'sealtun-tcp':
      return new SealtunTunnel(ctx, 'tcp');
    case 'openvpn-udp':
      return new OpenVpnTunnel(ctx, 'udp');
    case 'openvpn-tcp':
      return new OpenVpnTunnel(ctx, 'tcp');
    case 'wireguard-go':
      return new WireguardGoTunnel(ctx);
    case 'underlay':
      return new BareUnderlay(ctx);
  }
}

function describeIperf(r: IperfResult): string {
  return r.ok ? `${fmtMbps(r.mbps)} Mbit/s${r.retransmits ? `, ${r.retransmits} retr` : ''}` : `FAILED: ${r.error}`;
}

function describePing(p: PingSamples): string {
  if (p.rttsMs.length === 0) return `no replies (${p.sent} sent)`;
  const avg = p.rttsMs.reduce((a, b) => a + b, 0) / p.rttsMs.length;
  return `${fmtMs(avg)} ms avg, ${p.received}/${p.sent} replies`;
}

async function bench(): Promise<void> {
  const plan = buildPlan();
  const cases = buildCases();
  const lightPlan = buildLightPlan(plan);
  const peersPlan = buildPeersPlan(plan);
  if (!cases.has('matrix')) {
    // Only what the light case measures, at one loss rate.
    plan.tunnels = plan.tunnels.filter((t) => LIGHT_TUNNELS.includes(t));
    plan.lossRates = [0];
  }
  if (process.getuid?.() !== 0) fail('needs root (namespaces, TUN devices, iptables)');
  for (const tool of ['ip', 'iptables', 'iperf3', 'ping', 'ss', 'tc', 'sysctl']) {
    if (!(await have(tool))) fail(`${tool} is missing: run bash scripts/install-deps.sh && bash bench/install-deps.sh (or make bench)`);
  }
  const rttDelayMs = Number(args['delay-ms']);
  if (!Number.isFinite(rttDelayMs) || rttDelayMs < 0) fail(`--delay-ms must be >= 0`);

  const skipped: BenchResult['skipped'] = [];
  for (const id of [...plan.tunnels]) {
    const why = await missingFor(id);
    if (why) {
      skipped.push({ id, reason: why });
      plan.tunnels = plan.tunnels.filter((t) => t !== id);
      console.log(`bench: skipping ${id}: ${why}`);
    }
  }

  const startedAt = new Date().toISOString();
  const t0 = Date.now();
  const lightCount = plan.tunnels.filter((t) => LIGHT_TUNNELS.includes(t)).length + (plan.tunnels.includes('sealtun-udp') ? 1 : 0);
  // The several-peers case: sealtun over UDP, and wireguard-go when it is installed and in the plan.
  const starSoftwares: StarSoftware[] = [];
  if (cases.has('peers') && plan.tunnels.includes('sealtun-udp')) starSoftwares.push('sealtun');
  if (cases.has('peers') && plan.tunnels.includes('wireguard-go')) starSoftwares.push('wireguard-go');
  const estimate =
    (cases.has('matrix') ? estimateSeconds(plan) : setupSeconds(plan)) +
    (cases.has('light') ? lightSeconds(lightPlan, lightCount) : 0) +
    (starSoftwares.length ? peersSeconds(peersPlan, starSoftwares.length) : 0);
  if (cases.has('matrix')) console.log(`bench: ${describePlan(plan)}`);
  if (cases.has('light')) console.log(`bench: light traffic: ${lightCount} tunnels × ${lightPlan.rounds} round(s) × ${lightPlan.seconds} s`);
  if (starSoftwares.length) console.log(`bench: several peers: ${starSoftwares.join(', ')} × ${peersPlan.clients} clients × ${peersPlan.rounds} round(s) × ${peersPlan.seconds} s`);
  console.log(`bench: estimated ${formatDuration(estimate)} (min:s) on a 2-core VM; progress below`);

  installCleanupHandlers();
  const machine = await machineInfo();
  const tag = randomBytes(2).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), 'sealtun-bench-'));
  defer(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  const net = Underlay.create(tag);
  console.log(`bench: namespaces ${net.a} / ${net.b}, temp dir ${dir}`);
  const outerCc = await net.defaultCongestionControl();
  const netem = await net.probeNetem();
  net.lossMethod = netem ? 'netem' : 'iptables';
  const notes: string[] = [];
  if (!netem) notes.push('netem is not available in this kernel (`tc qdisc add ... netem` fails): loss made with iptables, no delay added.');

  const ctx: TunnelContext = { net, dir, tag };
  const tunnels = new Map<TunnelId, Tunnel>();
  const infos: TunnelInfo[] = [];
  const logs: Record<string, string> = {};
  for (const id of plan.tunnels) {
    const t = makeTunnel(id, ctx);
    const began = Date.now();
    try {
      await t.up();
      tunnels.set(id, t);
      infos.push(await t.info());
      console.log(`bench: ${t.label} up in ${((Date.now() - began) / 1000).toFixed(1)} s`);
    } catch (err) {
      const reason = `failed to come up: ${(err as Error).message}`;
      skipped.push({ id, reason });
      logs[id] = t.logTail();
      console.log(`bench: ${id} ${reason}\n${logs[id]}`);
    }
  }
  plan.tunnels = plan.tunnels.filter((id) => tunnels.has(id));
  if (plan.tunnels.length === 0) throw new Error('no tunnel came up');
  // The light case's extra: sealtun UDP with KeepWarm off, beside the defaults.
  let keepWarmOff: Tunnel | null = null;
  if (cases.has('light') && tunnels.has('sealtun-udp')) {
    const t = new SealtunTunnel(ctx, 'udp', KEEPWARM_OFF);
    try {
      await t.up();
      keepWarmOff = t;
      infos.push(await t.info());
    } catch (err) {
      skipped.push({ id: t.id, reason: `failed to come up: ${(err as Error).message}` });
      logs[t.id] = t.logTail();
    }
  }

  const all = cases.has('matrix') ? steps(plan) : [];
  const progress = new Progress(plan, all, t0);
  const iperfRecords: IperfRecord[] = [];
  const pingRecords: PingRecord[] = [];
  const lossObserved: BenchResult['lossObserved'] = [];
  const died = new Set<TunnelId>();
  let currentLoss: number | null = null;
  console.log(`bench: setup took ${formatDuration((Date.now() - t0) / 1000)} (planned ${formatDuration(setupSeconds(plan))}); measuring`);

  for (const step of all) {
    if (step.lossRate !== currentLoss) {
      if (currentLoss !== null) lossObserved.push(await net.observeLoss(currentLoss));
      await net.setImpairment(step.lossRate, netem ? rttDelayMs : 0);
      currentLoss = step.lossRate;
      console.log(`bench: underlay loss now ${fmtLoss(step.lossRate)} each way (${net.lossMethod})`);
    }
    const tunnel = tunnels.get(step.tunnel)!;
    progress.begin(step);
    if (!tunnel.alive()) {
      if (!died.has(step.tunnel)) {
        died.add(step.tunnel);
        logs[step.tunnel] = tunnel.logTail();
        notes.push(`${tunnel.label}: a tunnel process exited during the run (before loss ${fmtLoss(step.lossRate)} round ${step.round}); later runs recorded as failed. Log tail in the JSON.`);
      }
      if (step.kind === 'iperf') {
        iperfRecords.push({ tunnel: step.tunnel, lossRate: step.lossRate, streams: step.streams, round: step.round, result: { ok: false, error: 'tunnel process exited' }, tunnelCpuS: null, hostCpuS: 0, wallS: 0 });
      }
      progress.end(step, 'skipped: tunnel process gone');
      continue;
    }
    if (step.kind === 'idle-ping') {
      const samples = await ping(net.a, tunnel.target, { count: plan.idlePings, intervalS: plan.pingIntervalS, deadlineS: plan.idlePings * plan.pingIntervalS + 2 });
      pingRecords.push({ tunnel: step.tunnel, lossRate: step.lossRate, round: step.round, load: 'idle', samples });
      progress.end(step, describePing(samples));
      continue;
    }
    // Loaded latency rides along the 1-stream runs: a ping starting once TCP has ramped up.
    let loaded: Promise<PingSamples> | null = null;
    const pids = tunnel.pids();
    const cpu0 = processCpuSeconds(pids);
    const host0 = hostCpuSeconds();
    const wall0 = Date.now();
    const result = await iperf({
      serverNs: net.b,
      clientNs: net.a,
      target: tunnel.target,
      streams: step.streams,
      seconds: plan.seconds,
      congestion: args.cc,
      logDir: dir,
      onStart:
        step.streams === 1
          ? () => {
              loaded = sleep(500).then(() =>
                ping(net.a, tunnel.target, { count: Math.floor((plan.seconds - 1) / plan.pingIntervalS), intervalS: plan.pingIntervalS, deadlineS: plan.seconds }),
              );
            }
          : undefined,
    });
    const cpu1 = processCpuSeconds(pids);
    const hostCpuS = hostCpuSeconds() - host0;
    const wallS = (Date.now() - wall0) / 1000;
    iperfRecords.push({
      tunnel: step.tunnel,
      lossRate: step.lossRate,
      streams: step.streams,
      round: step.round,
      result,
      tunnelCpuS: pids.length && cpu0 !== null && cpu1 !== null ? cpu1 - cpu0 : null,
      hostCpuS,
      wallS,
    });
    let line = describeIperf(result);
    const loadedPing = loaded as Promise<PingSamples> | null;
    if (loadedPing) {
      const samples = await loadedPing;
      pingRecords.push({ tunnel: step.tunnel, lossRate: step.lossRate, round: step.round, load: 'loaded', samples });
      line += ` | loaded RTT ${describePing(samples)}`;
    }
    if (!result.ok && !logs[step.tunnel]) logs[step.tunnel] = tunnel.logTail();
    progress.end(step, line);
  }
  if (currentLoss !== null) lossObserved.push(await net.observeLoss(currentLoss));

  let light: LightRecord[] | undefined;
  if (cases.has('light')) {
    // At the clean link's settings, like the matrix's first loss rate.
    await net.setImpairment(0, netem ? rttDelayMs : 0);
    const order = LIGHT_TUNNELS.map((id) => (keepWarmOff?.id === id ? keepWarmOff : tunnels.get(id as TunnelId))).filter((t): t is Tunnel => t !== undefined);
    light = await lightCase(order, net.a, lightPlan, (line) => console.log(`bench: ${line}`));
    if (keepWarmOff && !keepWarmOff.alive()) logs[keepWarmOff.id] = keepWarmOff.logTail();
  }

  for (const t of [...tunnels.values(), ...(keepWarmOff ? [keepWarmOff] : [])]) {
    if (!t.alive() && !logs[t.id]) logs[t.id] = t.logTail();
    await t.down().catch(() => undefined);
  }

  // In namespaces of its own (a star of client namespaces around a server), with the tunnels above down.
  let peers: PeersCase | undefined;
  if (starSoftwares.length) peers = await peersCase(starSoftwares, peersPlan, { dir, tag, congestion: args.cc }, (line) => console.log(`bench: ${line}`));
  undoAll();
  await assertCleanedUp(net);

  const finishedAt = new Date().toISOString();
  const result: BenchResult = {
    schema: 1,
    mode: plan.mode,
    command: ['node', 'dist/bench/run.js', ...process.argv.slice(2)].join(' '),
    startedAt,
    finishedAt,
    durationS: Math.round((Date.now() - t0) / 1000),
    machine,
    settings: {
      lossRates: plan.lossRates,
      streams: plan.streams,
      rounds: plan.rounds,
      seconds: plan.seconds,
      idlePings: plan.idlePings,
      pingIntervalS: plan.pingIntervalS,
      lossMethod: net.lossMethod,
      lossWhere:
        net.lossMethod === 'iptables'
          ? 'iptables `-m statistic --mode random --probability P -j DROP` on INPUT of the underlay veth in both namespaces, so each direction loses P (dropped at the receiver, as on a wire; a local OUTPUT drop would be reported to the sender instead)'
          : 'netem loss P on the egress of the underlay veth in both namespaces, so each direction loses P',
      delay: netem ? `${rttDelayMs} ms round trip with netem (half each way)` : 'not applied (no netem in this kernel)',
      congestionControl: `inner TCP (iperf3 -C) ${args.cc}; outer TCP of the TCP transports ${outerCc} (the namespaces inherit the host's default and may not select a restricted algorithm)`,
      outerCongestionControl: outerCc,
      ...(light ? { light: lightPlan } : {}),
      ...(peers ? { peers: peersPlan } : {}),
    },
    tunnels: infos,
    skipped,
    lossObserved,
    iperf: iperfRecords,
    pings: pingRecords,
    ...(light ? { light } : {}),
    ...(peers ? { peers } : {}),
    notes,
    logs,
  };
  mkdirSync(args.out, { recursive: true });
  const written = await writeResults(result, resultStem(args.out, startedAt));
  console.log(`\n${written.markdown}`);
  console.log(`bench: done in ${formatDuration(result.durationS)} (estimated ${formatDuration(estimate)})`);
  for (const f of [written.json, written.md, written.svg]) console.log(`bench: wrote ${relative(REPO, f)}`);
}

/** Double-checks that the namespaces are gone; the cleanup stack should have removed everything. */
async function assertCleanedUp(net: Underlay): Promise<void> {
  const r = await run(['ip', 'netns', 'list']);
  const left = [net.a, net.b].filter((ns) => r.stdout.includes(ns));
  if (left.length) process.stderr.write(`bench: WARNING: namespaces still present after cleanup: ${left.join(', ')}\n`);
}

async function render(file: string): Promise<void> {
  const result = JSON.parse(readFileSync(file, 'utf8')) as BenchResult;
  const written = await writeResults(result, file.replace(/\.json$/, ''), { json: false });
  console.log(written.markdown);
  console.log(`bench: wrote ${written.md} and ${written.svg}`);
}

if (args.help) {
  console.log(USAGE);
} else {
  try {
    if (args.render) await render(args.render);
    else await bench();
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
    undoAll();
    process.exit(1);
  }
}
