// One sealtun daemon as the many-peers bench drives it: `sealtun up --daemon`
// in a namespace with a private run directory, then the commands an operator
// would time (status, reload), each run as the CLI a user types.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parsePidFile } from '../src/daemon/process-identity.js';
import { namespaceRunDir } from '../src/daemon/rundir.js';
import { defer, killPidSync } from './cleanup.js';
import { mustRun } from './exec.js';
import { SEALTUN_BIN } from './paths.js';
import { tail } from './tunnels/common.js';

/** VmRSS of a process in bytes, or null if it is gone. */
export function rssBytes(pid: number): number | null {
  try {
    const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? null : Number(kb) * 1024;
  } catch {
    return null;
  }
}

/** Seconds `fn` took. */
export async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

export class SealtunDaemon {
  pid = NaN;
  private forget: () => void = () => undefined;

  constructor(
    readonly ns: string,
    readonly name: string,
    private readonly runDir: string,
  ) {}

  cli(args: string[], timeoutMs = 120_000): Promise<string> {
    return mustRun([process.execPath, SEALTUN_BIN, ...args], { ns: this.ns, env: { SEALTUN_RUN_DIR: this.runDir }, timeoutMs });
  }

  /** `sealtun up --daemon CONFIG`; returns its wall time in seconds (it returns once the interface is configured). */
  async up(configPath: string): Promise<number> {
    const seconds = await timed(() => this.cli(['up', '--daemon', configPath], 600_000));
    this.pid = parsePidFile(readFileSync(this.runFile('pid'), 'utf8'))?.pid ?? NaN;
    if (!Number.isInteger(this.pid)) throw new Error(`sealtun ${this.name}: no pid in ${this.runFile('pid')}`);
    const pid = this.pid;
    this.forget = defer(`stop sealtun ${this.name} (pid ${pid})`, () => killPidSync(pid, 3000));
    return seconds;
  }

  /** `sealtun status NAME --json`, parsed; `seconds` is the command's wall time. */
  async status(): Promise<{ seconds: number; json: { peers: unknown[] } }> {
    let text = '';
    const seconds = await timed(async () => (text = await this.cli(['status', this.name, '--json'])));
    const parsed = JSON.parse(text) as { peers: unknown[] } | Array<{ peers: unknown[] }>;
    return { seconds, json: Array.isArray(parsed) ? parsed[0]! : parsed };
  }

  /** `sealtun reload CONFIG`: its wall time and what it printed. */
  async reload(configPath: string): Promise<{ seconds: number; out: string }> {
    let out = '';
    const seconds = await timed(async () => (out = await this.cli(['reload', configPath])));
    return { seconds, out: out.trim() };
  }

  rss(): number | null {
    return rssBytes(this.pid);
  }

  logTail(): string {
    return tail(`sealtun ${this.name}`, this.runFile('log'), 30);
  }

  async down(): Promise<void> {
    await this.cli(['down', this.name]).catch(() => undefined);
    if (Number.isInteger(this.pid)) killPidSync(this.pid, 3000);
    this.forget();
  }

  /** The daemon runs inside its namespace, so its files sit in that namespace's part of the run directory. */
  private runFile(ext: 'pid' | 'log'): string {
    return join(namespaceRunDir(this.runDir, this.ns), `${this.name}.${ext}`);
  }
}
