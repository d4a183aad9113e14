// Every namespace, iptables rule, process and temp dir the bench creates
// registers its undo here the moment it exists. The undos run newest first,
// synchronously (so they also work from process 'exit'), on normal end,
// failure, Ctrl-C, SIGTERM and SIGHUP: the host is left as it was found.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

interface Undo {
  what: string;
  fn: () => void;
}

const stack: Undo[] = [];

/** Registers an undo; the returned function drops it once the thing is gone by other means. */
export function defer(what: string, fn: () => void): () => void {
  const entry: Undo = { what, fn };
  stack.push(entry);
  return () => {
    const i = stack.indexOf(entry);
    if (i >= 0) stack.splice(i, 1);
  };
}

/** Runs and forgets every registered undo, newest first; one failing does not stop the rest. */
export function undoAll(): void {
  for (let u = stack.pop(); u; u = stack.pop()) {
    try {
      u.fn();
    } catch (err) {
      process.stderr.write(`bench cleanup: ${u.what}: ${(err as Error).message}\n`);
    }
  }
}

export function pendingUndos(): number {
  return stack.length;
}

let installed = false;

export function installCleanupHandlers(): void {
  if (installed) return;
  installed = true;
  process.on('exit', undoAll);
  for (const [sig, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const) {
    process.on(sig, () => {
      process.stderr.write(`\nbench: ${sig}, removing namespaces, rules and processes\n`);
      undoAll();
      process.exit(code);
    });
  }
}

/** Blocks the thread for `ms`: undos must be synchronous to run from 'exit'. */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Whether a PID is running. A child that exited but was not reaped yet (the
 * event loop cannot reap while an undo blocks) is a zombie: counted as gone.
 */
export function pidAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The namespace a PID lives in (by `ip netns identify`), or null. */
export function namespaceOf(pid: number): string | null {
  try {
    return execFileSync('ip', ['netns', 'identify', String(pid)], { stdio: 'pipe' }).toString().trim() || null;
  } catch {
    return null;
  }
}

/**
 * Stops one process we started: SIGTERM, up to `graceMs` to exit, then
 * SIGKILL. Only by PID, never by name.
 */
export function killPidSync(pid: number, graceMs = 2000): void {
  if (!pidAlive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (pidAlive(pid) && Date.now() < deadline) sleepSync(20);
  if (pidAlive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone meanwhile */
    }
  }
}
