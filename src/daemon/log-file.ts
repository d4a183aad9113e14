// The log file of `up --daemon` (RUN_DIR/NAME.log; under systemd the journal
// takes its place). /run is a small tmpfs: each start moves the previous
// run's log to NAME.log.1, replacing the one before, and begins an empty
// NAME.log, so the logs of a tunnel restarted again and again take at most
// two runs' worth, while a crash's last lines survive the restart that follows.
import { openSync, renameSync } from 'node:fs';

/** Moves `path` to `path.1` (if there is one) and opens a new, empty `path` for appending; returns its fd. */
export function openFreshLog(path: string): number {
  try {
    renameSync(path, `${path}.1`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return openSync(path, 'a', 0o600);
}
