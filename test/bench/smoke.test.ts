// The benchmark harness brings sealtun up the way `make bench` does and gets
// a figure out of it: one short round over each transport. It asserts only
// that a run completes and reports throughput, never how much: speed is
// measured by `make bench`, not judged here. (It found that the harness
// looked for the daemon's pid file outside its namespace's run directory.)
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const RUN = fileURLToPath(new URL('../../bench/run.js', import.meta.url));

describe('benchmark harness (one short round, sealtun only)', function () {
  this.timeout(120_000);

  it('brings sealtun up over udp and tcp and reports a throughput for each', () => {
    const out = mkdtempSync(join(tmpdir(), 'sealtun-bench-smoke-'));
    try {
      const r = spawnSync(
        process.execPath,
        // The matrix only: the light-traffic and several-peers cases take minutes (`make bench` runs them).
        [RUN, '--quick', '--cases', 'matrix', '--rounds', '1', '--seconds', '1', '--loss', '0', '--tunnels', 'sealtun-udp,sealtun-tcp', '--out', out],
        { encoding: 'utf8', timeout: 110_000 },
      );
      expect(r.status, `${r.stdout}\n${r.stderr}`).to.equal(0);
      const json = readdirSync(out).find((f) => f.endsWith('.json'));
      expect(json, 'a result file').to.be.a('string');
      const text = readFileSync(join(out, json!), 'utf8');
      for (const id of ['sealtun-udp', 'sealtun-tcp']) expect(text, id).to.include(`"${id}"`);
      expect(r.stderr + r.stdout).to.not.match(/failed to come up/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
