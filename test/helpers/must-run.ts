// A command run to its end from the test process (npm, make, tar): its
// output, or an Error with all of it when it fails.
import { spawnSync } from 'node:child_process';
import { REPO } from './tunnel-pair.js';

export interface Ran {
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs `cmd` (in this checkout unless `cwd`); throws with its output unless it exits 0. */
export function mustRun(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Ran {
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: opts.cwd ?? REPO, env: opts.env ?? process.env, timeout: 300_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}:\n${r.stderr}${r.stdout}`);
  return { stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0 };
}
