// One `sealtun up` per Name at a time. The control socket and the pid file
// appear only once a tunnel is up; a second `up` of the same Name during a
// slow start (PreUp, PostUp) would otherwise pass refuseRunning and its
// clean-up of a dead daemon's leftovers (undoHost) would take away the first
// one's rules, DNS and recorded hooks. So each `up` takes RUN_DIR/NAME.lock
// with flock(2) before it changes anything and holds it for the daemon's
// life: the kernel lets go when the process ends, however it ends, so a
// crash leaves no stale lock. The file holds the holder's pid and start
// time (as a pid file does) for the message the next `up` prints. Node
// opens files close-on-exec: a hook's background process never inherits it.
import { closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync, constants } from 'node:fs';
import { join } from 'node:path';
import * as libc from '../sys/libc.js';
import { ownIdentity, parsePidFile, pidFileText, type ProcessIdentity } from './process-identity.js';
import { runDir } from './rundir.js';

/** Another process holds the Name's lock: it is starting or running. */
export class NameLockHeld extends Error {
  override readonly name = 'NameLockHeld';
  constructor(
    readonly tunnel: string,
    /** As the lock file says; null when the holder has not written it yet. */
    readonly holder: ProcessIdentity | null,
  ) {
    super(`${tunnel}: already starting or running (pid ${holder?.pid ?? 'unknown'}); stop it first with: sealtun down ${tunnel}`);
  }
}

export function lockFile(name: string): string {
  return join(runDir(), `${name}.lock`);
}

/** Locks the open lock file `fd` and writes our identity into it; else closes it and throws (NameLockHeld when held). */
function lockFd(name: string, fd: number): void {
  if (libc.flock(fd, libc.LOCK_EX | libc.LOCK_NB) === 0) {
    ftruncateSync(fd, 0);
    writeSync(fd, pidFileText(ownIdentity()), 0);
    return;
  }
  const e = libc.errno();
  let holder: ProcessIdentity | null = null;
  try {
    const said = parsePidFile(readFileSync(fd, 'utf8'));
    if (said?.startTime) holder = { pid: said.pid, startTime: said.startTime };
  } finally {
    closeSync(fd);
  }
  if (e === libc.EAGAIN) throw new NameLockHeld(name, holder);
  throw new Error(`${lockFile(name)}: flock: ${libc.errnoName(e)}`);
}

export class NameLock {
  private constructor(private fd: number) {}

  /** Takes NAME's lock or throws NameLockHeld; never waits. */
  static take(name: string): NameLock {
    mkdirSync(runDir(), { recursive: true, mode: 0o700 });
    const fd = openSync(lockFile(name), constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
    lockFd(name, fd);
    return new NameLock(fd);
  }

  /** Lets go (the daemon never does: its exit does; tests and `--daemon`'s early check do). */
  release(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

/**
 * Who holds NAME's lock (a tunnel still starting has neither control
 * socket nor pid file yet), or null when nobody does. It asks by taking
 * the lock for an instant.
 */
export function lockHolder(name: string): ProcessIdentity | null {
  let fd: number;
  try {
    fd = openSync(lockFile(name), constants.O_RDWR | constants.O_NOFOLLOW);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null; // never started here: nothing to create
    throw err;
  }
  try {
    lockFd(name, fd);
    closeSync(fd);
    return null;
  } catch (err) {
    if (err instanceof NameLockHeld) return err.holder;
    throw err;
  }
}
