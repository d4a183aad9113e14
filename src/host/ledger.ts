// What a tunnel added to the host (routes and rules, DNS, the kill switch,
// hooks still to run on the way down), kept in RUN_DIR/NAME.host.json.
//
// A daemon may die without undoing anything (kill -9, a crash) or may have
// dropped root before it stops; so whatever it changed outside its own
// interface is written down here, by root, before the change is made, and
// undone by whichever root process comes next for the same Name: the
// daemon's own stop, `sealtun down`, or the next `sealtun up`.
import { closeSync, constants, fstatSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runDir } from '../daemon/rundir.js';

/** One section per kind of change; each module owns its section's shape. */
export type HostLedger = Record<string, unknown>;

export function ledgerFile(name: string): string {
  return join(runDir(), `${name}.host.json`);
}

/**
 * The ledger holds commands that root runs (the down hooks) and says what
 * root removes: one it did not write itself is refused, not read.
 */
export class LedgerError extends Error {
  override readonly name = 'LedgerError';
}

/** Whoever may have written a ledger or the run directory: root, or this process's own user (tests, a non-root run dir). */
function trustedOwner(uid: number): boolean {
  return uid === 0 || uid === (process.geteuid?.() ?? 0);
}

function refuse(path: string, why: string): LedgerError {
  return new LedgerError(`${path}: ${why}; not trusted: sealtun runs as root what a host ledger holds (the PreDown/PostDown hooks), so it must be root's own file in root's own directory; remove it if you did not put it there`);
}

/** The run directory: owned by root (or us) and writable by its owner alone, else anyone could plant a ledger. */
function checkRunDir(): void {
  const dir = runDir();
  let st;
  try {
    st = statSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!trustedOwner(st.uid)) throw refuse(dir, `the run directory is owned by uid ${st.uid}`);
  if ((st.mode & 0o022) !== 0) throw refuse(dir, `the run directory is group or world writable (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')})`);
}

/**
 * The ledger of a Name, or {} when there is none (or it is not JSON:
 * nothing is known to undo). Throws LedgerError for one that is a symbolic
 * link, not a regular file, not owned by root (or this user), or writable
 * by group or others, and when the run directory itself is open to others.
 */
export function readLedger(name: string): HostLedger {
  checkRunDir();
  const file = ledgerFile(name);
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return {};
    if (code === 'ELOOP') throw refuse(file, 'it is a symbolic link');
    throw err;
  }
  let text: string;
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw refuse(file, 'it is not a regular file');
    if (!trustedOwner(st.uid)) throw refuse(file, `it is owned by uid ${st.uid}`);
    if ((st.mode & 0o022) !== 0) throw refuse(file, `it is group or world writable (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')})`);
    text = readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
  try {
    const parsed: unknown = JSON.parse(text);
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
