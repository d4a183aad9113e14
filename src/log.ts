// One line per event on stderr, with a level. Never given secrets.
import { fstatSync } from 'node:fs';

export type Level = 'error' | 'warn' | 'info' | 'debug';
const ORDER: Record<Level, number> = { error: 0, warn: 1, info: 2, debug: 3 };

/** syslog(3) priorities: LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG. */
const PRIORITY: Record<Level, number> = { error: 3, warn: 4, info: 6, debug: 7 };

export interface Logger {
  error(msg: string): void;
  warn(msg: string): void;
  info(msg: string): void;
  debug(msg: string): void;
}

/**
 * Whether stderr is a stream to the journal: systemd sets JOURNAL_STREAM to
 * the DEVICE:INODE of the stream it connected (systemd.exec(5)); a child
 * whose stderr went elsewhere (a log file, a pipe) inherits the variable
 * but not the stream, so the inode decides.
 */
export function stderrIsJournal(env: NodeJS.ProcessEnv = process.env, fd = 2): boolean {
  const stream = env['JOURNAL_STREAM'];
  if (!stream) return false;
  try {
    const s = fstatSync(fd, { bigint: true });
    return stream === `${s.dev}:${s.ino}`;
  } catch {
    return false;
  }
}

/**
 * A line for the journal: `<N>` in front is the syslog priority, which
 * journald takes off and stores as PRIORITY= (sd-daemon(3)), so
 * `journalctl -p warning` filters by it; no time stamp, the journal keeps
 * its own. Each line of a multi-line message carries the prefix, or journald
 * would file the continuation lines at the unit's default level.
 */
export function journalLines(level: Level, text: string): string {
  return text
    .split('\n')
    .map((l) => `<${PRIORITY[level]}>${l}\n`)
    .join('');
}

/**
 * `journal` (default: stderr is the journal's stream, see stderrIsJournal)
 * switches to the journal's format; otherwise each line starts with an ISO
 * time stamp, as the `--daemon` log file and a terminal need.
 */
export function createLogger(name: string, level: Level, out: NodeJS.WritableStream = process.stderr, journal = out === process.stderr && stderrIsJournal()): Logger {
  const max = ORDER[level];
  const line = (l: Level) => (msg: string) => {
    if (ORDER[l] > max) return;
    out.write(journal ? journalLines(l, `${name} ${l}: ${msg}`) : `${new Date().toISOString()} ${name} ${l}: ${msg}\n`);
  };
  return { error: line('error'), warn: line('warn'), info: line('info'), debug: line('debug') };
}
