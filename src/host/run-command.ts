// Runs the host's own tools for the host layer (resolvconf, resolvectl,
// the hooks' /bin/sh): a handful of times per `up` or `down`, never on the
// packet path.
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';

export interface CommandResult {
  /** The exit code; null when killed by a signal (then `signal` says which) or when it could not start. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** stdout and stderr together, in the order they arrived. */
  output: string;
  /** Set when the program could not be started (ENOENT, EACCES). */
  startError?: string;
  /** Set when it ran past its time and its process group was killed. */
  timedOut?: boolean;
}

/** Long enough for any sane hook; a hung one must not hang `up` or `down` forever. */
const COMMAND_TIMEOUT_MS = 60_000;

/**
 * After the command exits, how long its output may take to arrive. A hook
 * that starts a background process (`PostUp = mydaemon %i &`) leaves that
 * process holding the pipes: its output is not waited for past this (the
 * pipes are closed on it, so such a hook should redirect its output, as
 * with wg-quick).
 */
const DRAIN_MS = 100;

export interface CommandOptions {
  /** Stdin's content. */
  input?: string;
  /** Default COMMAND_TIMEOUT_MS; the tests use a short one. */
  timeoutMs?: number;
}

/**
 * Runs `argv`; never throws for a failing command. It runs in a process
 * group of its own (detached), so that a timeout kills everything it
 * started, and it is done when it exits, not when every process that
 * inherited its stdout has closed it.
 */
export function runCommand(argv: readonly string[], opts: CommandOptions = {}): Promise<CommandResult> {
  return new Promise((resolve) => {
    const [file, ...args] = argv;
    const child = spawn(file!, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => chunks.push(d));
    child.stderr.on('data', (d: Buffer) => chunks.push(d));
    let startError: string | undefined;
    let timedOut = false;
    let exit: { code: number | null; signal: NodeJS.Signals | null } = { code: null, signal: null };
    let done = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
    }, opts.timeoutMs ?? COMMAND_TIMEOUT_MS);
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.stdout.destroy();
      child.stderr.destroy();
      const result: CommandResult = { ...exit, output: Buffer.concat(chunks).toString('utf8') };
      if (startError !== undefined) result.startError = startError;
      if (timedOut) result.timedOut = true;
      resolve(result);
    };
    child.on('error', (err) => {
      startError = (err as NodeJS.ErrnoException).code ?? err.message;
      if (child.pid === undefined) finish(); // never started: no 'exit' follows
    });
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      setTimeout(finish, DRAIN_MS).unref();
    });
    child.on('close', finish); // every pipe closed too: nothing more to wait for
    child.stdin.on('error', () => undefined); // a command that does not read stdin closes it early
    child.stdin.end(opts.input ?? '');
  });
}

/** SIGKILL to the command's whole process group (its pid is the group's id: spawned detached). */
function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

/** Where root's tools live even when PATH lacks them (sudo, a bare unit environment). */
const SBIN = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

/** The full path of `program` on PATH (plus the sbin directories), or null. */
export function findProgram(program: string, path = process.env['PATH'] ?? ''): string | null {
  for (const dir of [...path.split(':').filter(Boolean), ...SBIN]) {
    const candidate = join(dir, program);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      /* not here */
    }
  }
  return null;
}
