// The many-peers report on made-up figures: memory per peer only where N is
// large enough for RSS noise not to drown it, a reload that did not report
// its change shown as not applied (never timed), and the targets judged from
// the rows that hold them.
import { expect } from 'chai';
import { scaleTable, targetLines } from '../../bench/peers-report.js';
import type { ScaleRow } from '../../bench/peers-scale.js';

const MiB = 2 ** 20;

function row(n: number, rssMiB: number, more: Partial<ScaleRow['sealtun']> = {}): ScaleRow {
  return {
    n,
    sealtun: { rss: rssMiB * MiB, upS: 1, statusS: 0.3, reloadS: 0.4, statusPeers: n, ...more },
    wireguardGo: { rss: (5 + n / 100) * MiB, setconfS: 0.01, peers: n },
  };
}

describe('bench-peers: the report', () => {
  const rows = [
    row(1, 90),
    row(100, 88, { reloadS: null, reloadError: 'printed "reloaded: nothing changed"' }),
    row(1000, 100, { reloadS: 0.6 }),
    row(10_000, 180),
  ];

  it('gives memory per peer from 1 000 peers on, as the slope from the first row', () => {
    const lines = scaleTable(rows).split('\n');
    const cells = (n: number): string[] => lines.find((l) => l.startsWith(`| ${n} `))!.split('|').map((c) => c.trim());
    expect(cells(100)[3], 'N = 100: RSS noise, no figure').to.equal('—');
    expect(cells(1000)[3]).to.equal(((10 * 1024) / 999).toFixed(1));
    expect(cells(10_000)[3]).to.equal(((90 * 1024) / 9999).toFixed(1));
    expect(cells(10_000)[8], 'wireguard-go per peer').to.equal(((100 * 1024) / 9999).toFixed(1));
  });

  it('shows a reload that did not report its change as not applied, not as a time', () => {
    const lines = scaleTable(rows).split('\n');
    expect(lines.find((l) => l.startsWith('| 100 '))).to.include('not applied');
  });

  it('judges each target from the row that holds it', () => {
    const [memory, status, reload] = targetLines(rows);
    expect(memory).to.match(/: 9\.2 KiB \(N 1 → 10000\), NOT met$/);
    expect(status).to.match(/: 0\.300 s, met$/);
    expect(reload).to.match(/: 0\.600 s, met$/);
    expect(targetLines(rows.slice(0, 2))[2]).to.match(/not measured$/);
  });
});
