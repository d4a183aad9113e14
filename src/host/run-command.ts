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
}

/** Long enough for any sane hook; a hung one must not hang `up` or `down` forever. */
const COMMAND_TIMEOUT_MS = 60_000;

/** Runs `argv` with `input` on stdin; never throws for a failing command. */
export function runCommand(argv: readonly string[], input = ''): Promise<CommandResult> {
  return new Promise((resolve) => {
    const [file, ...args] = argv;
    const child = spawn(file!, args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: COMMAND_TIMEOUT_MS });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => chunks.push(d));
    child.stderr.on('data', (d: Buffer) => chunks.push(d));
    let startError: string | undefined;
    child.on('error', (err) => (startError = (err as NodeJS.ErrnoException).code ?? err.message));
    child.on('close', (code, signal) => {
      const result: CommandResult = { code, signal, output: Buffer.concat(chunks).toString('utf8') };
      if (startError !== undefined) result.startError = startError;
      resolve(result);
    });
    child.stdin.on('error', () => undefined); // a command that does not read stdin closes it early
    child.stdin.end(input);
  });
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
