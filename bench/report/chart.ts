// The charts, rendered headless with vega-lite → vega → SVG (vega's SVG
// renderer needs no canvas): throughput against underlay loss, one line per
// tunnel and transport (1 and 4 streams side by side), and round-trip time
// against loss, idle and during a transfer. Throughput uses a log scale
// because the bare underlay runs an order of magnitude above any tunnel.
import { parse, View, type Spec } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { Row } from './summary.js';

const COLORS: Record<string, string> = {
  'sealtun-udp': '#1f5fa8',
  'sealtun-tcp': '#7fb2e5',
  'openvpn-udp': '#c0392b',
  'openvpn-tcp': '#f1948a',
  'wireguard-go': '#2e8b57',
  underlay: '#7f7f7f',
};

interface ThroughputPoint {
  tunnel: string;
  lossPct: number;
  streams: string;
  mbps: number;
  min: number;
  max: number;
}

interface LatencyPoint {
  tunnel: string;
  lossPct: number;
  state: string;
  avgMs: number;
  p99Ms: number;
}

export function chartData(rows: readonly Row[]): { throughput: ThroughputPoint[]; latency: LatencyPoint[] } {
  const throughput: ThroughputPoint[] = [];
  const latency: LatencyPoint[] = [];
  for (const r of rows) {
    const lossPct = Number((r.lossRate * 100).toFixed(2));
    for (const f of r.byStreams) {
      if (f.mbps) throughput.push({ tunnel: r.tunnel.label, lossPct, streams: `${f.streams} stream${f.streams > 1 ? 's' : ''}`, mbps: f.mbps.median, min: f.mbps.min, max: f.mbps.max });
    }
    for (const [state, s] of [
      ['idle', r.rttIdle],
      ['during iperf3 (1 stream)', r.rttLoaded],
    ] as const) {
      if (s) latency.push({ tunnel: r.tunnel.label, lossPct, state, avgMs: s.avgMs, p99Ms: s.p99Ms });
    }
  }
  return { throughput, latency };
}

export function chartSpec(rows: readonly Row[], title: string): TopLevelSpec {
  const { throughput, latency } = chartData(rows);
  const tunnels = [...new Map(rows.map((r) => [r.tunnel.id, r.tunnel])).values()];
  const lossTicks = [...new Set(rows.map((r) => Number((r.lossRate * 100).toFixed(2))))];
  // Fixed colours per tunnel, paired by software (dark = UDP, light = TCP), so charts of different runs read alike.
  const color = {
    field: 'tunnel',
    type: 'nominal',
    title: 'tunnel',
    scale: { domain: tunnels.map((t) => t.label), range: tunnels.map((t) => COLORS[t.id] ?? '#bcbd22') },
    legend: { labelLimit: 300 },
  } as const;
  const x = { field: 'lossPct', type: 'quantitative', title: 'underlay loss, % each way', axis: { values: lossTicks } } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    config: { font: 'sans-serif', view: { stroke: '#ddd' } },
    vconcat: [
      {
        data: { values: throughput },
        title: 'TCP throughput through the tunnel (iperf3, median, bars = min–max)',
        facet: { column: { field: 'streams', type: 'nominal', title: null } },
        spec: {
          width: 300,
          height: 240,
          layer: [
            {
              mark: { type: 'rule', opacity: 0.6 },
              encoding: { x, y: { field: 'min', type: 'quantitative', scale: { type: 'log' } }, y2: { field: 'max' }, color },
            },
            {
              mark: { type: 'line', point: true },
              encoding: { x, y: { field: 'mbps', type: 'quantitative', title: 'Mbit/s (log)', scale: { type: 'log' } }, color },
            },
          ],
        },
      },
      {
        data: { values: latency },
        title: 'Round-trip time through the tunnel (ping, average; dashed = idle)',
        width: 640,
        height: 240,
        mark: { type: 'line', point: true },
        encoding: {
          x,
          y: { field: 'avgMs', type: 'quantitative', title: 'RTT ms (log)', scale: { type: 'log' } },
          color,
          strokeDash: { field: 'state', type: 'nominal', title: 'measured', sort: ['during iperf3 (1 stream)', 'idle'], legend: { symbolType: 'stroke', labelLimit: 300 } },
          detail: { field: 'state' },
        },
      },
    ],
  };
}

/**
 * vega-lite gives the symbols of a strokeDash-only legend a transparent
 * stroke (it has no colour to draw them in), which hides the very dash
 * pattern the legend explains; give them one in the compiled spec.
 */
function showDashLegendSymbols(spec: Spec): void {
  for (const legend of spec.legends ?? []) {
    const update = legend.strokeDash !== undefined ? legend.encode?.symbols?.update : undefined;
    if (update) update.stroke = { value: '#333' };
  }
}

/** Renders the charts to a standalone SVG document. */
export async function renderChartSvg(rows: readonly Row[], title: string): Promise<string> {
  const vega = compile(chartSpec(rows, title)).spec;
  showDashLegendSymbols(vega);
  const view = new View(parse(vega), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
