// Knowing a process for sure before signalling it. A pid alone is not enough:
// a stale pid file may name a pid the kernel has since given to anything. A
// process is its pid plus its start time (/proc/PID/stat field 22, clock
// ticks after boot), and a pidfd pins the process, so the check and the
// signal that follows concern the same one.
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import * as libc from '../sys/libc.js';

export interface ProcessIdentity {
  pid: number;
  startTime: string;
}

/** Field 22 of /proc/PID/stat, or null when there is no such process. */
export function startTimeOf(pid: number | 'self'): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm (field 2) may hold spaces and parentheses: count from the last ')'; field 3 follows it.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[22 - 3] ?? null;
  } catch {
    return null;
  }
}

export function ownIdentity(): ProcessIdentity {
  return { pid: process.pid, startTime: startTimeOf('self') ?? '' };
}

/**
 * A pid file's text: the pid on the first line (all that systemd's PIDFile=
 * reads) and the start time on the second, so that the file alone can name
 * the process for sure when the control socket is gone (daemon.ts).
 */
export function pidFileText(who: ProcessIdentity): string {
  return `${who.pid}\n${who.startTime}\n`;
}

/** What a pid file says; startTime is null in a file of one line (an older sealtun's). */
export function parsePidFile(text: string): { pid: number; startTime: string | null } | null {
  const [pidLine = '', startLine = ''] = text.split('\n');
  const pid = Number(pidLine.trim());
  if (!Number.isInteger(pid) || pid <= 0) return null;
  return { pid, startTime: /^\d+$/.test(startLine.trim()) ? startLine.trim() : null };
}

const ENOSYS = 38;

/** A handle on exactly the process an identity names. */
export class PinnedProcess {
  private constructor(
    readonly pid: number,
    private readonly startTime: string,
    /** -1 on kernels before 5.3 (no pidfd_open): the start time is checked before each signal instead. */
    private fd: number,
  ) {}

  /** Null when that process has gone (its pid free, or now another process's). */
  static open(who: ProcessIdentity): PinnedProcess | null {
    const fd = libc.syscall(libc.SYS_pidfd_open, 'int', who.pid, 'unsigned int', 0);
    if (fd < 0 && libc.errno() !== ENOSYS) return null;
    // The pidfd names whoever held the pid when it was opened: `who` only if the start time matches now.
    if (startTimeOf(who.pid) !== who.startTime) {
      if (fd >= 0) libc.close(fd);
      return null;
    }
    return new PinnedProcess(who.pid, who.startTime, fd);
  }

  /** Sends `sig` (0: only asks whether it still runs); false once the process has gone. */
  signal(sig: NodeJS.Signals | 0): boolean {
    const n = sig === 0 ? 0 : constants.signals[sig];
    if (this.fd >= 0) {
      if (libc.syscall(libc.SYS_pidfd_send_signal, 'int', this.fd, 'int', n, 'void *', null, 'unsigned int', 0) === 0) return true;
      const e = libc.errno();
      if (e === libc.ESRCH) return false;
      throw signalError(this.pid, libc.errnoName(e));
    }
    if (startTimeOf(this.pid) !== this.startTime) return false;
    try {
      process.kill(this.pid, n);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
      throw signalError(this.pid, (err as NodeJS.ErrnoException).code ?? 'unknown error');
    }
  }

  close(): void {
    if (this.fd >= 0) libc.close(this.fd);
    this.fd = -1;
  }
}

/** Carries the errno name as `code`, as Node's own errors do, so callers can tell EPERM. */
function signalError(pid: number, code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`pid ${pid}: cannot signal it: ${code}`), { code });
}
