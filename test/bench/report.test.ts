// The benchmark's data handling on recorded output: iperf3 -J and ping
// parsing, statistics, the per-loss table, the verdict and the chart spec.
// Nothing here runs a tunnel or asserts a timing.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseHostStatTicks, parseProcStatTicks, cpuSecondsPerGB } from '../../bench/measure/cpu.js';
import { parseIperfJson, type IperfResult } from '../../bench/measure/iperf.js';
import { parsePing, rttStats, type PingSamples } from '../../bench/measure/ping.js';
import { chartSpec, renderChartSvg } from '../../bench/report/chart.js';
import { renderMarkdown } from '../../bench/report/markdown.js';
import { fmtMbps } from '../../bench/report/format.js';
import { median, percentile, spread } from '../../bench/report/stats.js';
import { summarize, rowFor, mbpsOf } from '../../bench/report/summary.js';
import { lossTable, TABLE_HEADER } from '../../bench/report/table.js';
import { verdict } from '../../bench/report/verdict.js';
import type { BenchResult, IperfRecord, PingRecord } from '../../bench/results.js';
import type { TunnelInfo } from '../../bench/tunnels/types.js';
import { steps, quickPlan, fullPlan } from '../../bench/matrix.js';
import { lightRows } from '../../bench/report/light.js';
import { NO_OFFLOADS } from '../../bench/tunnels/wireguard.js';
import { parseSchedstat, threadDeltasMs, threadTimes, totalMs } from '../../bench/measure/schedstat.js';

const FIXTURES = fileURLToPath(new URL('../../../test/bench/fixtures/', import.meta.url));
const fixture = (name: string) => readFileSync(FIXTURES + name, 'utf8');

function okResult(r: IperfResult): Extract<IperfResult, { ok: true }> {
  if (!r.ok) throw new Error(`expected a successful run, got ${r.error}`);
  return r;
}

describe('bench: iperf3 JSON', () => {
  it('reads goodput, bytes and retransmits of a 1-stream run from the receiver side', () => {
    const r = okResult(parseIperfJson(fixture('iperf3-1stream.json')));
    expect(r.mbps).to.be.closeTo(23868.3026, 0.001);
    expect(r.bytes).to.equal(5967708160);
    expect(r.retransmits).to.equal(11);
    expect(r.congestion).to.equal('cubic');
    expect(r.seconds).to.be.greaterThan(1.9);
  });

  it('sums the streams of a 4-stream run', () => {
    const raw = JSON.parse(fixture('iperf3-4streams.json')) as { end: { streams: Array<{ receiver: { bytes: number } }> } };
    const r = okResult(parseIperfJson(fixture('iperf3-4streams.json')));
    expect(raw.end.streams).to.have.length(4);
    expect(r.bytes).to.equal(raw.end.streams.reduce((s, x) => s + x.receiver.bytes, 0));
    expect(r.mbps).to.be.closeTo(23091.238, 0.001);
  });

  it("reports iperf3's own error and output that is not JSON", () => {
    const refused = parseIperfJson(fixture('iperf3-refused.json'));
    expect(refused).to.deep.equal({ ok: false, error: 'iperf3: unable to connect to server: Connection refused' });
    const garbage = parseIperfJson('iperf3: error - something\n');
    expect(garbage.ok).to.equal(false);
    expect(parseIperfJson('{"end": {"sum_sent": {"bytes": "x"}}}').ok).to.equal(false);
  });
});

describe('bench: ping output', () => {
  function summaryLine(text: string): { min: number; avg: number; max: number } {
    const m = /rtt min\/avg\/max\/mdev = ([\d.]+)\/([\d.]+)\/([\d.]+)/.exec(text)!;
    return { min: Number(m[1]), avg: Number(m[2]), max: Number(m[3]) };
  }

  it('keeps every reply and agrees with ping’s own summary', () => {
    const text = fixture('ping-idle.txt');
    const p = parsePing(text);
    expect(p.sent).to.equal(20);
    expect(p.received).to.equal(20);
    expect(p.rttsMs).to.have.length(20);
    const s = rttStats([p])!;
    const own = summaryLine(text);
    expect(s.avgMs).to.be.closeTo(own.avg, 0.001);
    expect(s.p99Ms).to.equal(own.max); // nearest rank of 20 samples is the largest
    expect(s.lossRate).to.equal(0);
  });

  it('counts lost requests and ignores duplicates', () => {
    const p = parsePing(fixture('ping-lossy.txt'));
    expect(p.sent).to.equal(55);
    expect(p.received).to.equal(30);
    expect(p.rttsMs).to.have.length(30);
    expect(rttStats([p])!.lossRate).to.be.closeTo(25 / 55, 1e-9);
    const dup = parsePing('64 bytes from 10.0.0.2: icmp_seq=1 ttl=64 time=1.5 ms\n64 bytes from 10.0.0.2: icmp_seq=1 ttl=64 time=1.7 ms (DUP!)\n');
    expect(dup.rttsMs).to.deep.equal([1.5]);
  });

  it('pools several runs before taking p99, and has no statistics without replies', () => {
    const a: PingSamples = { sent: 50, received: 50, rttsMs: Array.from({ length: 50 }, (_, i) => i + 1) };
    const b: PingSamples = { sent: 50, received: 50, rttsMs: Array.from({ length: 50 }, (_, i) => i + 51) };
    const s = rttStats([a, b])!;
    expect(s.samples).to.equal(100);
    expect(s.avgMs).to.equal(50.5);
    expect(s.p99Ms).to.equal(99);
    expect(rttStats([{ sent: 10, received: 0, rttsMs: [] }])).to.equal(null);
  });
});

describe('bench: statistics and /proc parsing', () => {
  it('formats figures to three digits without a spurious decimal at the thresholds', () => {
    expect([fmtMbps(99.97), fmtMbps(99.94), fmtMbps(9.996), fmtMbps(1234.4)]).to.deep.equal(['100', '99.9', '10.0', '1234']);
  });

  it('median, nearest-rank percentile, spread', () => {
    expect(median([3, 1, 2])).to.equal(2);
    expect(median([4, 1, 3, 2])).to.equal(2.5);
    expect(percentile([5, 1, 4, 2, 3], 0.5)).to.equal(3);
    expect(percentile([1, 2, 3], 0.99)).to.equal(3);
    expect(spread([7, 3, 5])).to.deep.equal({ median: 5, min: 3, max: 7, n: 3 });
    expect(spread([])).to.equal(null);
  });

  it('reads utime+stime even when the process name has spaces and parentheses', () => {
    const stat = '4242 (node (worker) x) S 1 4242 4242 0 -1 4194560 2000 0 0 0 1234 567 0 0 20 0 7 0 100 0 0';
    expect(parseProcStatTicks(stat)).to.equal(1234 + 567);
    expect(parseHostStatTicks('cpu  100 5 50 1000 10 3 7 11 0 0\ncpu0 1 1 1 1 1 1 1 1 0 0\n')).to.equal(100 + 5 + 50 + 3 + 7);
    expect(cpuSecondsPerGB(3, 2e9)).to.equal(1.5);
    expect(cpuSecondsPerGB(3, 0)).to.equal(null);
  });
});

describe('bench: matrix', () => {
  it('interleaves tunnels within each loss rate and rotates their order per round', () => {
    const plan = quickPlan();
    const all = steps(plan);
    expect(all.filter((s) => s.kind === 'iperf')).to.have.length(plan.tunnels.length * plan.lossRates.length * plan.rounds);
    const firstOfRound = (round: number) => all.find((s) => s.round === round && s.lossRate === 0)!.tunnel;
    expect(firstOfRound(1)).to.equal(plan.tunnels[0]);
    expect(firstOfRound(2)).to.equal(plan.tunnels[1]);
    expect(all.map((s) => s.lossRate)).to.deep.equal([...all.map((s) => s.lossRate)].sort((a, b) => a - b));
    expect(fullPlan().streams).to.deep.equal([1, 4]);
  });
});

// A made-up run with round numbers, so every figure in the table is known.
function info(id: string, software: TunnelInfo['software'], transport: TunnelInfo['transport'], label: string): TunnelInfo {
  return { id, software, transport, label, version: 'test', innerMtu: transport === 'none' ? null : 1420, config: 'test' };
}

function syntheticResult(): BenchResult {
  const mbpsByCase: Record<string, Record<number, number[]>> = {
    'sealtun-udp': { 0: [400, 500, 450], 0.02: [100, 120, 110] },
    'sealtun-tcp': { 0: [380, 420, 400], 0.02: [30, 20, 25] },
    'openvpn-udp': { 0: [300, 250, 350], 0.02: [80, 90, 100] },
    'openvpn-tcp': { 0: [280, 300, 290], 0.02: [10, 12, 0] },
  };
  const iperf: IperfRecord[] = [];
  for (const [tunnel, byLoss] of Object.entries(mbpsByCase)) {
    for (const [loss, values] of Object.entries(byLoss)) {
      values.forEach((mbps, i) => {
        const result: IperfResult = mbps === 0 ? { ok: false, error: 'iperf3 did not finish' } : { ok: true, mbps, senderMbps: mbps, bytes: (mbps * 1e6 * 3) / 8, seconds: 3, retransmits: 0, congestion: 'cubic' };
        iperf.push({ tunnel, lossRate: Number(loss), streams: 1, round: i + 1, result, tunnelCpuS: result.ok ? result.bytes / 1e9 * 2 : null, hostCpuS: 1, wallS: 3 });
      });
    }
  }
  const idle = parsePing(fixture('ping-idle.txt'));
  const pings: PingRecord[] = [];
  for (const tunnel of Object.keys(mbpsByCase)) {
    for (const lossRate of [0, 0.02]) {
      pings.push({ tunnel, lossRate, round: 1, load: 'idle', samples: idle });
      pings.push({ tunnel, lossRate, round: 1, load: 'loaded', samples: { sent: 4, received: 4, rttsMs: [10, 20, 30, 40] } });
    }
  }
  const sample = JSON.parse(fixture('sample-result.json')) as BenchResult;
  return {
    ...sample,
    settings: { ...sample.settings, lossRates: [0, 0.02], streams: [1], rounds: 3 },
    tunnels: [info('sealtun-udp', 'sealtun', 'udp', 'sealtun UDP'), info('sealtun-tcp', 'sealtun', 'tcp', 'sealtun TCP'), info('openvpn-udp', 'openvpn', 'udp', 'OpenVPN UDP'), info('openvpn-tcp', 'openvpn', 'tcp', 'OpenVPN TCP')],
    iperf,
    pings,
  };
}

describe('bench: summary, table and verdict', () => {
  const result = syntheticResult();
  const rows = summarize(result);

  it('takes medians and ranges, and ratios to OpenVPN UDP round by round', () => {
    const st = rowFor(rows, 'sealtun-udp', 0)!;
    expect(st.byStreams[0]!.mbps).to.deep.equal({ median: 450, min: 400, max: 500, n: 3 });
    // Per round: 400/300, 500/250, 450/350 → median 4/3 (not 450/300).
    expect(st.byStreams[0]!.ratioToReference).to.be.closeTo(4 / 3, 1e-9);
    expect(st.tunnelCpuPerGB).to.be.closeTo(2, 1e-9);
    expect(st.rttLoaded).to.deep.include({ samples: 4, avgMs: 25, p99Ms: 40 });
    const failedRun = rowFor(rows, 'openvpn-tcp', 0.02)!.byStreams[0]!;
    expect(failedRun.failed).to.equal(1);
    expect(failedRun.mbps).to.deep.equal({ median: 11, min: 10, max: 12, n: 2 });
    expect(mbpsOf(rowFor(rows, 'sealtun-tcp', 0.02))).to.equal(25);
  });

  it('renders one table per loss rate with the measured figures', () => {
    const table = lossTable(rows, 0, [1]);
    const lines = table.split('\n');
    expect(lines).to.have.length(2 + 4);
    for (const h of TABLE_HEADER) expect(lines[0]).to.include(h);
    const sealtun = lines.find((l) => l.includes('sealtun') && l.includes('UDP'))!;
    expect(sealtun).to.include('450 (400–500)');
    expect(sealtun).to.include('1.33×');
    expect(sealtun).to.include('25.0 / 40.0');
    expect(lossTable(rows, 0.02, [1])).to.include('11.0 (10.0–12.0) (1 failed)');
  });

  it('answers the TCP-or-UDP question in plain language', () => {
    const v = verdict(rows, [0, 0.02]);
    expect(v[0]).to.equal(
      "Over 2% loss, sealtun's TCP transport delivers 23% of its UDP transport (25.0 vs 110 Mbit/s, 1 stream) (at 0% loss: 89%): on a lossy link use UDP; TCP transport only where UDP is blocked.",
    );
    expect(v[1]).to.match(/^Over 2% loss, OpenVPN's TCP transport delivers 12% of its UDP transport/);
    expect(v).to.include('At 0% loss sealtun UDP moves 450 Mbit/s with 1 stream (1.33× OpenVPN UDP).');
    expect(v.join('\n')).to.include('sealtun UDP spends 2.00 CPU-seconds per GB');
  });

  it('renders the recorded sample run into a report and a two-part chart', async () => {
    const sample = JSON.parse(fixture('sample-result.json')) as BenchResult;
    const sampleRows = summarize(sample);
    const md = renderMarkdown(sample, sampleRows, 'x.svg');
    expect(md).to.include('## 0% underlay loss');
    expect(md).to.include('## 2% underlay loss');
    expect(md).to.include('![Throughput and round-trip time against underlay loss](x.svg)');
    expect(md).to.match(/Over 2% loss, sealtun's TCP transport delivers \d+% of its UDP transport/);
    const spec = chartSpec(sampleRows, 'test') as { vconcat: unknown[] };
    expect(spec.vconcat).to.have.length(2);
    const svg = await renderChartSvg(sampleRows, 'test');
    expect(svg.startsWith('<svg')).to.equal(true);
    expect(svg).to.include('sealtun UDP');
  });
});

describe('bench: light traffic, several peers, schedstat', () => {
  const ok = (mbps: number): IperfResult => ({ ok: true, mbps, senderMbps: mbps, bytes: mbps * 1e6, seconds: 8, retransmits: 0, congestion: 'cubic' });
  const pings = (rtt: number): PingSamples => ({ sent: 3, received: 3, rttsMs: [rtt, rtt, rtt] });
  const base = syntheticResult();
  const result: BenchResult = {
    ...base,
    tunnels: [...base.tunnels, info('sealtun-udp-keepwarm-off', 'sealtun', 'udp', 'sealtun UDP, KeepWarm = off')],
    settings: { ...base.settings, light: { rounds: 2, seconds: 20, intervalS: 0.2, settleS: 2 }, peers: { clients: 4, rounds: 2, seconds: 5 } },
    light: [
      { tunnel: 'sealtun-udp', round: 1, cpuMs: 60, topThreads: [], samples: pings(0.4) },
      { tunnel: 'openvpn-udp', round: 1, cpuMs: 20, topThreads: [], samples: pings(0.2) },
      { tunnel: 'sealtun-udp', round: 2, cpuMs: 100, topThreads: [], samples: pings(0.6) },
      { tunnel: 'openvpn-udp', round: 2, cpuMs: 25, topThreads: [], samples: pings(0.3) },
      { tunnel: 'sealtun-udp-keepwarm-off', round: 1, cpuMs: 50, topThreads: [], samples: pings(1) },
    ],
    peers: {
      records: [
        { software: 'sealtun', round: 1, single: ok(800), together: [ok(200), ok(200), ok(200), ok(200)] },
        { software: 'wireguard-go', round: 1, single: ok(1000), together: [ok(250), ok(250), ok(250), ok(250)] },
        { software: 'sealtun', round: 2, single: ok(900), together: [ok(300), ok(300), ok(300), ok(300)] },
        { software: 'wireguard-go', round: 2, single: ok(1000), together: [ok(200), ok(200), ok(200), ok(200)] },
      ],
      failed: [],
    },
  };

  it('gives CPU per 20 s and RTT of light traffic with ratios to OpenVPN UDP taken round by round', () => {
    const rows = lightRows(result);
    const st = rows.find((r) => r.tunnel === 'sealtun-udp')!;
    expect(st.cpuMs).to.deep.equal({ median: 80, min: 60, max: 100, n: 2 });
    // Per round 60/20 = 3 and 100/25 = 4: median 3.5 (not 80/22.5).
    expect(st.cpuRatio).to.be.closeTo(3.5, 1e-9);
    expect(st.rttRatio).to.be.closeTo(2, 1e-9);
    const md = renderMarkdown(result, summarize(result), 'x.svg');
    expect(md).to.include('## Light interactive traffic');
    expect(md).to.match(/\| sealtun UDP, KeepWarm = off +\| +50 \| +2\.50× \|/);
  });

  it('sums the clients of the several-peers case and compares with wireguard-go round by round', () => {
    const md = renderMarkdown(result, summarize(result), 'x.svg');
    expect(md).to.include('## Several peers at once');
    // sealtun: sums 800 and 1200, per-round ratios 800/1000 and 1200/800: median 1.15.
    expect(md).to.match(/\| sealtun UDP +\| +850 \(800–900\) \| +1000 \(800–1200\) \| +1\.15× \|/);
  });

  it("labels a reference build without offloads in the tables (Debian bookworm's own wireguard-go)", () => {
    const old = { ...base, tunnels: base.tunnels.map((t) => (t.id === 'openvpn-udp' ? { ...t, tableNote: NO_OFFLOADS } : t)) };
    expect(lossTable(summarize(old), 0, [1])).to.include(`OpenVPN (${NO_OFFLOADS})`);
  });

  it('reads on-CPU nanoseconds from schedstat and the threads that ran between two readings', () => {
    expect(parseSchedstat('123456789 5000 42\n')).to.equal(123456789);
    const before = new Map([['1/1 node', 1e6], ['1/2 node', 5e6]]);
    const after = new Map([['1/1 node', 3e6], ['1/2 node', 5e6], ['1/3 node', 4e6]]);
    const d = threadDeltasMs(before, after);
    expect(d.map((x) => x.thread)).to.deep.equal(['1/3 node', '1/1 node', '1/2 node']);
    expect(totalMs(d)).to.equal(6);
    const own = threadTimes([process.pid]);
    expect(own!.size).to.be.greaterThan(0);
    expect(threadTimes([2 ** 22 + 7])).to.equal(null);
  });
});
