// runCommand (src/host/run-command.ts), as the hooks and the DNS tools use
// it: done when the command exits, not when a background process it
// started lets go of its output; a timeout kills the whole process group.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { runCommand } from '../../src/host/run-command.js';
import { eventually } from '../helpers/netns.js';

/** Gone, or a zombie nobody reaped yet: either way it runs no more. */
function runs(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('runCommand (src/host/run-command.ts)', () => {
  const started: number[] = [];
  after(() => {
    for (const pid of started) if (runs(pid)) process.kill(pid, 'SIGKILL');
  });

  it('returns when a command that leaves a background process exits, with what it printed', async () => {
    const t0 = Date.now();
    const r = await runCommand(['/bin/sh', '-c', 'sleep 20 & echo "started $!"']);
    const ms = Date.now() - t0;
    const pid = Number(/started (\d+)/.exec(r.output)?.[1]);
    started.push(pid);
    process.stdout.write(`      (returned after ${ms} ms: ${JSON.stringify(r.output)}; the background sleep still runs: ${runs(pid)})\n`);
    expect(r.code).to.equal(0);
    expect(r.output).to.match(/^started \d+\n$/);
    expect(ms, 'not held until the background sleep closes the pipe').to.be.below(5000);
    expect(runs(pid), 'the background process is left running').to.equal(true);
  });

  it('a command past its time is killed with its whole process group', async () => {
    const t0 = Date.now();
    const r = await runCommand(['/bin/sh', '-c', 'sleep 30 & echo "bg $!"; sleep 30'], { timeoutMs: 500 });
    const ms = Date.now() - t0;
    const pid = Number(/bg (\d+)/.exec(r.output)?.[1]);
    started.push(pid);
    process.stdout.write(`      (timed out after ${ms} ms: signal ${r.signal})\n`);
    expect(r.timedOut).to.equal(true);
    expect(r.signal).to.equal('SIGKILL');
    expect(ms).to.be.below(5000);
    await eventually(async () => !runs(pid), 5000, 50);
  });

  it('reports a program that cannot start', async () => {
    const r = await runCommand(['/nonexistent/program']);
    expect(r.startError).to.equal('ENOENT');
    expect(r.code).to.equal(null);
  });
});
