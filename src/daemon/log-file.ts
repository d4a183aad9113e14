// The log file of `up --daemon` (RUN_DIR/NAME.log; under systemd the journal
// takes its place). /run is a small tmpfs: each start moves the previous
// run's log to NAME.log.1, replacing the one before, and begins an empty
// NAME.log, so the logs of a tunnel restarted again and again take at most
// two runs' worth, while a crash's last lines survive the restart that follows.
// Within one run the daemon checks once a minute and, past LOG_CAP_BYTES,
// does the same move; so the two files stay under about twice the cap.
import { closeSync, fstatSync, ftruncateSync, openSync, renameSync, writeSync } from 'node:fs';
import * as libc from '../sys/libc.js';

/**
 * Where a running daemon's log starts over. Its lines are events (peers,
 * endpoints, reloads; drops summed once a minute), a few kB a day on a
 * quiet tunnel: this is a backstop, not a rotation schedule.
 */
export const LOG_CAP_BYTES = 4 * 1024 * 1024;
const LOG_CHECK_MS = 60_000;

/** Moves `path` to `path.1` (if there is one) and opens a new, empty `path` for appending; returns its fd. */
export function openFreshLog(path: string): number {
  try {
    renameSync(path, `${path}.1`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return openSync(path, 'a', 0o600);
}

/**
 * When the log that `fds` write to (the daemon's stdout and stderr) has
 * passed `capBytes`: moves it to `path.1` and points `fds` at a new `path`
 * (dup2, so every writer follows at once). A daemon that dropped root may
 * not rename in root's run directory: then the file is emptied in place
 * instead, with a line saying so. Returns what it did.
 */
export function rotateIfPast(path: string, capBytes: number, fds: readonly number[]): 'kept' | 'rotated' | 'truncated' {
  const st = fstatSync(fds[0]!);
  if (!st.isFile() || st.size < capBytes) return 'kept';
  let fresh: number;
  try {
    fresh = openFreshLog(path);
  } catch (err) {
    ftruncateSync(fds[0]!, 0);
    writeSync(fds[0]!, `${new Date().toISOString()} log passed ${capBytes} bytes and could not be moved to ${path}.1 (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): emptied\n`);
    return 'truncated';
  }
  for (const fd of fds) libc.dup2(fresh, fd);
  closeSync(fresh);
  return 'rotated';
}

/** Checks the running daemon's log (fds 1 and 2) once a minute. */
export function capRunningLog(path: string): void {
  setInterval(() => {
    try {
      rotateIfPast(path, LOG_CAP_BYTES, [1, 2]);
    } catch {
      /* a log that cannot be checked is no reason to stop the tunnel */
    }
  }, LOG_CHECK_MS).unref();
}
