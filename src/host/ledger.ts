// What a tunnel added to the host (routes and rules, DNS, the kill switch,
// hooks still to run on the way down), kept in RUN_DIR/NAME.host.json.
//
// A daemon may die without undoing anything (kill -9, a crash) or may have
// dropped root before it stops; so whatever it changed outside its own
// interface is written down here, by root, before the change is made, and
// undone by whichever root process comes next for the same Name: the
// daemon's own stop, `sealtun down`, or the next `sealtun up`.
import { mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runDir } from '../daemon/rundir.js';

/** One section per kind of change; each module owns its section's shape. */
export type HostLedger = Record<string, unknown>;

export function ledgerFile(name: string): string {
  return join(runDir(), `${name}.host.json`);
}

/** The ledger of a Name, or {} when there is none (or it cannot be read: nothing is known to undo). */
export function readLedger(name: string): HostLedger {
  try {
    const parsed: unknown = JSON.parse(readFileSync(ledgerFile(name), 'utf8'));
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as HostLedger) : {};
  } catch {
    return {};
  }
}

/** Records (or, with undefined, forgets) one section; written atomically so a crash leaves the old or the new file. */
export function recordInLedger(name: string, section: string, value: unknown): void {
  const ledger = readLedger(name);
  if (value === undefined) delete ledger[section];
  else ledger[section] = value;
  const file = ledgerFile(name);
  if (Object.keys(ledger).length === 0) {
    removeLedger(name);
    return;
  }
  mkdirSync(runDir(), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(ledger, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, file);
}

export function removeLedger(name: string): void {
  try {
    unlinkSync(ledgerFile(name));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
