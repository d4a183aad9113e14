// Running commands, optionally inside one of the bench's namespaces. Every
// child is registered with the cleanup stack while it runs, so an interrupted
// bench never leaves an iperf3, ping or tunnel process behind.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { defer, killPidSync, pidAlive } from './cleanup.js';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Network namespace to run in (`ip netns exec`, which execs: the child PID is the command's). */
  ns?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  input?: string;
}

export function inNamespace(ns: string | undefined, cmd: readonly string[]): string[] {
  return ns ? ['ip', 'netns', 'exec', ns, ...cmd] : [...cmd];
}

type Stdio = ['pipe' | 'ignore', 'pipe', 'pipe'] | ['ignore', number, number];

function spawnIn(cmd: readonly string[], ns: string | undefined, env: NodeJS.ProcessEnv | undefined, stdio: Stdio): ChildProcess {
  const argv = inNamespace(ns, cmd);
  return spawn(argv[0]!, argv.slice(1), { stdio, env: { ...process.env, ...env } });
}

/** Runs a command to completion and collects its output; killed after `timeoutMs` (default 60 s). */
export function run(cmd: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawnIn(cmd, opts.ns, opts.env, [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe']);
    const forget = child.pid ? defer(`stop ${cmd[0]} (pid ${child.pid})`, () => killPidSync(child.pid!, 500)) : () => {};
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', (err) => (stderr += `${err.message}\n`));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      forget();
      resolve({ code, signal, stdout, stderr });
    });
    if (opts.input !== undefined) {
      // A command that exits without reading its input must not crash the bench with EPIPE.
      child.stdin!.on('error', () => undefined);
      child.stdin!.end(opts.input);
    }
  });
}

/** Like run(), but a non-zero exit is an error carrying the command's stderr. */
export async function mustRun(cmd: readonly string[], opts: RunOptions = {}): Promise<string> {
  const r = await run(cmd, opts);
  if (r.code !== 0) {
    const where = opts.ns ? ` (in ${opts.ns})` : '';
    throw new Error(`${cmd.join(' ')}${where} failed (${r.code ?? r.signal}): ${(r.stderr || r.stdout).trim()}`);
  }
  return r.stdout;
}

/** A long-running process the bench started; its output goes to a log file. */
export class Proc {
  readonly pid: number;
  readonly exited: Promise<number | null>;
  private exitCode: number | null | undefined = undefined;
  private readonly forget: () => void;

  constructor(
    readonly name: string,
    cmd: readonly string[],
    opts: { ns?: string; env?: NodeJS.ProcessEnv; log: string },
  ) {
    const fd = openSync(opts.log, 'a');
    const child = spawnIn(cmd, opts.ns, opts.env, ['ignore', fd, fd]);
    closeSync(fd);
    if (!child.pid) throw new Error(`could not start ${cmd.join(' ')}`);
    this.pid = child.pid;
    this.exited = new Promise((resolve) => {
      child.on('exit', (code) => {
        this.exitCode = code;
        resolve(code);
      });
      child.on('error', () => {
        this.exitCode = null;
        resolve(null);
      });
    });
    this.forget = defer(`stop ${name} (pid ${this.pid})`, () => killPidSync(this.pid));
  }

  running(): boolean {
    return this.exitCode === undefined && pidAlive(this.pid);
  }

  /** SIGTERM, then SIGKILL if it does not exit within `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.running()) {
      process.kill(this.pid, 'SIGTERM');
      const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceMs).unref());
      if ((await Promise.race([this.exited, timeout])) === 'timeout' && this.running()) process.kill(this.pid, 'SIGKILL');
      await this.exited;
    }
    this.forget();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `check` until it returns true; throws naming `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}
