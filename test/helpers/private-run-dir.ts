// A private run directory for unit tests that write ledgers in this process
// (src/host/ledger.ts); removed when the process exits.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDir } from '../../src/daemon/rundir.js';

let dir: string | undefined;

export function privateRunDir(): string {
  if (dir === undefined) {
    dir = mkdtempSync(join(tmpdir(), 'sealtun-run-'));
    process.env['SEALTUN_RUN_DIR'] = dir;
    const root = dir;
    process.once('exit', () => rmSync(root, { recursive: true, force: true }));
  }
  const used = runDir();
  if (!used.startsWith(dir)) throw new Error(`the run directory was fixed before this test set a private one (${used}); not writing there`);
  return used;
}
